/* SPDX-License-Identifier: MIT */
/*
 * xsockctl setup [--group NAME] [--backend xen|local] [--root DIR]
 *
 * Who may use rings in a domain (docs/protocol.md, "Who may use rings"):
 * root, and the members of one group (default "xsock") once the
 * administrator ran this. It creates the group if it is missing, then
 *
 *   local: makes XSOCK_LOCAL_DIR (default /dev/shm/xsock) root:GROUP 2770
 *          and everything already below it GROUP-owned, files and FIFOs
 *          0660, directories 2770 (the backend keeps those modes for what
 *          it creates below a setgid directory); for the default directory
 *          it also writes /etc/tmpfiles.d/xsock.conf, which recreates it so
 *          at boot;
 *   xen:   makes /dev/xen/gntdev, gntalloc, evtchn and xenbus root:GROUP
 *          0660 (the only permissions it changes; each is printed with its
 *          mode before and after), and writes
 *          /etc/udev/rules.d/90-xsock.rules, which does the same whenever
 *          the devices appear.
 *
 * --root DIR prefixes every path it touches (packaging, tests). Needs
 * root. Each change is one line on stdout; a failure one line on stderr.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/setup.h"

#define DEFAULT_GROUP "xsock"
#define DEFAULT_LOCAL_DIR "/dev/shm/xsock"

static const char *const xen_devices[] = { "gntdev", "gntalloc", "evtchn", "xenbus" };

static int fail(const char *what, const char *path, int err)
{
	fprintf(stderr, "xsockctl: setup: %s %s: %s\n", what, path, strerror(err));
	return EXIT_FAILURE;
}

static int usage(const char *msg, const char *arg)
{
	fprintf(stderr, "xsockctl: setup: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	return 2;
}

/* A POSIX-portable group name, as groupadd takes it. */
static bool group_name_ok(const char *s)
{
	size_t i;

	if (!*s || strlen(s) > 32 || s[0] == '-')
		return false;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* The group's id, created as a system group when missing. 0 or -errno. */
static int ensure_group(const char *name, gid_t *gid)
{
	struct group *g = getgrnam(name);
	int status;
	pid_t pid;

	if (g) {
		*gid = g->gr_gid;
		printf("group %s: gid %u\n", name, (unsigned int)*gid);
		return 0;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("groupadd", "groupadd", "--system", name, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EIO;
	g = getgrnam(name);
	if (!g)
		return -ENOENT;
	*gid = g->gr_gid;
	printf("group %s: created, gid %u\n", name, (unsigned int)*gid);
	return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	char *c;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (c = buf + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*c = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Write @text to @path (its directory made), mode 0644. 0 or -errno. */
static int write_file(const char *path, const char *text)
{
	char dir[PATH_MAX], *slash;
	size_t len = strlen(text);
	int fd, rc = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		rc = mkdir_p(dir, 0755);
		if (rc < 0)
			return rc;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* nftw() has no argument for its callback. */
static gid_t walk_gid;
static unsigned long walk_n;
static int walk_err;

static int share_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	mode_t want;

	(void)ftw;
	if (type == FTW_SL || type == FTW_SLN)
		return 0;	/* the backend makes none; never follow one */
	if (type == FTW_NS || type == FTW_DNR) {
		walk_err = EACCES;
		return 0;
	}
	want = S_ISDIR(st->st_mode) ? 02770 : 0660;
	if (st->st_gid != walk_gid && lchown(path, (uid_t)-1, walk_gid) < 0 && errno != ENOENT)
		walk_err = errno;
	/* chown() clears setgid: set the mode after it. */
	if (chmod(path, want) < 0 && errno != ENOENT)
		walk_err = errno;
	walk_n++;
	return 0;
}

static int setup_local(const char *root, const char *group, gid_t gid)
{
	const char *dir = getenv("XSOCK_LOCAL_DIR");
	char path[PATH_MAX], conf[256];
	bool dflt;
	int rc;

	if (!dir || !*dir)
		dir = DEFAULT_LOCAL_DIR;
	if (dir[0] != '/')
		return usage("XSOCK_LOCAL_DIR must be an absolute path, not", dir);
	dflt = strcmp(dir, DEFAULT_LOCAL_DIR) == 0;
	if (snprintf(path, sizeof(path), "%s%s", root, dir) >= (int)sizeof(path))
		return fail("cannot use", dir, ENAMETOOLONG);
	rc = mkdir_p(path, 02770);
	if (rc < 0)
		return fail("cannot create", path, -rc);
	/* The top belongs to root: the backend trusts root's or its own. */
	if (chown(path, 0, gid) < 0)
		return fail("cannot chown", path, errno);
	walk_gid = gid;
	walk_n = 0;
	walk_err = 0;
	if (nftw(path, share_one, 16, FTW_PHYS | FTW_MOUNT) < 0)
		return fail("cannot walk", path, errno);
	if (walk_err)
		return fail("cannot share what is below", path, walk_err);
	printf("local: %s: root:%s 2770 (setgid: the backend creates files 0660 and "
	       "directories 2770 below it), %lu entr%s made %s-shared\n", path, group,
	       walk_n - 1, walk_n - 1 == 1 ? "y" : "ies", group);
	if (!dflt)
		return EXIT_SUCCESS;
	snprintf(conf, sizeof(conf), "# xsock: the local backend's directory (xsockctl setup)\n"
		 "d %s 2770 root %s -\n", DEFAULT_LOCAL_DIR, group);
	snprintf(path, sizeof(path), "%s/etc/tmpfiles.d/xsock.conf", root);
	rc = write_file(path, conf);
	if (rc < 0)
		return fail("cannot write", path, -rc);
	printf("local: wrote %s (recreates %s at boot)\n", path, DEFAULT_LOCAL_DIR);
	return EXIT_SUCCESS;
}

static void mode_str(const struct stat *st, char *buf, size_t len)
{
	struct group *g = getgrgid(st->st_gid);

	if (g)
		snprintf(buf, len, "uid %u group %s %04o", (unsigned int)st->st_uid, g->gr_name,
			 (unsigned int)(st->st_mode & 07777));
	else
		snprintf(buf, len, "uid %u gid %u %04o", (unsigned int)st->st_uid,
			 (unsigned int)st->st_gid, (unsigned int)(st->st_mode & 07777));
}

static int setup_xen(const char *root, const char *group, gid_t gid)
{
	char path[PATH_MAX], rules[1024], before[96], after[96];
	struct stat st;
	unsigned int i;
	int rc;

	for (i = 0; i < sizeof(xen_devices) / sizeof(xen_devices[0]); i++) {
		snprintf(path, sizeof(path), "%s/dev/xen/%s", root, xen_devices[i]);
		if (stat(path, &st) < 0) {
			printf("xen: %s: %s, not changed\n", path, strerror(errno));
			continue;
		}
		mode_str(&st, before, sizeof(before));
		if (chown(path, (uid_t)-1, gid) < 0)
			return fail("cannot chown", path, errno);
		if (chmod(path, 0660) < 0)
			return fail("cannot chmod", path, errno);
		if (stat(path, &st) < 0)
			return fail("cannot stat", path, errno);
		mode_str(&st, after, sizeof(after));
		printf("xen: %s: %s -> %s\n", path, before, after);
	}
	snprintf(rules, sizeof(rules),
		 "# xsock: members of group %s may use rings (xsockctl setup; xsock(7))\n"
		 "SUBSYSTEM==\"misc\", KERNEL==\"gntdev|gntalloc|evtchn|xenbus\", "
		 "GROUP=\"%s\", MODE=\"0660\"\n"
		 "KERNEL==\"gntdev|gntalloc|evtchn|xenbus\", SUBSYSTEM==\"xen\", "
		 "GROUP=\"%s\", MODE=\"0660\"\n", group, group, group);
	snprintf(path, sizeof(path), "%s/etc/udev/rules.d/90-xsock.rules", root);
	rc = write_file(path, rules);
	if (rc < 0)
		return fail("cannot write", path, -rc);
	printf("xen: wrote %s (the same modes whenever the devices appear)\n", path);
	return EXIT_SUCCESS;
}

int cmd_setup(char **argv, int argc)
{
	const char *group = DEFAULT_GROUP, *backend = getenv("XSOCK_BACKEND"), *root = "";
	char probe[PATH_MAX];
	gid_t gid = 0;
	int i, rc;

	for (i = 0; i < argc; i++) {
		const char *opt = argv[i];

		if (i + 1 >= argc && (strcmp(opt, "--group") == 0 ||
				      strcmp(opt, "--backend") == 0 || strcmp(opt, "--root") == 0))
			return usage("missing value after", opt);
		if (strcmp(opt, "--group") == 0)
			group = argv[++i];
		else if (strcmp(opt, "--backend") == 0)
			backend = argv[++i];
		else if (strcmp(opt, "--root") == 0)
			root = argv[++i];
		else
			return usage("unexpected argument", opt);
	}
	if (!group_name_ok(group))
		return usage("invalid group name (want [a-z0-9_-], at most 32):", group);
	if (*root && root[0] != '/')
		return usage("--root must be an absolute path, not", root);
	if (strcmp(root, "/") == 0)
		root = "";
	snprintf(probe, sizeof(probe), "%s/dev/xen/gntdev", root);
	if (!backend || !*backend)
		backend = access(probe, F_OK) == 0 ? "xen" : "local";
	if (strcmp(backend, "xen") != 0 && strcmp(backend, "local") != 0)
		return usage("unknown backend (want xen or local):", backend);
	if (geteuid() != 0) {
		fprintf(stderr, "xsockctl: setup: must be run as root\n");
		return EXIT_FAILURE;
	}
	rc = ensure_group(group, &gid);
	if (rc < 0)
		return fail("cannot find or create group", group, -rc);
	if (strcmp(backend, "xen") == 0)
		return setup_xen(root, group, gid);
	return setup_local(root, group, gid);
}
