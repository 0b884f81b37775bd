/* SPDX-License-Identifier: MIT */
/*
 * xsockctl discover [--policy FILE] [--once]: domain 0's directory
 * (docs/protocol.md, section 2, "Names and identity"; <xsock/store.h>,
 * "Identity").
 *
 * For every named domain U other than 0, and every other named domain D
 * that the policy lets U reach, domain 0 writes
 *     B(U)/dir/<D> = "name=<D's name> uuid=<D's uuid>[ addr=<a>,...]"
 * owned by domain 0, readable by U only, and removes what no longer holds
 * (domains gone, pairs no longer allowed). D's addresses come from the
 * toolstack's vif configuration (/local/domain/0/backend/vif/<D>/<dev>/ip,
 * written by xl for a vif with ip=...) and from the policy's addr lines.
 * Without --once it then waits for domains to come and go
 * (@introduceDomain, @releaseDomain), for the vif configuration to change,
 * or for SIGHUP (policy edited), and does it again.
 *
 * The policy (default XSOCK_SYSCONFDIR/xsock/policy, or XSOCK_POLICY_FILE):
 *     allow GLOB GLOB          domains whose names match may reach each
 *                              other (both ways); fnmatch(3) globs
 *     addr NAME ADDR[/PREFIX]...
 *                              addresses of domain NAME, besides its vifs'
 * '#' starts a comment. No policy file: nothing is allowed (every
 * directory is emptied), said on stderr.
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/discover.h"
#include "cli/peerfile.h"
#include "conn/identity.h"
#include "conn/registry.h"
#include "platform/platform.h"

#define EXIT_USAGE 2
#define POLICY_LINE_MAX 512
#define PATH_LEN 160
#define TXN_RETRIES 16
#define VIF_BASE "/local/domain/0/backend/vif"

#ifndef XSOCK_SYSCONFDIR
#define XSOCK_SYSCONFDIR "/etc"
#endif
#define POLICY_FILE_DEFAULT XSOCK_SYSCONFDIR "/xsock/policy"

struct rule {
	char a[XSOCK_NAME_MAX + 1], b[XSOCK_NAME_MAX + 1];	/* globs */
};

struct addr_line {
	char name[XSOCK_NAME_MAX + 1];
	unsigned int n;
	struct xs_prefix addrs[XSOCK_DIR_ADDRS_MAX];
};

struct policy {
	struct rule *rules;
	unsigned int nrules;
	struct addr_line *addrs;
	unsigned int naddrs;
};

static void policy_free(struct policy *p)
{
	free(p->rules);
	free(p->addrs);
	memset(p, 0, sizeof(*p));
}

/* A glob: what a name may hold, and * ? [ ] ! for fnmatch. */
static bool glob_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= XSOCK_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-*?[]!") == n;
}

/* One line, split into fields in place; @why on -EINVAL. */
static int policy_line(struct policy *p, char *line, char *why, size_t wlen)
{
	char *f[2 + XSOCK_DIR_ADDRS_MAX + 1], *s, *save = NULL, shown[80];
	unsigned int nf = 0, i;
	void *v;

	s = strchr(line, '#');
	if (s)
		*s = '\0';
	for (s = strtok_r(line, " \t", &save); s && nf < sizeof(f) / sizeof(f[0]);
	     s = strtok_r(NULL, " \t", &save))
		f[nf++] = s;
	if (nf == 0)
		return 0;
	if (strcmp(f[0], "allow") == 0) {
		if (nf != 3) {
			snprintf(why, wlen, "want 'allow GLOB GLOB'");
			return -EINVAL;
		}
		for (i = 1; i < 3; i++)
			if (!glob_ok(f[i])) {
				snprintf(why, wlen, "invalid name pattern '%s'",
					 xs_cli_printable(f[i], shown, sizeof(shown)));
				return -EINVAL;
			}
		v = realloc(p->rules, (p->nrules + 1) * sizeof(*p->rules));
		if (!v)
			return -ENOMEM;
		p->rules = v;
		snprintf(p->rules[p->nrules].a, sizeof(p->rules[0].a), "%s", f[1]);
		snprintf(p->rules[p->nrules].b, sizeof(p->rules[0].b), "%s", f[2]);
		p->nrules++;
		return 0;
	}
	if (strcmp(f[0], "addr") == 0) {
		struct addr_line a;

		if (nf < 3 || nf > 2 + XSOCK_DIR_ADDRS_MAX) {
			snprintf(why, wlen, "want 'addr NAME ADDR[/PREFIX]...' (1..%u addresses)",
				 XSOCK_DIR_ADDRS_MAX);
			return -EINVAL;
		}
		memset(&a, 0, sizeof(a));
		if (!xs_ident_name_ok(f[1], strlen(f[1]))) {
			snprintf(why, wlen, "invalid domain name '%s'",
				 xs_cli_printable(f[1], shown, sizeof(shown)));
			return -EINVAL;
		}
		snprintf(a.name, sizeof(a.name), "%s", f[1]);
		for (i = 2; i < nf; i++)
			if (xs_cli_parse_prefix(f[i], &a.addrs[a.n++], why, wlen) < 0)
				return -EINVAL;
		v = realloc(p->addrs, (p->naddrs + 1) * sizeof(*p->addrs));
		if (!v)
			return -ENOMEM;
		p->addrs = v;
		p->addrs[p->naddrs++] = a;
		return 0;
	}
	snprintf(why, wlen, "unknown keyword '%s' (want allow or addr)",
		 xs_cli_printable(f[0], shown, sizeof(shown)));
	return -EINVAL;
}

