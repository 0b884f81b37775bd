/* SPDX-License-Identifier: MIT */
/*
 * The persistent peers file and the validation the command line shares
 * with it (see peerfile.h for the format and the contract).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/peerfile.h"
#include "conn/identity.h"

#define DOMID_MAX (XSP_DOMID_SELF - 1)	/* 32751: the last non-reserved id */

static const char new_file_header[] =
	"# xsock peers: loaded into this domain's registry by `xsockctl peer load`\n"
	"# (xsock-peers.service at boot) and edited by `xsockctl peer add|del --save`.\n"
	"# One entry per line: ADDR[/PREFIX] DOMAIN (a domain id or name), as\n"
	"# `xsockctl peer add` takes them; '#' starts a comment. See xsockctl(8).\n";

const char *xs_cli_printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 4 < len && i < 64; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7F) ? s[i] : '?';
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

int xs_cli_parse_prefix(const char *arg, struct xs_prefix *out, char *why, size_t len)
{
	char shown[80], addr[XS_PREFIX_STRLEN], hint[XS_PREFIX_STRLEN];
	const char *slash = strchr(arg, '/');
	struct xs_prefix p;
	unsigned long plen;
	unsigned int bits, i;
	char *end;

	if (xs_prefix_parse(arg, out) == 0)
		return 0;
	xs_cli_printable(arg, shown, sizeof(shown));
	if (!slash || (size_t)(slash - arg) >= sizeof(addr))
		goto plain;
	memcpy(addr, arg, (size_t)(slash - arg));
	addr[slash - arg] = '\0';
	if (xs_prefix_parse(addr, &p) < 0)
		goto plain;
	bits = p.family == AF_INET ? 32 : 128;
	if (slash[1] == '0' && slash[2]) {
		snprintf(why, len, "invalid prefix length in '%s' (want 0..%u, no leading zeros)",
			 shown, bits);
		return -EINVAL;
	}
	errno = 0;
	plen = strtoul(slash + 1, &end, 10);
	if (slash[1] < '0' || slash[1] > '9' || errno || *end || plen > bits) {
		snprintf(why, len, "invalid prefix length in '%s' (want 0..%u)", shown, bits);
		return -EINVAL;
	}
	/* Address and length are fine: host bits beyond the prefix are set. */
	for (i = (unsigned int)plen; i < bits; i++)
		p.addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	p.plen = (unsigned int)plen;
	if (xs_prefix_format(&p, hint, sizeof(hint)) == 0) {
		snprintf(why, len, "invalid address '%s': host bits set beyond the prefix "
			 "(did you mean %s?)", shown, hint);
		return -EINVAL;
	}
plain:
	snprintf(why, len, "invalid address '%s'", shown);
	return -EINVAL;
}

int xs_cli_parse_domid(const char *s, xsp_domid_t *out, char *why, size_t len)
{
	char shown[80];

	/* Strict decimal 0..32751: no sign, spaces or leading zeros. */
	if (xs_registry_parse_domid(s, strlen(s), out) == 0)
		return 0;
	snprintf(why, len, "invalid domain id '%s' (want 0..%u)",
		 xs_cli_printable(s, shown, sizeof(shown)), DOMID_MAX);
	return -EINVAL;
}

int xs_cli_parse_domain(const char *s, struct xs_peer *peer, char *why, size_t len)
{
	char shown[80];

	peer->name[0] = '\0';
	/* Digits (or a sign) say an id was meant: say what is wrong with it. */
	if (s[0] == '-' || s[0] == '+' || strspn(s, "0123456789") == strlen(s))
		return xs_cli_parse_domid(s, &peer->dom, why, len);
	if (!xs_ident_name_ok(s, strlen(s))) {
		snprintf(why, len, "invalid domain '%s' (want a domain id 0..%u or a name: "
			 "1..%u of A-Z a-z 0-9 . _ -)", xs_cli_printable(s, shown, sizeof(shown)),
			 DOMID_MAX, XSOCK_NAME_MAX);
		return -EINVAL;
	}
	peer->dom = 0;
	memcpy(peer->name, s, strlen(s) + 1);
	return 0;
}

