/* SPDX-License-Identifier: MIT */
/*
 * The local backend's store: basics, errno values, permissions across
 * domains (separate handles and fork()ed processes with their own
 * XSOCK_DOMID), transactions (atomicity, conflicts, quota across
 * processes), watches (latency, permission filtering, overflow), quotas,
 * stale state of SIGKILLed processes and leaks.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "platform/platform.h"
#include "testutil.h"

static const char *dir;

static void setup(void)
{
	dir = tu_fresh_local_dir();
	setenv("XSOCK_DOMID", "0", 1);
	unsetenv("XSOCK_STORE_NODE_QUOTA");
}

static void teardown(void)
{
	tu_rm_rf(dir);
}

/* Open the local backend and a store handle as domain @dom. */
static struct xsp_store *open_dom(unsigned int dom, struct xsp **pp)
{
	struct xsp_store *st;
	struct xsp *p;
	char b[16];

	snprintf(b, sizeof(b), "%u", dom);
	setenv("XSOCK_DOMID", b, 1);
	if (xsp_open_backend("local", &p) < 0)
		return NULL;
	if (xsp_store_open(p, &st) < 0) {
		xsp_close(p);
		return NULL;
	}
	*pp = p;
	return st;
}

static void close_dom(struct xsp_store *st, struct xsp *p)
{
	xsp_store_close(st);
	xsp_close(p);
}

static struct xsp_store *must_open(unsigned int dom, struct xsp **pp)
{
	struct xsp_store *st = open_dom(dom, pp);

	ck_assert_ptr_nonnull(st);
	return st;
}

static int wr(struct xsp_store *st, xsp_txn_t t, const char *path, const char *v)
{
	return xsp_store_write(st, t, path, v, strlen(v));
}

/* Read @path and compare with @want; returns the read's rc. */
static int rd_eq(struct xsp_store *st, xsp_txn_t t, const char *path, const char *want)
{
	char *v;
	size_t len;
	int rc = xsp_store_read(st, t, path, &v, &len);

	if (rc < 0)
		return rc;
	rc = (len == strlen(want) && !strcmp(v, want)) ? 0 : 1;
	free(v);
	return rc;
}

static long read_long(struct xsp_store *st, xsp_txn_t t, const char *path, int *rc)
{
	char *v;
	size_t len;
	long n;

	*rc = xsp_store_read(st, t, path, &v, &len);
	if (*rc < 0)
		return -1;
	n = strtol(v, NULL, 10);
	free(v);
	return n;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int poll_in(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms);
}

/* Take one event; 0 and fills path/token copies, or the error. */
static int take(struct xsp_store *st, char *path, size_t psz, char *tok, size_t tsz)
{
	char *p, *t;
	int rc = xsp_watch_read(st, &p, &t);

	if (rc < 0)
		return rc;
	snprintf(path, psz, "%s", p);
	snprintf(tok, tsz, "%s", t);
	free(p);
	return 0;
}

static int drain(struct xsp_store *st)
{
	char p[4096], t[1024];
	int n = 0;

	while (take(st, p, sizeof(p), t, sizeof(t)) == 0)
		n++;
	return n;
}

/* Run @fn as domain @dom in a forked child; returns its pid. */
typedef int (*child_fn)(struct xsp_store *st, void *arg);

static pid_t spawn(unsigned int dom, child_fn fn, void *arg)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct xsp_store *st;
		struct xsp *p;
		int rc;

		st = open_dom(dom, &p);
		if (!st)
			_exit(100);
		rc = fn(st, arg);
		close_dom(st, p);
		_exit(rc);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Number of node directories below (and including) @path in the tree. */
static int count_nodes(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char sub[4096];
	int n = 1;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		n += count_nodes(sub);
	}
	closedir(d);
	return n;
}

static int count_sub(const char *sub)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	return tu_count_entries(path);
}

/* ---- basics ------------------------------------------------------------------ */