/* Read @path; -ENOENT: no file (@p empty); -EINVAL: errors printed. */
static int policy_read(const char *path, struct policy *p)
{
	char line[POLICY_LINE_MAX + 2], why[256];
	unsigned int lineno = 0, nerr = 0;
	FILE *f;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		lineno++;
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		else if (!feof(f)) {
			fprintf(stderr, "xsockctl: %s:%u: line too long\n", path, lineno);
			nerr++;
			break;
		}
		rc = policy_line(p, line, why, sizeof(why));
		if (rc == -ENOMEM)
			break;
		if (rc < 0) {
			fprintf(stderr, "xsockctl: %s:%u: %s\n", path, lineno, why);
			nerr++;
			rc = 0;
		}
	}
	fclose(f);
	if (rc == 0 && nerr)
		rc = -EINVAL;
	if (rc < 0)
		policy_free(p);
	return rc;
}

/* May domains named @x and @y reach each other? */
static bool allowed(const struct policy *p, const char *x, const char *y)
{
	unsigned int i;

	for (i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];

		if ((fnmatch(r->a, x, 0) == 0 && fnmatch(r->b, y, 0) == 0) ||
		    (fnmatch(r->a, y, 0) == 0 && fnmatch(r->b, x, 0) == 0))
			return true;
	}
	return false;
}

static void add_addr(struct xs_ident *id, const struct xs_prefix *a)
{
	unsigned int i;

	for (i = 0; i < id->naddrs; i++)
		if (id->addrs[i].family == a->family && id->addrs[i].plen == a->plen &&
		    memcmp(id->addrs[i].addr, a->addr, sizeof(a->addr)) == 0)
			return;
	if (id->naddrs < XSOCK_DIR_ADDRS_MAX)
		id->addrs[id->naddrs++] = *a;
}

/* The addresses xl wrote for @id's vifs (ip=, space-separated). */
static void vif_addrs(struct xsp_store *st, struct xs_ident *id)
{
	char path[PATH_LEN], **devs = NULL, *val = NULL, *s, *save = NULL;
	unsigned int ndev = 0, i;
	struct xs_prefix a;

	snprintf(path, sizeof(path), VIF_BASE "/%u", (unsigned int)id->dom);
	if (xsp_store_list(st, XSP_TXN_NONE, path, &devs, &ndev) < 0)
		return;
	for (i = 0; i < ndev; i++) {
		snprintf(path, sizeof(path), VIF_BASE "/%u/%s/ip", (unsigned int)id->dom, devs[i]);
		if (xsp_store_read(st, XSP_TXN_NONE, path, &val, NULL) < 0)
			continue;
		for (s = strtok_r(val, " ", &save); s; s = strtok_r(NULL, " ", &save))
			if (xs_prefix_parse(s, &a) == 0)
				add_addr(id, &a);
		free(val);
		val = NULL;
	}
	free(devs);
}

/* Every named domain, with its addresses. */
static int domains_read(struct xsp_store *st, const struct policy *p, struct xs_ident **out,
			unsigned int *n)
{
	char **names = NULL;
	unsigned int nnames = 0, i, j, k;
	struct xs_ident *v;
	xsp_domid_t dom;
	int rc;

	*out = NULL;
	*n = 0;
	rc = xsp_store_list(st, XSP_TXN_NONE, XSOCK_XS_DOMAIN_DIR, &names, &nnames);
	if (rc < 0)
		return rc;
	v = calloc(nnames ? nnames : 1, sizeof(*v));
	if (!v) {
		free(names);
		return -ENOMEM;
	}
	for (i = 0; i < nnames; i++) {
		if (xs_registry_parse_domid(names[i], strlen(names[i]), &dom) < 0 ||
		    xs_ident_of(st, 0, dom, &v[*n]) < 0)
			continue;
		v[*n].naddrs = 0;
		vif_addrs(st, &v[*n]);
		for (j = 0; j < p->naddrs; j++)
			if (strcmp(p->addrs[j].name, v[*n].name) == 0)
				for (k = 0; k < p->addrs[j].n; k++)
					add_addr(&v[*n], &p->addrs[j].addrs[k]);
		(*n)++;
	}
	free(names);
	*out = v;
	return 0;
}