void xs_peerfile_free(struct xs_peerfile *pf)
{
	unsigned int i;

	for (i = 0; i < pf->n; i++)
		free(pf->lines[i].text);
	free(pf->lines);
	free(pf->raw);
	memset(pf, 0, sizeof(*pf));
}

static int add_line(struct xs_peerfile *pf, const char *text, size_t len)
{
	struct xs_peerfile_line *l;

	if (pf->n == pf->cap) {
		unsigned int cap = pf->cap ? pf->cap * 2 : 16;

		l = realloc(pf->lines, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		pf->lines = l;
		pf->cap = cap;
	}
	l = &pf->lines[pf->n];
	memset(l, 0, sizeof(*l));
	l->text = strndup(text, len);
	if (!l->text)
		return -ENOMEM;
	pf->n++;
	return 0;
}

static bool same_prefix(const struct xs_prefix *a, const struct xs_prefix *b)
{
	return a->family == b->family && a->plen == b->plen &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

int xs_peerfile_find(const struct xs_peerfile *pf, const struct xs_prefix *pfx)
{
	unsigned int i;

	for (i = 0; i < pf->n; i++)
		if (pf->lines[i].entry && same_prefix(&pf->lines[i].peer.prefix, pfx))
			return (int)i;
	return -ENOENT;
}

unsigned int xs_peerfile_count(const struct xs_peerfile *pf)
{
	unsigned int i, n = 0;

	for (i = 0; i < pf->n; i++)
		n += pf->lines[i].entry;
	return n;
}

/*
 * Check one line (NUL-terminated copy at @s, the fields split in place)
 * and fill @l; on -EINVAL @why says what is wrong.
 */
static int parse_line(const struct xs_peerfile *pf, char *s, struct xs_peerfile_line *l,
		      char *why, size_t len)
{
	char shown[80], text[XS_PREFIX_STRLEN];
	char *field[3] = { NULL, NULL, NULL }, *p, *hash;
	unsigned int nf = 0;
	int prev;

	hash = strchr(s, '#');
	if (hash)
		*hash = '\0';
	for (p = s; *p && nf < 3;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		field[nf++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	if (nf == 0)
		return 0;
	if (nf == 1) {
		snprintf(why, len, "missing domain after '%s'",
			 xs_cli_printable(field[0], shown, sizeof(shown)));
		return -EINVAL;
	}
	if (nf > 2) {
		snprintf(why, len, "unexpected '%s' after the domain (want ADDR[/PREFIX] DOMAIN)",
			 xs_cli_printable(field[2], shown, sizeof(shown)));
		return -EINVAL;
	}
	memset(&l->peer, 0, sizeof(l->peer));
	if (xs_cli_parse_prefix(field[0], &l->peer.prefix, why, len) < 0 ||
	    xs_cli_parse_domain(field[1], &l->peer, why, len) < 0)
		return -EINVAL;
	prev = xs_peerfile_find(pf, &l->peer.prefix);
	if (prev >= 0) {
		xs_prefix_format(&l->peer.prefix, text, sizeof(text));
		snprintf(why, len, "a second entry for %s (the first is on line %d)", text,
			 prev + 1);
		return -EINVAL;
	}
	l->entry = true;
	return 0;
}

static void report(FILE *err, unsigned int *nerr, const char *name, unsigned int line,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void report(FILE *err, unsigned int *nerr, const char *name, unsigned int line,
		   const char *fmt, ...)
{
	va_list ap;

	if (++*nerr > XS_PEERFILE_ERRORS_MAX)
		return;
	if (!err)
		return;
	fprintf(err, "xsockctl: %s:%u: ", name, line);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
}

/* A byte a line may hold: printable ASCII, tab, and (in comments) UTF-8. */
static bool byte_ok(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7F);
}

int xs_peerfile_parse(struct xs_peerfile *pf, const char *name, const char *buf,
		      size_t len, FILE *err)
{
	char why[256], copy[XS_PEERFILE_LINE_MAX + 1];
	unsigned int lineno = 0, nerr = 0;
	size_t off = 0, n, i;
	const char *nl;
	int rc;

	while (off < len) {
		lineno++;
		nl = memchr(buf + off, '\n', len - off);
		n = nl ? (size_t)(nl - (buf + off)) : len - off;
		rc = add_line(pf, buf + off, n);
		if (rc < 0)
			return rc;
		for (i = 0; i < n && byte_ok((unsigned char)buf[off + i]); i++)
			;
		if (n > XS_PEERFILE_LINE_MAX) {
			report(err, &nerr, name, lineno, "line too long (%zu bytes, at most %d)", n,
			       XS_PEERFILE_LINE_MAX);
		} else if (i < n) {
			report(err, &nerr, name, lineno, "%s 0x%02x in column %zu",
			       buf[off + i] ? "control character" : "NUL byte",
			       (unsigned int)(unsigned char)buf[off + i], i + 1);
		} else {
			memcpy(copy, buf + off, n);
			copy[n] = '\0';
			if (parse_line(pf, copy, &pf->lines[pf->n - 1], why, sizeof(why)) < 0)
				report(err, &nerr, name, lineno, "%s", why);
		}
		off += n + (nl ? 1 : 0);
	}
	if (nerr > XS_PEERFILE_ERRORS_MAX && err)
		fprintf(err, "xsockctl: %s: %u errors in all (only the first %d shown)\n", name,
			nerr, XS_PEERFILE_ERRORS_MAX);
	if (nerr) {
		for (i = 0; i < pf->n; i++)
			pf->lines[i].entry = false;
		return -EINVAL;
	}
	return 0;
}

int xs_peerfile_read(const char *path, struct xs_peerfile *pf, FILE *err)
{
	struct stat sb;
	size_t got = 0;
	ssize_t r;
	char *buf;
	int fd, rc;

	memset(pf, 0, sizeof(*pf));
	pf->mode = 0644;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		if (rc != -ENOENT && err)
			fprintf(err, "xsockctl: cannot open %s: %s\n", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = -EINVAL;
	if (!S_ISREG(sb.st_mode)) {
		if (err)
			fprintf(err, "xsockctl: %s: not a regular file\n", path);
	} else if (sb.st_size > XS_PEERFILE_SIZE_MAX) {
		if (err)
			fprintf(err, "xsockctl: %s: too big (%lld bytes, at most %d)\n", path,
				(long long)sb.st_size, XS_PEERFILE_SIZE_MAX);
	} else if (sb.st_mode & S_IWOTH) {
		/* The registry is the access rule: not everybody's to write. */
		if (err)
			fprintf(err, "xsockctl: %s: writable by every user, refusing it "
				"(chmod o-w)\n", path);
	} else {
		rc = 0;
	}
	if (rc) {
		close(fd);
		return rc;
	}
	pf->exists = true;
	pf->mode = sb.st_mode & 07777;
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	/* Read to the end: the size may have changed since fstat(). */
	for (;;) {
		r = read(fd, buf + got, (size_t)sb.st_size + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got > (size_t)sb.st_size)
			break;
	}
	rc = r < 0 ? -errno : 0;
	close(fd);
	if (rc == 0 && got > (size_t)sb.st_size)
		rc = -EAGAIN;	/* it grew while we read it */
	if (rc < 0) {
		free(buf);
		if (err)
			fprintf(err, "xsockctl: cannot read %s: %s\n", path, strerror(-rc));
		return rc;
	}
	pf->raw = buf;
	pf->rawlen = got;
	return xs_peerfile_parse(pf, path, buf, got, err);
}

int xs_peerfile_set(struct xs_peerfile *pf, const struct xs_peer *peer)
{
	char text[XS_PREFIX_STRLEN], line[XS_PEERFILE_LINE_MAX + XS_PREFIX_STRLEN + 16];
	const char *comment = "";
	struct xs_peerfile_line *l;
	char *dup;
	int i, rc;

	rc = xs_prefix_format(&peer->prefix, text, sizeof(text));
	if (rc < 0)
		return rc;
	i = xs_peerfile_find(pf, &peer->prefix);
	if (i >= 0 && strchr(pf->lines[i].text, '#'))
		comment = strchr(pf->lines[i].text, '#');
	/* A named entry is saved by its name: the id is only its last resolution. */
	if (peer->name[0])
		snprintf(line, sizeof(line), "%s %s%s%s", text, peer->name, *comment ? " " : "",
			 comment);
	else
		snprintf(line, sizeof(line), "%s %u%s%s", text, (unsigned int)peer->dom,
			 *comment ? " " : "", comment);
	if (i < 0) {
		rc = add_line(pf, line, strlen(line));
		if (rc < 0)
			return rc;
		l = &pf->lines[pf->n - 1];
	} else {
		dup = strdup(line);
		if (!dup)
			return -ENOMEM;
		l = &pf->lines[i];
		free(l->text);
		l->text = dup;
	}
	l->entry = true;
	l->peer = *peer;
	return 0;
}

int xs_peerfile_remove(struct xs_peerfile *pf, const struct xs_prefix *pfx)
{
	int i = xs_peerfile_find(pf, pfx);

	if (i < 0)
		return i;
	free(pf->lines[i].text);
	memmove(&pf->lines[i], &pf->lines[i + 1],
		(pf->n - (unsigned int)i - 1) * sizeof(pf->lines[0]));
	pf->n--;
	return 0;
}

/* Create @dir (0755) and any missing parents. */
static int mkdir_p(char *dir)
{
	char *p;

	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The directory part of @path, created (0755, with parents) if missing. */
static int parent_dir(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(dir, len, ".");
		return 0;
	}
	if ((size_t)(slash - path) + 1 >= len)
		return -ENAMETOOLONG;
	if (slash == path) {
		snprintf(dir, len, "/");
		return 0;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return mkdir_p(dir);
}

int xs_peerfile_lock(const char *path)
{
	char dir[4096];
	int fd, rc;

	rc = parent_dir(path, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			close(fd);
			return rc;
		}
	}
	return fd;
}

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t w;

	while (len) {
		w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Replace @path by @len bytes at @buf, atomically, with @mode. */
static int replace_file(const char *path, const char *buf, size_t len, unsigned int mode)
{
	char dir[4096], tmp[4096 + 16];
	int fd, dfd, rc;

	rc = parent_dir(path, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = fchmod(fd, mode) < 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fd, buf, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int xs_peerfile_write(const struct xs_peerfile *pf, const char *path)
{
	size_t len = 0, off = 0, l;
	unsigned int i;
	char *buf;
	int rc;

	if (!pf->exists)
		len += strlen(new_file_header);
	for (i = 0; i < pf->n; i++)
		len += strlen(pf->lines[i].text) + 1;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	if (!pf->exists) {
		memcpy(buf, new_file_header, strlen(new_file_header));
		off = strlen(new_file_header);
	}
	for (i = 0; i < pf->n; i++) {
		l = strlen(pf->lines[i].text);
		memcpy(buf + off, pf->lines[i].text, l);
		off += l;
		buf[off++] = '\n';
	}
	rc = replace_file(path, buf, off, pf->mode);
	free(buf);
	return rc;
}

int xs_peerfile_restore(const struct xs_peerfile *pf, const char *path)
{
	if (!pf->exists)
		return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	return replace_file(path, pf->raw ? pf->raw : "", pf->rawlen, pf->mode);
}