START_TEST(test_bootstrap)
{
	struct xsp_perm *pm;
	struct xsp_store *st;
	struct xsp *p;
	unsigned int n;
	char **names;

	st = must_open(5, &p);
	ck_assert_int_eq(xsp_store_get_perms(st, 0, "/local/domain/5", &pm, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(pm[0].dom, 5);
	ck_assert_uint_eq(pm[0].perm, XSP_PERM_NONE);
	free(pm);
	ck_assert_int_eq(xsp_store_get_perms(st, 0, "/local/domain/5/data", &pm, &n), 0);
	ck_assert_uint_eq(pm[0].dom, 5);
	free(pm);
	ck_assert_int_eq(xsp_store_get_perms(st, 0, "/", &pm, &n), 0);
	ck_assert_uint_eq(pm[0].dom, 0);
	ck_assert_uint_eq(pm[0].perm, XSP_PERM_READ);
	free(pm);
	ck_assert_int_eq(xsp_store_list(st, 0, "/local/domain", &names, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(names[0], "5");
	free(names);
	/* A domain may write below its home, not elsewhere. */
	ck_assert_int_eq(wr(st, 0, "/local/domain/5/data/x", "1"), 0);
	ck_assert_int_eq(wr(st, 0, "/local/domain/5/y", "1"), 0);
	ck_assert_int_eq(wr(st, 0, "/local/x", "1"), -EACCES);
	ck_assert_int_eq(wr(st, 0, "/top", "1"), -EACCES);
	/* Re-opening keeps what exists. */
	close_dom(st, p);
	st = must_open(5, &p);
	ck_assert_int_eq(rd_eq(st, 0, "/local/domain/5/data/x", "1"), 0);
	close_dom(st, p);
}
END_TEST

START_TEST(test_read_write_basic)
{
	char big[XSP_STORE_VALUE_MAX + 1], *v;
	const char bin[] = { 'a', 0, 'b', (char)0xff };
	struct xsp_store *st;
	struct xsp *p;
	size_t len;

	st = must_open(0, &p);
	ck_assert_int_eq(wr(st, 0, "/t", "hello"), 0);
	ck_assert_int_eq(rd_eq(st, 0, "/t", "hello"), 0);
	ck_assert_int_eq(wr(st, 0, "/t", "x"), 0);
	ck_assert_int_eq(rd_eq(st, 0, "/t", "x"), 0);
	ck_assert_int_eq(xsp_store_write(st, 0, "/t", bin, sizeof(bin)), 0);
	ck_assert_int_eq(xsp_store_read(st, 0, "/t", &v, &len), 0);
	ck_assert_uint_eq(len, sizeof(bin));
	ck_assert_int_eq(memcmp(v, bin, sizeof(bin)), 0);
	ck_assert_int_eq(v[len], 0);
	free(v);
	ck_assert_int_eq(xsp_store_write(st, 0, "/t", "", 0), 0);
	ck_assert_int_eq(xsp_store_read(st, 0, "/t", &v, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(v, "");
	free(v);
	memset(big, 'z', sizeof(big));
	ck_assert_int_eq(xsp_store_write(st, 0, "/big", big, XSP_STORE_VALUE_MAX), 0);
	ck_assert_int_eq(xsp_store_read(st, 0, "/big", &v, &len), 0);
	ck_assert_uint_eq(len, XSP_STORE_VALUE_MAX);
	ck_assert_int_eq(memcmp(v, big, len), 0);
	free(v);
	ck_assert_int_eq(xsp_store_write(st, 0, "/big", big, XSP_STORE_VALUE_MAX + 1), -EINVAL);
	ck_assert_int_eq(xsp_store_read(st, 0, "/nope", &v, &len), -ENOENT);
	ck_assert_ptr_null(v);
	close_dom(st, p);
}
END_TEST

START_TEST(test_nested_create_and_list)
{
	struct xsp_store *st;
	struct xsp *p;
	unsigned int n;
	char **names;

	st = must_open(0, &p);
	ck_assert_int_eq(wr(st, 0, "/a/b/c", "v"), 0);
	ck_assert_int_eq(rd_eq(st, 0, "/a", ""), 0);
	ck_assert_int_eq(rd_eq(st, 0, "/a/b", ""), 0);
	ck_assert_int_eq(rd_eq(st, 0, "/a/b/c", "v"), 0);
	ck_assert_int_eq(wr(st, 0, "/a/zeta", "1"), 0);
	ck_assert_int_eq(wr(st, 0, "/a/alpha", "1"), 0);
	ck_assert_int_eq(wr(st, 0, "/a/Mid-_@", "1"), 0);
	ck_assert_int_eq(xsp_store_list(st, 0, "/a", &names, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(names[0], "Mid-_@");
	ck_assert_str_eq(names[1], "alpha");
	ck_assert_str_eq(names[2], "b");
	ck_assert_str_eq(names[3], "zeta");
	free(names);	/* one block */
	ck_assert_int_eq(xsp_store_list(st, 0, "/a/b/c", &names, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(names);
	ck_assert_int_eq(xsp_store_list(st, 0, "/nope", &names, &n), -ENOENT);
	close_dom(st, p);
}
END_TEST

START_TEST(test_rm_recursive)
{
	struct xsp_store *st;
	struct xsp *p;
	unsigned int n;
	char **names;
	char *v;

	st = must_open(0, &p);
	ck_assert_int_eq(wr(st, 0, "/r/a/b/c", "1"), 0);
	ck_assert_int_eq(wr(st, 0, "/r/a/d", "1"), 0);
	ck_assert_int_eq(wr(st, 0, "/r/e", "1"), 0);
	ck_assert_int_eq(xsp_store_rm(st, 0, "/r/a"), 0);
	ck_assert_int_eq(xsp_store_read(st, 0, "/r/a/b/c", &v, NULL), -ENOENT);
	ck_assert_int_eq(xsp_store_read(st, 0, "/r/a", &v, NULL), -ENOENT);
	ck_assert_int_eq(xsp_store_list(st, 0, "/r", &names, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(names[0], "e");
	free(names);
	ck_assert_int_eq(xsp_store_rm(st, 0, "/r/a"), -ENOENT);
	ck_assert_int_eq(xsp_store_rm(st, 0, "/"), -EINVAL);
	ck_assert_int_eq(xsp_store_rm(st, 0, "/r"), 0);
	close_dom(st, p);
}
END_TEST

START_TEST(test_invalid_paths)
{
	static const char *const bad[] = {
		"", "a", "/a/", "/a//b", "/a b", "/a.b", "/..", "/a/../b", "/\xc3\xa9",
	};
	struct xsp_store *st;
	struct xsp *p;
	unsigned int i, n;
	char **names;
	char *v;

	st = must_open(0, &p);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(xsp_store_read(st, 0, bad[i], &v, NULL), -EINVAL);
		ck_assert_int_eq(wr(st, 0, bad[i], "x"), -EINVAL);
		ck_assert_int_eq(xsp_store_rm(st, 0, bad[i]), -EINVAL);
		ck_assert_int_eq(xsp_store_list(st, 0, bad[i], &names, &n), -EINVAL);
	}
	ck_assert_int_eq(xsp_txn_end(st, 12345, false), -ENOENT);
	ck_assert_int_eq(wr(st, 12345, "/x", "1"), -ENOENT);
	close_dom(st, p);
}
END_TEST

/* ---- permissions -------------------------------------------------------------- */

static int child_denied(struct xsp_store *st, void *arg)
{
	struct xsp_perm perm = { 2, XSP_PERM_BOTH }, *pm;
	unsigned int n;
	char **names;
	char *v;

	(void)arg;
	if (xsp_store_read(st, 0, "/local/domain/1/data/x", &v, NULL) != -EACCES)
		return 1;
	if (wr(st, 0, "/local/domain/1/data/x", "evil") != -EACCES)
		return 2;
	if (wr(st, 0, "/local/domain/1/data/x/sub", "evil") != -EACCES)
		return 3;
	if (xsp_store_rm(st, 0, "/local/domain/1/data/x") != -EACCES)
		return 4;
	if (xsp_store_list(st, 0, "/local/domain/1/data", &names, &n) != -EACCES)
		return 5;
	if (xsp_store_get_perms(st, 0, "/local/domain/1/data/x", &pm, &n) != -EACCES)
		return 6;
	if (xsp_store_set_perms(st, 0, "/local/domain/1/data/x", &perm, 1) != -EACCES)
		return 7;
	return 0;
}

static int child_reader(struct xsp_store *st, void *arg)
{
	if (rd_eq(st, 0, "/local/domain/1/data/x", "secret") != 0)
		return 1;
	return wr(st, 0, "/local/domain/1/data/x", "w") == (arg ? 0 : -EACCES) ? 0 : 2;
}

static int child_dom0(struct xsp_store *st, void *arg)
{
	struct xsp_perm perm = { 7, XSP_PERM_READ };

	(void)arg;
	if (rd_eq(st, 0, "/local/domain/1/data/x", "secret") != 0)
		return 1;
	if (wr(st, 0, "/local/domain/1/data/x", "secret") != 0)
		return 2;
	if (xsp_store_set_perms(st, 0, "/local/domain/1/data/y", &perm, 1) != 0)
		return 3;
	return xsp_store_rm(st, 0, "/local/domain/1/data/z") == 0 ? 0 : 4;
}

START_TEST(test_perms_across_processes)
{
	struct xsp_perm pm[2] = { { 1, XSP_PERM_NONE }, { 2, XSP_PERM_READ } };
	struct xsp_store *st;
	struct xsp *p;

	st = must_open(1, &p);
	ck_assert_int_eq(wr(st, 0, "/local/domain/1/data/x", "secret"), 0);
	ck_assert_int_eq(wr(st, 0, "/local/domain/1/data/y", "1"), 0);
	ck_assert_int_eq(wr(st, 0, "/local/domain/1/data/z", "1"), 0);
	ck_assert_int_eq(wait_status(spawn(2, child_denied, NULL)), 0);
	ck_assert_int_eq(wait_status(spawn(0, child_dom0, NULL)), 0);
	/* r2 entry: domain 2 reads but may not write; domain 3 still nothing */
	ck_assert_int_eq(xsp_store_set_perms(st, 0, "/local/domain/1/data/x", pm, 2), 0);
	ck_assert_int_eq(wait_status(spawn(2, child_reader, NULL)), 0);
	ck_assert_int_eq(wait_status(spawn(3, child_denied, NULL)), 0);
	/* b2: domain 2 may write too */
	pm[1].perm = XSP_PERM_BOTH;
	ck_assert_int_eq(xsp_store_set_perms(st, 0, "/local/domain/1/data/x", pm, 2), 0);
	ck_assert_int_eq(wait_status(spawn(2, child_reader, (void *)1)), 0);
	ck_assert_int_eq(rd_eq(st, 0, "/local/domain/1/data/x", "w"), 0);
	close_dom(st, p);
}
END_TEST

START_TEST(test_set_perms_rules)
{
	struct xsp_perm pm[2] = { { 1, XSP_PERM_NONE }, { 2, XSP_PERM_BOTH } }, give = { 2, 0 };
	struct xsp_store *s0, *s1, *s2;
	struct xsp *p0, *p1, *p2;
	struct xsp_perm *got;
	unsigned int n;

	s0 = must_open(0, &p0);
	s1 = must_open(1, &p1);
	s2 = must_open(2, &p2);
	ck_assert_int_eq(wr(s1, 0, "/local/domain/1/data/x", "1"), 0);
	ck_assert_int_eq(xsp_store_set_perms(s1, 0, "/local/domain/1/data/x", pm, 2), 0);
	/* b2 lets domain 2 write, but not change permissions */
	ck_assert_int_eq(wr(s2, 0, "/local/domain/1/data/x", "2"), 0);
	ck_assert_int_eq(xsp_store_set_perms(s2, 0, "/local/domain/1/data/x", pm, 2), -EACCES);
	/* the owner may not give the node away; domain 0 may */
	ck_assert_int_eq(xsp_store_set_perms(s1, 0, "/local/domain/1/data/x", &give, 1),
			 -EACCES);
	ck_assert_int_eq(xsp_store_set_perms(s0, 0, "/local/domain/1/data/x", &give, 1), 0);
	ck_assert_int_eq(xsp_store_get_perms(s2, 0, "/local/domain/1/data/x", &got, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(got[0].dom, 2);
	free(got);
	/* domain 1 is no longer listed: "n2" gives it nothing */
	ck_assert_int_eq(rd_eq(s1, 0, "/local/domain/1/data/x", "2"), -EACCES);
	ck_assert_int_eq(xsp_store_set_perms(s0, 0, "/nope", pm, 2), -ENOENT);
	ck_assert_int_eq(xsp_store_set_perms(s0, 0, "/local", pm, 0), -EINVAL);
	close_dom(s0, p0);
	close_dom(s1, p1);
	close_dom(s2, p2);
}
END_TEST

START_TEST(test_perms_inheritance)
{
	struct xsp_perm pm[3] = { { 1, XSP_PERM_NONE }, { 2, XSP_PERM_BOTH },
				  { 3, XSP_PERM_READ } };
	struct xsp_store *s1, *s2, *s3;
	struct xsp *p1, *p2, *p3;
	struct xsp_perm *got;
	unsigned int n;

	s1 = must_open(1, &p1);
	s2 = must_open(2, &p2);
	s3 = must_open(3, &p3);
	ck_assert_int_eq(wr(s1, 0, "/local/domain/1/data/shared", ""), 0);
	ck_assert_int_eq(xsp_store_set_perms(s1, 0, "/local/domain/1/data/shared", pm, 3), 0);
	/* domain 2 creates two levels below; both inherit, owned by 2 */
	ck_assert_int_eq(wr(s2, 0, "/local/domain/1/data/shared/a/b", "v"), 0);
	ck_assert_int_eq(xsp_store_get_perms(s2, 0, "/local/domain/1/data/shared/a", &got, &n),
			 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(got[0].dom, 2);
	ck_assert_uint_eq(got[0].perm, XSP_PERM_NONE);
	ck_assert_uint_eq(got[1].dom, 2);
	ck_assert_uint_eq(got[2].dom, 3);
	ck_assert_uint_eq(got[2].perm, XSP_PERM_READ);
	free(got);
	ck_assert_int_eq(rd_eq(s3, 0, "/local/domain/1/data/shared/a/b", "v"), 0);
	ck_assert_int_eq(wr(s3, 0, "/local/domain/1/data/shared/a/c", "v"), -EACCES);
	/* domain 1 is not listed in the inherited entries any more */
	ck_assert_int_eq(rd_eq(s1, 0, "/local/domain/1/data/shared/a/b", "v"), -EACCES);
	/* without WRITE on the nearest existing ancestor nothing is created */
	ck_assert_int_eq(wr(s3, 0, "/local/domain/1/data/shared/q/r/s", "v"), -EACCES);
	ck_assert_int_eq(rd_eq(s2, 0, "/local/domain/1/data/shared/q", ""), -ENOENT);
	close_dom(s1, p1);
	close_dom(s2, p2);
	close_dom(s3, p3);
}
END_TEST

START_TEST(test_malformed_files)
{
	struct xsp_store *s0, *s1;
	struct xsp *p0, *p1;
	struct xsp_perm *got;
	char path[512];
	unsigned int n;
	int fd;

	s0 = must_open(0, &p0);
	s1 = must_open(1, &p1);
	ck_assert_int_eq(wr(s1, 0, "/local/domain/1/data/g", "val"), 0);
	snprintf(path, sizeof(path), "%s/store/local/domain/1/data/g/.p", dir);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "q9 \xff garbage", 11), 11);
	close(fd);
	/* garbage permissions: owner 0, no access */
	ck_assert_int_eq(rd_eq(s1, 0, "/local/domain/1/data/g", "val"), -EACCES);
	ck_assert_int_eq(xsp_store_get_perms(s0, 0, "/local/domain/1/data/g", &got, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(got[0].dom, 0);
	ck_assert_uint_eq(got[0].perm, XSP_PERM_NONE);
	free(got);
	/* missing value: empty */
	snprintf(path, sizeof(path), "%s/store/local/domain/1/data/g/.v", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rd_eq(s0, 0, "/local/domain/1/data/g", ""), 0);
	/* a stray file where a node should be is not a node */
	snprintf(path, sizeof(path), "%s/store/local/domain/1/data/junk", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(rd_eq(s0, 0, "/local/domain/1/data/junk", ""), -ENOENT);
	/* garbage in the lock/log file: transactions still work */
	snprintf(path, sizeof(path), "%s/store.lock", dir);
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(write(fd, "garbage garbage garbage garbage!", 32), 32);
	close(fd);
	ck_assert_int_eq(wr(s0, 0, "/after", "1"), 0);
	ck_assert_int_eq(rd_eq(s0, 0, "/after", "1"), 0);
	close_dom(s0, p0);
	close_dom(s1, p1);
}
END_TEST

/* ---- transactions ------------------------------------------------------------- */

START_TEST(test_txn_commit_atomic)
{
	struct xsp_store *a, *b;
	struct xsp *pa, *pb;
	char path[64], tok[64];
	xsp_txn_t t;

	a = must_open(0, &pa);
	b = must_open(0, &pb);
	ck_assert_int_eq(wr(a, 0, "/tx/old", "1"), 0);
	ck_assert_int_eq(xsp_watch_add(b, "/tx", "w"), 0);
	ck_assert_int_eq(drain(b), 1);
	ck_assert_int_eq(xsp_txn_start(a, &t), 0);
	ck_assert_uint_ne(t, XSP_TXN_NONE);
	ck_assert_int_eq(wr(a, t, "/tx/n1", "1"), 0);
	ck_assert_int_eq(wr(a, t, "/tx/n2/deep", "2"), 0);
	ck_assert_int_eq(xsp_store_rm(a, t, "/tx/old"), 0);
	/* nothing visible outside before the commit, no events */
	ck_assert_int_eq(rd_eq(b, 0, "/tx/n1", "1"), -ENOENT);
	ck_assert_int_eq(rd_eq(b, 0, "/tx/old", "1"), 0);
	ck_assert_int_eq(poll_in(xsp_watch_fd(b), 50), 0);
	ck_assert_int_eq(xsp_txn_end(a, t, false), 0);
	ck_assert_int_eq(rd_eq(b, 0, "/tx/n1", "1"), 0);
	ck_assert_int_eq(rd_eq(b, 0, "/tx/n2/deep", "2"), 0);
	ck_assert_int_eq(rd_eq(b, 0, "/tx/old", "1"), -ENOENT);
	ck_assert_int_eq(poll_in(xsp_watch_fd(b), 1000), 1);
	ck_assert_int_eq(take(b, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(path, "/tx/n1");
	ck_assert_int_eq(take(b, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(path, "/tx/n2/deep");
	ck_assert_int_eq(take(b, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(path, "/tx/old");
	ck_assert_int_eq(drain(b), 0);
	ck_assert_int_eq(xsp_txn_end(a, t, false), -ENOENT);	/* gone */
	close_dom(a, pa);
	close_dom(b, pb);
}
END_TEST

#define NATOMIC 20

static int child_watch_listing(struct xsp_store *st, void *arg)
{
	unsigned int n, seen_full = 0, i;
	char **names;
	int rc;

	(void)arg;
	for (i = 0; i < 20000 && !seen_full; i++) {
		rc = xsp_store_list(st, 0, "/at", &names, &n);
		if (rc == -ENOENT)
			continue;
		if (rc < 0)
			return 1;
		free(names);
		if (n != 0 && n != NATOMIC)
			return 2;	/* saw a half-applied commit */
		seen_full = n == NATOMIC;
	}
	return seen_full ? 0 : 3;
}

START_TEST(test_txn_atomic_for_other_process)
{
	struct xsp_store *a;
	struct xsp *pa;
	char path[32];
	xsp_txn_t t;
	pid_t pid;
	int i;

	a = must_open(0, &pa);
	ck_assert_int_eq(wr(a, 0, "/at", ""), 0);
	pid = spawn(0, child_watch_listing, NULL);
	usleep(20 * 1000);
	ck_assert_int_eq(xsp_txn_start(a, &t), 0);
	for (i = 0; i < NATOMIC; i++) {
		snprintf(path, sizeof(path), "/at/n%d", i);
		ck_assert_int_eq(wr(a, t, path, "1"), 0);
	}
	ck_assert_int_eq(xsp_txn_end(a, t, false), 0);
	ck_assert_int_eq(wait_status(pid), 0);
	close_dom(a, pa);
}
END_TEST

START_TEST(test_txn_sees_own_writes)
{
	struct xsp_store *a;
	struct xsp *pa;
	struct xsp_perm pm = { 0, XSP_PERM_BOTH }, *got;
	unsigned int n;
	char **names;
	xsp_txn_t t;

	a = must_open(0, &pa);
	ck_assert_int_eq(wr(a, 0, "/o/live1", "L"), 0);
	ck_assert_int_eq(wr(a, 0, "/o/live2/kid", "K"), 0);
	ck_assert_int_eq(xsp_txn_start(a, &t), 0);
	ck_assert_int_eq(wr(a, t, "/o/new", "N"), 0);
	ck_assert_int_eq(wr(a, t, "/o/live1", "L2"), 0);
	ck_assert_int_eq(rd_eq(a, t, "/o/new", "N"), 0);
	ck_assert_int_eq(rd_eq(a, t, "/o/live1", "L2"), 0);
	ck_assert_int_eq(rd_eq(a, 0, "/o/live1", "L"), 0);
	ck_assert_int_eq(xsp_store_rm(a, t, "/o/live2"), 0);
	ck_assert_int_eq(rd_eq(a, t, "/o/live2/kid", "K"), -ENOENT);
	ck_assert_int_eq(rd_eq(a, 0, "/o/live2/kid", "K"), 0);
	/* re-created inside the txn: the old child stays hidden */
	ck_assert_int_eq(wr(a, t, "/o/live2/other", "O"), 0);
	ck_assert_int_eq(rd_eq(a, t, "/o/live2/kid", "K"), -ENOENT);
	ck_assert_int_eq(xsp_store_list(a, t, "/o/live2", &names, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(names[0], "other");
	free(names);
	ck_assert_int_eq(xsp_store_list(a, t, "/o", &names, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(names[0], "live1");
	ck_assert_str_eq(names[1], "live2");
	ck_assert_str_eq(names[2], "new");
	free(names);
	ck_assert_int_eq(xsp_store_set_perms(a, t, "/o/new", &pm, 1), 0);
	ck_assert_int_eq(xsp_store_get_perms(a, t, "/o/new", &got, &n), 0);
	ck_assert_uint_eq(got[0].perm, XSP_PERM_BOTH);
	free(got);
	ck_assert_int_eq(xsp_txn_end(a, t, false), 0);
	ck_assert_int_eq(rd_eq(a, 0, "/o/live2/kid", "K"), -ENOENT);
	ck_assert_int_eq(rd_eq(a, 0, "/o/live2/other", "O"), 0);
	ck_assert_int_eq(rd_eq(a, 0, "/o/live1", "L2"), 0);
	ck_assert_int_eq(xsp_store_get_perms(a, 0, "/o/new", &got, &n), 0);
	ck_assert_uint_eq(got[0].perm, XSP_PERM_BOTH);
	free(got);
	close_dom(a, pa);
}
END_TEST

START_TEST(test_txn_abort)
{
	struct xsp_store *a;
	struct xsp *pa;
	xsp_txn_t t;

	a = must_open(0, &pa);
	ck_assert_int_eq(wr(a, 0, "/ab/keep", "1"), 0);
	ck_assert_int_eq(xsp_txn_start(a, &t), 0);
	ck_assert_int_eq(wr(a, t, "/ab/new", "1"), 0);
	ck_assert_int_eq(xsp_store_rm(a, t, "/ab/keep"), 0);
	ck_assert_int_eq(xsp_txn_end(a, t, true), 0);
	ck_assert_int_eq(rd_eq(a, 0, "/ab/new", "1"), -ENOENT);
	ck_assert_int_eq(rd_eq(a, 0, "/ab/keep", "1"), 0);
	ck_assert_int_eq(count_sub("store-txn/0"), 0);
	close_dom(a, pa);
}
END_TEST

static int child_write_c(struct xsp_store *st, void *arg)
{
	return wr(st, 0, "/c", (const char *)arg) == 0 ? 0 : 1;
}

START_TEST(test_txn_conflict)
{
	struct xsp_store *a;
	struct xsp *pa;
	xsp_txn_t t;
	int rc;

	a = must_open(0, &pa);
	ck_assert_int_eq(wr(a, 0, "/c", "0"), 0);
	ck_assert_int_eq(xsp_txn_start(a, &t), 0);
	ck_assert_int_eq(rd_eq(a, t, "/c", "0"), 0);
	ck_assert_int_eq(wr(a, t, "/c", "1"), 0);
	ck_assert_int_eq(wr(a, t, "/side", "1"), 0);
	ck_assert_int_eq(wait_status(spawn(0, child_write_c, "other")), 0);
	ck_assert_int_eq(xsp_txn_end(a, t, false), -EAGAIN);
	ck_assert_int_eq(rd_eq(a, 0, "/c", "other"), 0);
	ck_assert_int_eq(rd_eq(a, 0, "/side", "1"), -ENOENT);
	/* retry succeeds */
	ck_assert_int_eq(xsp_txn_start(a, &t), 0);
	ck_assert_int_eq(rd_eq(a, t, "/c", "other"), 0);
	ck_assert_int_eq(wr(a, t, "/c", "mine"), 0);
	ck_assert_int_eq(xsp_txn_end(a, t, false), 0);
	ck_assert_int_eq(rd_eq(a, 0, "/c", "mine"), 0);
	/* a read-only txn also fails on conflict */
	ck_assert_int_eq(xsp_txn_start(a, &t), 0);
	ck_assert_int_eq(read_long(a, t, "/c", &rc), 0);
	ck_assert_int_eq(wait_status(spawn(0, child_write_c, "x")), 0);
	ck_assert_int_eq(xsp_txn_end(a, t, false), -EAGAIN);
	/* a parent removed under the txn's feet is a conflict */
	ck_assert_int_eq(wr(a, 0, "/deep/a/b", "1"), 0);
	ck_assert_int_eq(xsp_txn_start(a, &t), 0);
	ck_assert_int_eq(rd_eq(a, t, "/deep/a/b", "1"), 0);
	ck_assert_int_eq(xsp_store_rm(a, 0, "/deep"), 0);
	ck_assert_int_eq(wr(a, 0, "/deep/a/b", "1"), 0);
	ck_assert_int_eq(xsp_txn_end(a, t, false), -EAGAIN);
	close_dom(a, pa);
}
END_TEST

START_TEST(test_txn_unrelated_no_conflict)
{
	struct xsp_store *a;
	struct xsp *pa;
	char **names;
	unsigned int n;
	xsp_txn_t t;

	a = must_open(0, &pa);
	ck_assert_int_eq(wr(a, 0, "/u/x", "0"), 0);
	ck_assert_int_eq(xsp_txn_start(a, &t), 0);
	ck_assert_int_eq(rd_eq(a, t, "/u/x", "0"), 0);
	ck_assert_int_eq(wr(a, t, "/u/x", "1"), 0);
	ck_assert_int_eq(wait_status(spawn(0, child_write_c, "unrelated")), 0);
	ck_assert_int_eq(xsp_txn_end(a, t, false), 0);
	ck_assert_int_eq(rd_eq(a, 0, "/u/x", "1"), 0);
	/* but a listing conflicts with a new child */
	ck_assert_int_eq(xsp_txn_start(a, &t), 0);
	ck_assert_int_eq(xsp_store_list(a, t, "/u", &names, &n), 0);
	free(names);
	ck_assert_int_eq(wr(a, t, "/u/x", "2"), 0);
	ck_assert_int_eq(wr(a, 0, "/u/y", "1"), 0);
	ck_assert_int_eq(xsp_txn_end(a, t, false), -EAGAIN);
	close_dom(a, pa);
}
END_TEST

static int child_hold_txns(struct xsp_store *st, void *arg)
{
	int *fds = arg;
	xsp_txn_t t;
	char c = 'k';
	int i;

	for (i = 0; i < 6; i++)
		if (xsp_txn_start(st, &t) < 0)
			return 1;
	if (write(fds[1], &c, 1) != 1)
		return 2;
	pause();	/* killed by the parent */
	return 0;
}

START_TEST(test_txn_limit_across_processes)
{
	struct xsp_store *a, *b;
	struct xsp *pa, *pb;
	xsp_txn_t t[10], x;
	int fds[2], i;
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(fds), 0);
	a = must_open(4, &pa);
	b = must_open(4, &pb);
	/* one process, two handles: 10 in all */
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(xsp_txn_start(i % 2 ? a : b, &t[i]), 0);
	ck_assert_int_eq(xsp_txn_start(a, &x), -ENOSPC);
	ck_assert_int_eq(xsp_txn_end(b, t[0], true), 0);
	ck_assert_int_eq(xsp_txn_start(b, &t[0]), 0);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(xsp_txn_end(i % 2 ? a : b, t[i], false), 0);
	/* another domain has its own budget */
	{
		struct xsp_store *sc;
		struct xsp *pc;

		sc = must_open(5, &pc);
		ck_assert_int_eq(xsp_txn_start(sc, &x), 0);
		ck_assert_int_eq(xsp_txn_end(sc, x, false), 0);
		close_dom(sc, pc);
	}
	/* across processes: a child holds 6, we get 4 */
	pid = spawn(4, child_hold_txns, fds);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(xsp_txn_start(a, &t[i]), 0);
	ck_assert_int_eq(xsp_txn_start(a, &x), -ENOSPC);
	ck_assert_int_eq(count_sub("store-txn/4"), 10);
	/* the child is SIGKILLed: its records are stale and cleaned lazily */
	kill(pid, SIGKILL);
	ck_assert_int_eq(wait_status(pid), 128 + SIGKILL);
	ck_assert_int_eq(count_sub("store-txn/4"), 10);
	for (i = 4; i < 10; i++)
		ck_assert_int_eq(xsp_txn_start(a, &t[i]), 0);
	ck_assert_int_eq(count_sub("store-txn/4"), 10);
	ck_assert_int_eq(xsp_txn_start(a, &x), -ENOSPC);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(xsp_txn_end(a, t[i], true), 0);
	ck_assert_int_eq(count_sub("store-txn/4"), 0);
	/* close with open transactions drops their records */
	ck_assert_int_eq(xsp_txn_start(b, &x), 0);
	ck_assert_int_eq(count_sub("store-txn/4"), 1);
	close_dom(b, pb);
	ck_assert_int_eq(count_sub("store-txn/4"), 0);
	close_dom(a, pa);
}
END_TEST

#define NCOUNTERS 4
#define NINCR 200

static int child_increment(struct xsp_store *st, void *arg)
{
	int *go = arg;
	char buf[32], path[64];
	int i, rc, retries = 0;
	long v;

	close(go[1]);
	if (read(go[0], buf, 1) != 0)	/* all start when the parent closes it */
		return 5;
	for (i = 0; i < NINCR; i++) {
		for (;;) {
			xsp_txn_t t;

			if (xsp_txn_start(st, &t) < 0)
				return 1;
			v = read_long(st, t, "/counter", &rc);
			if (rc < 0)
				return 2;
			snprintf(buf, sizeof(buf), "%ld", v + 1);
			sched_yield();	/* widen the race window */
			if (wr(st, t, "/counter", buf) < 0)
				return 3;
			rc = xsp_txn_end(st, t, false);
			if (rc == 0)
				break;
			if (rc != -EAGAIN)
				return 4;
			retries++;
		}
	}
	snprintf(path, sizeof(path), "/retries/%d", (int)getpid());
	snprintf(buf, sizeof(buf), "%d", retries);
	return wr(st, 0, path, buf) == 0 ? 0 : 6;
}

START_TEST(test_concurrent_counter)
{
	struct xsp_store *a;
	struct xsp *pa;
	pid_t pids[NCOUNTERS];
	double t0;
	int i, rc, go[2];
	long retries = 0;

	a = must_open(0, &pa);
	ck_assert_int_eq(wr(a, 0, "/counter", "0"), 0);
	ck_assert_int_eq(pipe(go), 0);
	for (i = 0; i < NCOUNTERS; i++)
		pids[i] = spawn(0, child_increment, go);
	close(go[1]);
	t0 = now_ms();
	for (i = 0; i < NCOUNTERS; i++)
		ck_assert_int_eq(wait_status(pids[i]), 0);
	ck_assert_int_eq(read_long(a, 0, "/counter", &rc), NCOUNTERS * NINCR);
	{
		char **names;
		unsigned int n;

		ck_assert_int_eq(xsp_store_list(a, 0, "/retries", &names, &n), 0);
		ck_assert_uint_eq(n, NCOUNTERS);
		for (i = 0; i < (int)n; i++) {
			char path[64];

			snprintf(path, sizeof(path), "/retries/%s", names[i]);
			retries += read_long(a, 0, path, &rc);
			ck_assert_int_eq(rc, 0);
		}
		free(names);
		printf("store: counter: %ld EAGAIN retries\n", retries);
	}
	printf("store: %d processes x %d txn increments: %.0f ms (%.0f commits/s)\n",
	       NCOUNTERS, NINCR, now_ms() - t0, NCOUNTERS * NINCR / ((now_ms() - t0) / 1e3));
	ck_assert_int_eq(count_sub("store-txn/0"), 0);
	close_dom(a, pa);
}
END_TEST

/* ---- watches ------------------------------------------------------------------ */

START_TEST(test_watch_initial_and_token)
{
	struct xsp_store *a;
	struct xsp *pa;
	char path[64], tok[64], *x, *y;

	a = must_open(0, &pa);
	ck_assert_int_eq(xsp_watch_read(a, &x, &y), -EAGAIN);
	ck_assert_ptr_null(x);
	ck_assert_int_eq(poll_in(xsp_watch_fd(a), 0), 0);
	ck_assert_int_eq(xsp_watch_add(a, "/w", "tok-1"), 0);
	ck_assert_int_eq(xsp_watch_add(a, "/w", "tok-1"), -EEXIST);
	ck_assert_int_eq(poll_in(xsp_watch_fd(a), 0), 1);
	ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(path, "/w");
	ck_assert_str_eq(tok, "tok-1");
	ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), -EAGAIN);
	ck_assert_int_eq(wr(a, 0, "/w/a/b", "1"), 0);
	ck_assert_int_eq(wr(a, 0, "/wx", "1"), 0);	/* not below /w */
	ck_assert_int_eq(wr(a, 0, "/other", "1"), 0);
	ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(path, "/w/a/b");
	ck_assert_str_eq(tok, "tok-1");
	ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), -EAGAIN);
	/* set_perms fires too */
	{
		struct xsp_perm pm = { 0, XSP_PERM_READ };

		ck_assert_int_eq(xsp_store_set_perms(a, 0, "/w/a", &pm, 1), 0);
	}
	ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(path, "/w/a");
	/* removing an ancestor fires a watch with its own path */
	ck_assert_int_eq(xsp_watch_add(a, "/w/a/b/c", "deep"), 0);
	ck_assert_int_eq(drain(a), 1);
	ck_assert_int_eq(xsp_store_rm(a, 0, "/w"), 0);
	ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_int_eq(strcmp(path, "/w") == 0 || strcmp(path, "/w/a/b/c") == 0, 1);
	ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_int_eq(strcmp(path, "/w") == 0 || strcmp(path, "/w/a/b/c") == 0, 1);
	ck_assert_int_eq(drain(a), 0);
	close_dom(a, pa);
}
END_TEST

static int child_delayed_write(struct xsp_store *st, void *arg)
{
	char buf[64];

	(void)arg;
	usleep(100 * 1000);
	snprintf(buf, sizeof(buf), "%.3f", now_ms());
	return wr(st, 0, "/local/domain/1/data/ping", buf) == 0 ? 0 : 1;
}

START_TEST(test_watch_other_process_latency)
{
	struct xsp_perm pm[2] = { { 1, XSP_PERM_NONE }, { 2, XSP_PERM_READ } };
	struct xsp_store *s1, *s2;
	struct xsp *p1, *p2;
	char path[64], tok[64], *v;
	double sent, lat;
	pid_t pid;

	s1 = must_open(1, &p1);
	s2 = must_open(2, &p2);
	ck_assert_int_eq(xsp_store_set_perms(s1, 0, "/local/domain/1/data", pm, 2), 0);
	ck_assert_int_eq(xsp_watch_add(s2, "/local/domain/1/data", "t"), 0);
	ck_assert_int_eq(drain(s2), 1);
	pid = spawn(1, child_delayed_write, NULL);
	ck_assert_int_eq(poll_in(xsp_watch_fd(s2), 2000), 1);
	lat = now_ms();
	ck_assert_int_eq(take(s2, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(path, "/local/domain/1/data/ping");
	ck_assert_str_eq(tok, "t");
	ck_assert_int_eq(xsp_store_read(s2, 0, path, &v, NULL), 0);
	sent = strtod(v, NULL);
	free(v);
	lat -= sent;
	printf("store: watch wake-up latency across processes: %.3f ms\n", lat);
	ck_assert(lat >= 0 && lat < 100);
	ck_assert_int_eq(wait_status(pid), 0);
	close_dom(s1, p1);
	close_dom(s2, p2);
}
END_TEST

static int child_netns_txn(struct xsp_store *st, void *arg)
{
	xsp_txn_t t;

	(void)arg;
	if (xsp_txn_start(st, &t) < 0 || wr(st, t, "/local/domain/7/data/hello", "ns") < 0)
		return 1;
	return xsp_txn_end(st, t, false) == 0 ? 0 : 2;
}

/* A writer in another network namespace (same filesystem) reaches us. */
START_TEST(test_watch_across_netns)
{
	struct xsp_store *a, *c;
	struct xsp *pa, *pc;
	char path[64], tok[64];
	int status;
	pid_t pid;

	a = must_open(0, &pa);
	ck_assert_int_eq(xsp_watch_add(a, "/local/domain/7", "ns"), 0);
	ck_assert_int_eq(drain(a), 1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(77);
		c = open_dom(7, &pc);
		if (!c)
			_exit(100);
		status = child_netns_txn(c, NULL);
		close_dom(c, pc);
		_exit(status);
	}
	status = wait_status(pid);
	if (status == 77) {
		printf("store: no network namespaces here, netns test skipped\n");
		close_dom(a, pa);
		return;
	}
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(poll_in(xsp_watch_fd(a), 1000), 1);
	ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(tok, "ns");
	ck_assert_int_eq(strncmp(path, "/local/domain/7", 15), 0);
	ck_assert_int_eq(rd_eq(a, 0, "/local/domain/7/data/hello", "ns"), 0);
	close_dom(a, pa);
}
END_TEST

START_TEST(test_watch_unreadable_filtered)
{
	struct xsp_store *s1, *s2;
	struct xsp *p1, *p2;
	char path[64], tok[64];

	s1 = must_open(1, &p1);
	s2 = must_open(2, &p2);
	ck_assert_int_eq(xsp_watch_add(s2, "/local/domain/1", "spy"), 0);
	ck_assert_int_eq(drain(s2), 1);
	ck_assert_int_eq(wr(s1, 0, "/local/domain/1/data/secret", "1"), 0);
	ck_assert_int_eq(poll_in(xsp_watch_fd(s2), 100), 0);
	ck_assert_int_eq(drain(s2), 0);
	/* removal is reported even though the node was unreadable */
	ck_assert_int_eq(xsp_store_rm(s1, 0, "/local/domain/1/data/secret"), 0);
	ck_assert_int_eq(poll_in(xsp_watch_fd(s2), 1000), 1);
	ck_assert_int_eq(take(s2, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(path, "/local/domain/1/data/secret");
	ck_assert_str_eq(tok, "spy");
	close_dom(s1, p1);
	close_dom(s2, p2);
}
END_TEST

START_TEST(test_watch_rm_stops_events)
{
	struct xsp_store *a, *b;
	struct xsp *pa, *pb;

	a = must_open(0, &pa);
	b = must_open(0, &pb);
	ck_assert_int_eq(xsp_watch_add(b, "/s", "1"), 0);
	ck_assert_int_eq(xsp_watch_add(b, "/s", "2"), 0);
	ck_assert_int_eq(drain(b), 2);
	ck_assert_int_eq(wr(a, 0, "/s/x", "1"), 0);
	ck_assert_int_eq(drain(b), 2);
	ck_assert_int_eq(xsp_watch_rm(b, "/s", "1"), 0);
	ck_assert_int_eq(xsp_watch_rm(b, "/s", "1"), -ENOENT);
	ck_assert_int_eq(xsp_watch_rm(b, "/t", "2"), -ENOENT);
	ck_assert_int_eq(wr(a, 0, "/s/x", "2"), 0);
	ck_assert_int_eq(drain(b), 1);
	ck_assert_int_eq(xsp_watch_rm(b, "/s", "2"), 0);
	ck_assert_int_eq(wr(a, 0, "/s/x", "3"), 0);
	ck_assert_int_eq(poll_in(xsp_watch_fd(b), 50), 0);
	ck_assert_int_eq(drain(b), 0);
	ck_assert_int_eq(count_sub("store-watch"), 2);		/* two FIFOs, no .reg */
	close_dom(a, pa);
	close_dom(b, pb);
	ck_assert_int_eq(count_sub("store-watch"), 0);
}
END_TEST

START_TEST(test_watch_special_paths)
{
	struct xsp_store *a;
	struct xsp *pa;
	char path[64], tok[64];

	a = must_open(0, &pa);
	ck_assert_int_eq(xsp_watch_add(a, "@releaseDomain", "r"), 0);
	ck_assert_int_eq(xsp_watch_add(a, "@introduceDomain", "i"), 0);
	ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(path, "@releaseDomain");
	ck_assert_str_eq(tok, "r");
	ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(path, "@introduceDomain");
	ck_assert_int_eq(wr(a, 0, "/anything", "1"), 0);
	ck_assert_int_eq(drain(a), 0);
	close_dom(a, pa);
}
END_TEST

/*
 * xsp_store_fire_special() (`xsockctl domain create|destroy`): the special
 * watch fires for domain 0's handles only, and only that watch (not "/").
 */
START_TEST(test_watch_special_fired)
{
	struct xsp_store *a, *u;
	struct xsp *pa, *pu;
	char path[64], tok[64];

	a = must_open(0, &pa);
	u = must_open(1, &pu);
	ck_assert_int_eq(xsp_watch_add(a, "@releaseDomain", "r"), 0);
	ck_assert_int_eq(xsp_watch_add(a, "@introduceDomain", "i"), 0);
	ck_assert_int_eq(xsp_watch_add(a, "/", "all"), 0);
	ck_assert_int_eq(xsp_watch_add(u, "@releaseDomain", "r"), 0);
	drain(a);
	drain(u);
	ck_assert_int_eq(xsp_store_fire_special(u, "@releaseDomain"), -EACCES);
	ck_assert_int_eq(xsp_store_fire_special(a, "/local"), -EINVAL);
	ck_assert_int_eq(xsp_store_fire_special(a, "@releaseDomain"), 0);
	ck_assert_int_eq(poll_in(xsp_watch_fd(a), 2000), 1);
	ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(path, "@releaseDomain");
	ck_assert_str_eq(tok, "r");
	ck_assert_int_eq(drain(a), 0);		/* not @introduceDomain, not "/" */
	ck_assert_int_eq(poll_in(xsp_watch_fd(u), 100), 0);	/* domain 1 hears nothing */
	ck_assert_int_eq(drain(u), 0);
	close_dom(u, pu);
	close_dom(a, pa);
}
END_TEST

START_TEST(test_watch_fd_level)
{
	struct xsp_store *a;
	struct xsp *pa;
	int i;

	a = must_open(0, &pa);
	ck_assert_int_eq(xsp_watch_add(a, "/lv", "t"), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(wr(a, 0, "/lv/x", "1"), 0);
	for (i = 0; i < 4; i++) {
		char path[64], tok[64];

		ck_assert_int_eq(poll_in(xsp_watch_fd(a), 0), 1);
		ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), 0);
	}
	ck_assert_int_eq(poll_in(xsp_watch_fd(a), 0), 0);
	ck_assert_int_eq(drain(a), 0);
	close_dom(a, pa);
}
END_TEST

#define NWRITERS 4
#define NWRITES 250

static int child_many_writes(struct xsp_store *st, void *arg)
{
	char path[64];
	int i, id = (int)(intptr_t)arg;

	for (i = 0; i < NWRITES; i++) {
		snprintf(path, sizeof(path), "/many/%d/%d", id, i % 10);
		if (wr(st, 0, path, "v") < 0)
			return 1;
	}
	return 0;
}

START_TEST(test_watch_many_writers_exact)
{
	struct xsp_store *a;
	struct xsp *pa;
	pid_t pids[NWRITERS];
	int i;

	a = must_open(0, &pa);
	ck_assert_int_eq(xsp_watch_add(a, "/many", "m"), 0);
	for (i = 0; i < NWRITERS; i++)
		pids[i] = spawn(0, child_many_writes, (void *)(intptr_t)i);
	for (i = 0; i < NWRITERS; i++)
		ck_assert_int_eq(wait_status(pids[i]), 0);
	/* ~25 bytes per event: 1001 events fit into a 64 KiB pipe */
	ck_assert_int_eq(drain(a), 1 + NWRITERS * NWRITES);
	close_dom(a, pa);
}
END_TEST

START_TEST(test_watch_overflow_keeps_signal)
{
	struct xsp_store *a;
	struct xsp *pa;
	char path[64], tok[64];
	pid_t pids[NWRITERS];
	int i, n = 0, refired = 0;

	a = must_open(0, &pa);
	/* the smallest pipe: about 160 events fit */
	ck_assert_int_ge(fcntl(xsp_watch_fd(a), F_SETPIPE_SZ, 4096), 4096);
	ck_assert_int_eq(xsp_watch_add(a, "/many", "m"), 0);
	ck_assert_int_eq(xsp_watch_add(a, "/unrelated", "u"), 0);
	ck_assert_int_eq(drain(a), 2);
	for (i = 0; i < NWRITERS; i++)
		pids[i] = spawn(0, child_many_writes, (void *)(intptr_t)i);
	for (i = 0; i < NWRITERS; i++)
		ck_assert_int_eq(wait_status(pids[i]), 0);
	ck_assert_int_eq(poll_in(xsp_watch_fd(a), 0), 1);
	while (take(a, path, sizeof(path), tok, sizeof(tok)) == 0) {
		n++;
		if (!strcmp(path, "/many") && !strcmp(tok, "m"))
			refired++;
	}
	printf("store: overflow: %d of %d events delivered, %d re-fires\n", n,
	       NWRITERS * NWRITES, refired);
	ck_assert_int_lt(n, NWRITERS * NWRITES);
	ck_assert_int_ge(refired, 1);
	ck_assert_int_eq(poll_in(xsp_watch_fd(a), 0), 0);
	/* and it keeps working afterwards */
	ck_assert_int_eq(wr(a, 0, "/many/after", "1"), 0);
	ck_assert_int_eq(take(a, path, sizeof(path), tok, sizeof(tok)), 0);
	ck_assert_str_eq(path, "/many/after");
	ck_assert_int_eq(drain(a), 0);
	close_dom(a, pa);
}
END_TEST

static int child_watch_and_hang(struct xsp_store *st, void *arg)
{
	int *fds = arg;
	char c = 'r';

	if (xsp_watch_add(st, "/gc", "x") < 0)
		return 1;
	if (write(fds[1], &c, 1) != 1)
		return 2;
	pause();
	return 0;
}

START_TEST(test_stale_watch_gc)
{
	struct xsp_store *a, *b;
	struct xsp *pa, *pb;
	int fds[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(fds), 0);
	a = must_open(0, &pa);
	pid = spawn(0, child_watch_and_hang, fds);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	ck_assert_int_eq(count_sub("store-watch"), 3);	/* a's fifo; child's fifo+reg */
	kill(pid, SIGKILL);
	ck_assert_int_eq(wait_status(pid), 128 + SIGKILL);
	/* a write finds the dead registration and removes it */
	ck_assert_int_eq(wr(a, 0, "/gc/x", "1"), 0);
	ck_assert_int_eq(count_sub("store-watch"), 1);
	/* a dead handle without watches: collected at the next open */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct xsp *pc;

		open_dom(0, &pc);
		raise(SIGKILL);
	}
	ck_assert_int_eq(wait_status(pid), 128 + SIGKILL);
	ck_assert_int_eq(count_sub("store-watch"), 2);
	b = must_open(0, &pb);
	ck_assert_int_eq(count_sub("store-watch"), 2);	/* a's and b's */
	close_dom(b, pb);
	close_dom(a, pa);
	ck_assert_int_eq(count_sub("store-watch"), 0);
}
END_TEST

/* ---- quota, leaks, speed ------------------------------------------------------------ */

START_TEST(test_node_quota)
{
	struct xsp_store *s3, *s0;
	struct xsp *p3, *p0;
	char path[64];
	int i, rc = 0;
	xsp_txn_t t;

	setenv("XSOCK_STORE_NODE_QUOTA", "12", 1);
	s3 = must_open(3, &p3);		/* owns 2 nodes: home and data */
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/local/domain/3/data/n%d", i);
		rc = wr(s3, 0, path, "x");
		if (rc < 0)
			break;
	}
	ck_assert_int_eq(rc, -ENOSPC);
	ck_assert_int_eq(i, 10);
	/* overwriting is fine, creating two at once is not */
	ck_assert_int_eq(wr(s3, 0, "/local/domain/3/data/n0", "y"), 0);
	ck_assert_int_eq(wr(s3, 0, "/local/domain/3/data/n0/a/b", "y"), -ENOSPC);
	/* inside a transaction: at write time */
	ck_assert_int_eq(xsp_txn_start(s3, &t), 0);
	ck_assert_int_eq(wr(s3, t, "/local/domain/3/data/q", "y"), -ENOSPC);
	ck_assert_int_eq(xsp_txn_end(s3, t, true), 0);
	/* removing frees quota */
	ck_assert_int_eq(xsp_store_rm(s3, 0, "/local/domain/3/data/n9"), 0);
	ck_assert_int_eq(wr(s3, 0, "/local/domain/3/data/z", "1"), 0);
	ck_assert_int_eq(wr(s3, 0, "/local/domain/3/data/z2", "1"), -ENOSPC);
	/* domain 0 is exempt */
	s0 = must_open(0, &p0);
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/q0/n%d", i);
		ck_assert_int_eq(wr(s0, 0, path, "x"), 0);
	}
	close_dom(s0, p0);
	close_dom(s3, p3);
}
END_TEST

START_TEST(test_no_leaks)
{
	struct xsp_store *a, *b;
	struct xsp *pa, *pb;
	char path[128], store[512];
	xsp_txn_t t;
	int i;

	a = must_open(0, &pa);
	b = must_open(0, &pb);
	snprintf(store, sizeof(store), "%s/store", dir);
	ck_assert_int_eq(count_nodes(store), 5);
	ck_assert_int_eq(xsp_watch_add(b, "/leak", "l"), 0);
	for (i = 0; i < 50; i++) {
		snprintf(path, sizeof(path), "/leak/%d/x/y", i);
		ck_assert_int_eq(wr(a, 0, path, "v"), 0);
	}
	ck_assert_int_eq(xsp_txn_start(a, &t), 0);
	ck_assert_int_eq(wr(a, t, "/leak/t/x", "1"), 0);
	ck_assert_int_eq(xsp_txn_end(a, t, false), 0);
	ck_assert_int_eq(count_nodes(store), 5 + 1 + 150 + 2);
	ck_assert_int_eq(xsp_store_rm(a, 0, "/leak"), 0);
	ck_assert_int_eq(count_nodes(store), 5);
	ck_assert_int_eq(tu_count_entries(store), 3);	/* .p .v local */
	close_dom(a, pa);
	close_dom(b, pb);
	ck_assert_int_eq(count_sub("store-watch"), 0);
	ck_assert_int_eq(count_sub("store-txn/0"), 0);
}
END_TEST

START_TEST(test_ops_per_second)
{
	struct xsp_store *a;
	struct xsp *pa;
	char val[32];
	double t0, ms;
	int i, n = 2000;

	a = must_open(0, &pa);
	t0 = now_ms();
	for (i = 0; i < n; i++) {
		snprintf(val, sizeof(val), "%d", i);
		ck_assert_int_eq(wr(a, 0, "/bench/node", val), 0);
		ck_assert_int_eq(rd_eq(a, 0, "/bench/node", val), 0);
	}
	ms = now_ms() - t0;
	printf("store: write+read loop: %.0f ops/s (%.1f us per write+read)\n",
	       2 * n / (ms / 1e3), ms * 1e3 / n);
	close_dom(a, pa);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("local_store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_bootstrap);
	tcase_add_test(tc, test_read_write_basic);
	tcase_add_test(tc, test_nested_create_and_list);
	tcase_add_test(tc, test_rm_recursive);
	tcase_add_test(tc, test_invalid_paths);
	tcase_add_test(tc, test_perms_across_processes);
	tcase_add_test(tc, test_set_perms_rules);
	tcase_add_test(tc, test_perms_inheritance);
	tcase_add_test(tc, test_malformed_files);
	tcase_add_test(tc, test_txn_commit_atomic);
	tcase_add_test(tc, test_txn_atomic_for_other_process);
	tcase_add_test(tc, test_txn_sees_own_writes);
	tcase_add_test(tc, test_txn_abort);
	tcase_add_test(tc, test_txn_conflict);
	tcase_add_test(tc, test_txn_unrelated_no_conflict);
	tcase_add_test(tc, test_txn_limit_across_processes);
	tcase_add_test(tc, test_concurrent_counter);
	tcase_add_test(tc, test_watch_initial_and_token);
	tcase_add_test(tc, test_watch_other_process_latency);
	tcase_add_test(tc, test_watch_across_netns);
	tcase_add_test(tc, test_watch_unreadable_filtered);
	tcase_add_test(tc, test_watch_rm_stops_events);
	tcase_add_test(tc, test_watch_special_paths);
	tcase_add_test(tc, test_watch_special_fired);
	tcase_add_test(tc, test_watch_fd_level);
	tcase_add_test(tc, test_watch_many_writers_exact);
	tcase_add_test(tc, test_watch_overflow_keeps_signal);
	tcase_add_test(tc, test_stale_watch_gc);
	tcase_add_test(tc, test_node_quota);
	tcase_add_test(tc, test_no_leaks);
	tcase_add_test(tc, test_ops_per_second);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(store_suite());
}