/* Make @path hold @val with perms @pm unless it does; *changed set if written. */
static int put(struct xsp_store *st, xsp_txn_t t, const char *path, const char *val,
	       const struct xsp_perm *pm, unsigned int npm, bool *changed)
{
	struct xsp_perm *old = NULL;
	unsigned int nold = 0, i;
	char *cur = NULL;
	bool same;
	int rc;

	rc = xsp_store_read(st, t, path, &cur, NULL);
	same = rc == 0 && strcmp(cur, val) == 0;
	free(cur);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (same && xsp_store_get_perms(st, t, path, &old, &nold) == 0) {
		same = nold == npm;
		for (i = 0; same && i < npm; i++)
			same = old[i].dom == pm[i].dom && old[i].perm == pm[i].perm;
		free(old);
	}
	if (same)
		return 0;
	rc = xsp_store_write(st, t, path, val, strlen(val));
	if (rc == 0)
		rc = xsp_store_set_perms(st, t, path, pm, npm);
	if (rc == 0)
		*changed = true;
	return rc;
}

struct tally {
	unsigned int entries, added, removed, domains;
};

/* One attempt at B(@u)/dir, in transaction @t. */
static int publish_in(struct xsp_store *st, xsp_txn_t t, const struct xs_ident *u,
		      const struct xs_ident *all, unsigned int n, const struct policy *p,
		      struct tally *tl)
{
	const struct xsp_perm own = { .dom = u->dom, .perm = XSP_PERM_NONE };
	const struct xsp_perm dirp[2] = { { 0, XSP_PERM_NONE }, { u->dom, XSP_PERM_READ } };
	char base[PATH_LEN], dir[PATH_LEN], path[PATH_LEN], val[XSOCK_VALUE_MAX + 1];
	char **names = NULL, *cur = NULL;
	unsigned int nnames = 0, i, j;
	bool changed = false;
	xsp_domid_t d;
	int rc;

	/* B(U) is U's own: make sure of that before we write below it. */
	snprintf(base, sizeof(base), XSOCK_STORE_BASE_FMT, (unsigned int)u->dom);
	rc = xsp_store_read(st, t, base, &cur, NULL);
	free(cur);
	if (rc == -ENOENT) {
		rc = xsp_store_write(st, t, base, "", 0);
		if (rc == 0)
			rc = xsp_store_set_perms(st, t, base, &own, 1);
	}
	if (rc < 0)
		return rc;
	snprintf(dir, sizeof(dir), XSOCK_DIR_DIR_FMT, (unsigned int)u->dom);
	rc = put(st, t, dir, "", dirp, 2, &changed);
	if (rc < 0)
		return rc;
	/* What no longer holds goes. */
	rc = xsp_store_list(st, t, dir, &names, &nnames);
	if (rc < 0)
		return rc;
	for (i = 0; i < nnames; i++) {
		bool keep = false;

		if (xs_registry_parse_domid(names[i], strlen(names[i]), &d) == 0)
			for (j = 0; j < n && !keep; j++)
				keep = all[j].dom == d && d != u->dom &&
				       allowed(p, u->name, all[j].name);
		if (keep || strlen(dir) + strlen(names[i]) + 2 > sizeof(path))
			continue;
		snprintf(path, sizeof(path), "%.80s/%.64s", dir, names[i]);
		rc = xsp_store_rm(st, t, path);
		if (rc < 0 && rc != -ENOENT)
			break;
		rc = 0;
		tl->removed++;
	}
	free(names);
	for (j = 0; rc == 0 && j < n; j++) {
		bool ch = false;

		if (all[j].dom == u->dom || !allowed(p, u->name, all[j].name))
			continue;
		rc = xs_dir_format(&all[j], val, sizeof(val));
		if (rc < 0)
			break;
		snprintf(path, sizeof(path), XSOCK_DIR_PATH_FMT, (unsigned int)u->dom,
			 (unsigned int)all[j].dom);
		rc = put(st, t, path, val, dirp, 2, &ch);
		tl->entries++;
		tl->added += ch;
	}
	return rc;
}

static int publish_to(struct xsp_store *st, const struct xs_ident *u, const struct xs_ident *all,
		      unsigned int n, const struct policy *p, struct tally *tl)
{
	struct tally one;
	unsigned int attempt;
	xsp_txn_t t;
	int rc = -EAGAIN;

	for (attempt = 0; attempt < TXN_RETRIES && rc == -EAGAIN; attempt++) {
		memset(&one, 0, sizeof(one));
		rc = xsp_txn_start(st, &t);
		if (rc < 0)
			return rc;
		rc = publish_in(st, t, u, all, n, p, &one);
		if (rc < 0) {
			xsp_txn_end(st, t, true);
			continue;
		}
		rc = xsp_txn_end(st, t, false);
	}
	if (rc == 0) {
		tl->entries += one.entries;
		tl->added += one.added;
		tl->removed += one.removed;
		tl->domains++;
	}
	return rc;
}

/* One pass over every domain. 0, or an exit status. */
static int pass(struct xsp_store *st, const char *policy_path, bool default_path)
{
	struct xs_ident *all = NULL;
	struct tally tl = { 0 };
	struct policy p;
	unsigned int n = 0, i;
	int rc;

	rc = policy_read(policy_path, &p);
	if (rc == -ENOENT && default_path) {
		fprintf(stderr, "xsockctl: discover: no %s: no domain may reach another\n",
			policy_path);
	} else if (rc == -EINVAL) {
		fprintf(stderr, "xsockctl: discover: %s: nothing changed\n", policy_path);
		return EXIT_FAILURE;
	} else if (rc < 0) {
		fprintf(stderr, "xsockctl: discover: cannot read %s: %s\n", policy_path,
			strerror(-rc));
		return EXIT_FAILURE;
	}
	rc = domains_read(st, &p, &all, &n);
	for (i = 0; rc == 0 && i < n; i++) {
		if (all[i].dom == 0)
			continue;	/* domain 0 reads the toolstack's nodes itself */
		rc = publish_to(st, &all[i], all, n, &p, &tl);
		if (rc < 0)
			fprintf(stderr, "xsockctl: discover: domain %u (%s): %s\n",
				(unsigned int)all[i].dom, all[i].name, strerror(-rc));
	}
	free(all);
	policy_free(&p);
	if (rc < 0) {
		if (n == 0)
			fprintf(stderr, "xsockctl: discover: cannot list the domains: %s\n",
				strerror(-rc));
		return EXIT_FAILURE;
	}
	printf("discover: %u domain%s, %u entr%s (%u written), %u removed\n", tl.domains,
	       tl.domains == 1 ? "" : "s", tl.entries, tl.entries == 1 ? "y" : "ies", tl.added,
	       tl.removed);
	fflush(stdout);
	return 0;
}

static volatile sig_atomic_t got_hup, got_term;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

int cmd_discover(char **argv, int argc)
{
	const char *policy_path = NULL;
	bool named = false;
	struct sigaction sa;
	struct xsp_store *st;
	struct xsp *plat;
	char shown[80], *path, *token;
	bool once = false;
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0) {
			once = true;
		} else if (strcmp(argv[i], "--policy") == 0) {
			if (++i == argc) {
				fprintf(stderr, "xsockctl: discover: --policy needs a FILE\n");
				return EXIT_USAGE;
			}
			policy_path = argv[i];
			named = true;
		} else {
			fprintf(stderr, "xsockctl: discover: unexpected argument '%s'\n",
				xs_cli_printable(argv[i], shown, sizeof(shown)));
			return EXIT_USAGE;
		}
	}
	if (!policy_path) {
		policy_path = getenv("XSOCK_POLICY_FILE");
		named = policy_path && *policy_path;
		if (!named)
			policy_path = POLICY_FILE_DEFAULT;
	}
	rc = xsp_open(&plat);
	if (rc < 0) {
		fprintf(stderr, "xsockctl: discover: cannot open the platform backend: %s\n",
			strerror(-rc));
		return EXIT_FAILURE;
	}
	if (xsp_self_domid(plat) != 0) {
		xsp_close(plat);
		fprintf(stderr, "xsockctl: discover: only domain 0 publishes the directory\n");
		return EXIT_FAILURE;
	}
	rc = xsp_store_open(plat, &st);
	if (rc < 0) {
		xsp_close(plat);
		fprintf(stderr, "xsockctl: discover: cannot open the store: %s\n", strerror(-rc));
		return EXIT_FAILURE;
	}
	if (!once) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		xsp_watch_add(st, XSOCK_XS_INTRODUCE, "dom");
		xsp_watch_add(st, XSOCK_XS_RELEASE, "dom");
		xsp_watch_add(st, VIF_BASE, "vif");
	}
	rc = pass(st, policy_path, !named);
	while (!once && !got_term) {
		struct pollfd pfd = { .fd = xsp_watch_fd(st), .events = POLLIN };
		bool again = false;

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			break;
		while (xsp_watch_read(st, &path, &token) == 0) {
			again = true;
			free(path);
		}
		if (got_hup) {
			got_hup = 0;
			again = true;
		}
		if (again && !got_term)
			rc = pass(st, policy_path, !named);
	}
	xsp_store_close(st);
	xsp_close(plat);
	return rc;
}
