/* SPDX-License-Identifier: MIT */
/*
 * Local backend grants: sharing and mapping across processes that act as
 * different domains, permissions, fork semantics, budget, unmap
 * notification and collection of stale grants.
 */
#include "config.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "platform/local/local.h"
#include "testutil.h"
#include "xproc.h"

static const char *dir;

static void setup(void)
{
	dir = tu_fresh_local_dir();
	unsetenv("XSOCK_GRANT_LIMIT");
	local_grant_gc_interval_ns = 1000000000LL;
}

static void teardown(void)
{
	tu_rm_rf(dir);
}

/* Share files granted to @grantee (one per share); -1: no directory. */
static int count_grant_files(unsigned int grantee)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/grant/%u", dir, grantee);
	return tu_count_entries(path);
}

/* Pages of the share files granted to @grantee, by their sizes. */
static int count_grant_pages(unsigned int grantee)
{
	char path[256];
	struct dirent *de;
	struct stat st;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/grant/%u", dir, grantee);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		ck_assert_int_eq(fstatat(dirfd(d), de->d_name, &st, 0), 0);
		ck_assert_int_eq(st.st_size % XSP_PAGE_SIZE, 0);
		n += (int)(st.st_size / XSP_PAGE_SIZE);
	}
	closedir(d);
	return n;
}

/* ---- share to domain 2, map from domain 2 ---------------------------------- */

struct refs_arg {
	unsigned int domid;
	unsigned int peer;
	unsigned int n;
	xsp_gref_t refs[8];
};

static int mapper_roundtrip(int in, int out, void *arg)
{
	struct refs_arg *a = arg;
	struct xsp *p = xp_open_as(a->domid);
	struct xsp_map *m;
	uint32_t v;

	CHILD_CHECK(p);
	CHILD_CHECK(xsp_map(p, a->peer, a->n, a->refs, NULL, &m) == 0);
	CHILD_CHECK(xsp_map_npages(m) == a->n);
	CHILD_CHECK(xp_check(xsp_map_addr(m), a->n * XSP_PAGE_SIZE, 1));
	xp_fill(xsp_map_addr(m), a->n * XSP_PAGE_SIZE, 2);
	CHILD_CHECK(xp_send(out, 1) == 0);
	CHILD_CHECK(xp_recv(in, &v) == 0);	/* sharer changed the data again */
	CHILD_CHECK(xp_check(xsp_map_addr(m), a->n * XSP_PAGE_SIZE, 3));
	xsp_unmap(m);
	xsp_close(p);
	return 0;
}

START_TEST(share_map_both_directions)
{
	struct xsp *p = xp_open_as(1);
	struct refs_arg a = { .domid = 2, .peer = 1, .n = 3 };
	struct xsp_share *s;
	struct kid k;
	uint32_t v;
	unsigned int i;
	const unsigned char *c;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(xsp_share(p, 2, 3, NULL, &s), 0);
	ck_assert_uint_eq(xsp_share_npages(s), 3);
	c = xsp_share_addr(s);
	for (i = 0; i < 3 * XSP_PAGE_SIZE; i++)
		ck_assert_uint_eq(c[i], 0);	/* zeroed */
	ck_assert_uint_ne(xsp_share_refs(s)[0], xsp_share_refs(s)[1]);
	memcpy(a.refs, xsp_share_refs(s), 3 * sizeof(xsp_gref_t));
	xp_fill(xsp_share_addr(s), 3 * XSP_PAGE_SIZE, 1);
	k = xp_spawn(mapper_roundtrip, &a);
	ck_assert_int_eq(xp_recv(k.from, &v), 0);
	ck_assert(xp_check(xsp_share_addr(s), 3 * XSP_PAGE_SIZE, 2));
	xp_fill(xsp_share_addr(s), 3 * XSP_PAGE_SIZE, 3);
	ck_assert_int_eq(xp_send(k.to, 1), 0);
	xp_wait_ok(&k);
	xsp_unshare(s);
	xsp_close(p);
}
END_TEST

static int mapper_expect(int in, int out, void *arg)
{
	struct refs_arg *a = arg;
	struct xsp *p = xp_open_as(a->domid);
	struct xsp_map *m = (void *)1;
	int rc;

	CHILD_CHECK(p);
	rc = xsp_map(p, a->peer, a->n, a->refs, NULL, &m);
	CHILD_CHECK(m == NULL);
	xsp_close(p);
	return rc == -EPERM ? 0 : rc == -ENOENT ? 100 : 101;
}

START_TEST(map_from_other_domain_eperm)
{
	struct xsp *p = xp_open_as(1);
	struct refs_arg a = { .domid = 3, .peer = 1, .n = 1 };
	struct xsp_share *s;
	struct kid k;

	ck_assert_int_eq(xsp_share(p, 2, 1, NULL, &s), 0);
	a.refs[0] = xsp_share_refs(s)[0];
	k = xp_spawn(mapper_expect, &a);
	xp_wait_ok(&k);		/* -EPERM */
	xsp_unshare(s);
	xsp_close(p);
}
END_TEST

START_TEST(map_unknown_ref_enoent)
{
	struct xsp *p = xp_open_as(1);
	struct refs_arg a = { .domid = 2, .peer = 1, .n = 1, .refs = { 987654 } };
	struct xsp_share *s;
	struct kid k;

	ck_assert_int_eq(xsp_share(p, 2, 1, NULL, &s), 0);	/* grant/2 exists */
	k = xp_spawn(mapper_expect, &a);
	ck_assert_int_eq(WEXITSTATUS(xp_wait(&k)), 100);	/* -ENOENT */
	/* And with no grant directory at all for the mapper. */
	a.domid = 9;
	k = xp_spawn(mapper_expect, &a);
	ck_assert_int_eq(WEXITSTATUS(xp_wait(&k)), 100);
	xsp_unshare(s);
	xsp_close(p);
}
END_TEST

START_TEST(map_names_wrong_sharer_enoent)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *s;
	struct xsp_map *m;

	ck_assert_int_eq(xsp_share(p1, 2, 1, NULL, &s), 0);
	ck_assert_int_eq(xsp_map(p2, 4, 1, xsp_share_refs(s), NULL, &m), -ENOENT);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(xsp_map(p2, 1, 1, xsp_share_refs(s), NULL, &m), 0);
	xsp_unmap(m);
	xsp_unshare(s);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

START_TEST(map_partial_failure_leaves_nothing)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *s;
	struct xsp_map *m;
	xsp_gref_t refs[2];
	int fds = xp_count_fds();

	ck_assert_int_eq(xsp_share(p1, 2, 1, NULL, &s), 0);
	refs[0] = xsp_share_refs(s)[0];
	refs[1] = 777777;
	ck_assert_int_eq(xsp_map(p2, 1, 2, refs, NULL, &m), -ENOENT);
	ck_assert_int_eq(xsp_map(p2, 1, 0, refs, NULL, &m), -EINVAL);
	xsp_unshare(s);
	ck_assert_int_eq(xp_count_fds(), fds);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

START_TEST(map_same_grant_twice)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *s;
	struct xsp_map *m1, *m2;
	unsigned char *a, *b;

	ck_assert_int_eq(xsp_share(p1, 2, 2, NULL, &s), 0);
	ck_assert_int_eq(xsp_map(p2, 1, 2, xsp_share_refs(s), NULL, &m1), 0);
	ck_assert_int_eq(xsp_map(p2, 1, 2, xsp_share_refs(s), NULL, &m2), 0);
	a = xsp_map_addr(m1);
	b = xsp_map_addr(m2);
	ck_assert_ptr_ne(a, b);
	a[5000] = 0x5a;
	ck_assert_uint_eq(b[5000], 0x5a);
	ck_assert_uint_eq(((unsigned char *)xsp_share_addr(s))[5000], 0x5a);
	xsp_unmap(m1);
	ck_assert_uint_eq(b[5000], 0x5a);
	xsp_unmap(m2);
	xsp_unshare(s);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

START_TEST(invalid_arguments)
{
	struct xsp *p = xp_open_as(1);
	struct xsp_unmap_notify n = { .offset = 0, .ev = NULL };
	struct xsp_share *s;

	ck_assert_int_eq(xsp_share(p, 2, 0, NULL, &s), -EINVAL);
	ck_assert_int_eq(xsp_share(p, 2, 2, &n, &s), -EINVAL);
	n.offset = XSP_PAGE_SIZE;
	ck_assert_int_eq(xsp_share(p, 2, 1, &n, &s), -EINVAL);
	ck_assert_int_eq(count_grant_files(2), -1);	/* nothing created */
	xsp_close(p);
}
END_TEST

/* ---- fork semantics ------------------------------------------------------------ */

START_TEST(fork_after_map_child_faults)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *s;
	struct xsp_map *m;
	volatile unsigned char *addr;
	int status;
	pid_t pid;

	ck_assert_int_eq(xsp_share(p1, 2, 2, NULL, &s), 0);
	ck_assert_int_eq(xsp_map(p2, 1, 2, xsp_share_refs(s), NULL, &m), 0);
	addr = xsp_map_addr(m);
	addr[4100] = 42;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);	/* not a sanitizer's handler */
		addr[4100] = 7;		/* must fault: not inherited */
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGSEGV);
	ck_assert_uint_eq(addr[4100], 42);	/* the parent still can */
	addr[4100] = 43;
	ck_assert_uint_eq(((unsigned char *)xsp_share_addr(s))[4100], 43);
	xsp_unmap(m);
	xsp_unshare(s);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

START_TEST(fork_after_share_child_keeps_page)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *s;
	struct xsp_map *m;
	unsigned char *sh;
	int status;
	pid_t pid;

	ck_assert_int_eq(xsp_share(p1, 2, 1, NULL, &s), 0);
	ck_assert_int_eq(xsp_map(p2, 1, 1, xsp_share_refs(s), NULL, &m), 0);
	sh = xsp_share_addr(s);
	sh[17] = 1;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		CHILD_CHECK(sh[17] == 1);
		sh[18] = 99;	/* visible to the mapper */
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(((unsigned char *)xsp_map_addr(m))[18], 99);
	xsp_unmap(m);
	xsp_unshare(s);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

/* A forked child maps its parent's grants again and sees the same pages. */
START_TEST(fork_child_maps_again)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *s;
	struct xsp_map *m;
	unsigned char *sh;
	int status;
	pid_t pid;

	ck_assert_int_eq(xsp_share(p1, 2, 2, NULL, &s), 0);
	ck_assert_int_eq(xsp_map(p2, 1, 2, xsp_share_refs(s), NULL, &m), 0);
	sh = xsp_share_addr(s);
	sh[4100] = 42;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct xsp *c2 = xp_open_as(2);	/* the child's own backend */
		unsigned char *addr;

		CHILD_CHECK(c2);
		CHILD_CHECK(xsp_map_again(c2, m) == 0);
		addr = xsp_map_addr(m);
		CHILD_CHECK(addr[4100] == 42);
		addr[4101] = 7;		/* seen by the sharer and the parent */
		xsp_unmap(m);
		xsp_close(c2);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(sh[4101], 7);
	ck_assert_uint_eq(((unsigned char *)xsp_map_addr(m))[4101], 7);
	/* The child's unmap did not take the parent's mapping. */
	((unsigned char *)xsp_map_addr(m))[4102] = 9;
	ck_assert_uint_eq(sh[4102], 9);
	xsp_unmap(m);
	xsp_unshare(s);
	ck_assert_int_eq(count_grant_files(2), 0);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

/* A grant revoked meanwhile: -ENOENT, and the map is left as it was. */
START_TEST(fork_child_maps_again_revoked)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *s;
	struct xsp_map *m;
	void *before;

	ck_assert_int_eq(xsp_share(p1, 2, 1, NULL, &s), 0);
	ck_assert_int_eq(xsp_map(p2, 1, 1, xsp_share_refs(s), NULL, &m), 0);
	before = xsp_map_addr(m);
	xsp_unshare(s);
	ck_assert_int_eq(xsp_map_again(p2, m), -ENOENT);
	ck_assert_ptr_eq(xsp_map_addr(m), before);
	ck_assert_int_eq(xsp_map_again(NULL, m), -EINVAL);
	xsp_unmap(m);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

/* A disarmed notification does not fire at unmap; armed again, it does. */
START_TEST(map_notify_disarm_and_arm)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_unmap_notify n = { .offset = 100 };
	struct xsp_share *s;
	struct xsp_map *m;
	unsigned char *c;

	ck_assert_int_eq(xsp_share(p1, 2, 2, NULL, &s), 0);
	c = xsp_share_addr(s);
	c[100] = 1;
	ck_assert_int_eq(xsp_map(p2, 1, 1, xsp_share_refs(s), &n, &m), 0);
	ck_assert_int_eq(xsp_map_set_notify(m, NULL), 0);
	xsp_unmap(m);
	ck_assert_uint_eq(c[100], 1);		/* disarmed: nothing said */
	ck_assert_int_eq(xsp_map(p2, 1, 1, xsp_share_refs(s), NULL, &m), 0);
	ck_assert_int_eq(xsp_map_set_notify(m, &n), 0);
	xsp_unmap(m);
	ck_assert_uint_eq(c[100], 0);		/* armed later: fires */
	/* Only one-page maps carry a notification; the offset is checked. */
	ck_assert_int_eq(xsp_map(p2, 1, 2, xsp_share_refs(s), NULL, &m), 0);
	ck_assert_int_eq(xsp_map_set_notify(m, &n), -EINVAL);
	xsp_unmap(m);
	ck_assert_int_eq(xsp_map(p2, 1, 1, xsp_share_refs(s), NULL, &m), 0);
	n.offset = XSP_PAGE_SIZE;
	ck_assert_int_eq(xsp_map_set_notify(m, &n), -EINVAL);
	xsp_unmap(m);
	xsp_unshare(s);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

/* ---- a dead granting domain: the mapping becomes our own copy ----------------------- */

/* Lines of /proc/self/maps that map a share file granted to @grantee. */
static int maps_of_grants(unsigned int grantee)
{
	char want[300], line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0;

	ck_assert_ptr_nonnull(f);
	snprintf(want, sizeof(want), "%s/grant/%u/", dir, grantee);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want))
			n++;
	fclose(f);
	return n;
}

START_TEST(map_orphan_keeps_bytes_drops_grants)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_unmap_notify n = { .offset = 100 };
	struct xsp_share *s, *s1;
	struct xsp_map *m, *m1;
	unsigned char *c1;
	int sharer;
	void *addr;

	ck_assert_int_eq(xsp_share(p1, 2, 3, NULL, &s), 0);
	xp_fill(xsp_share_addr(s), 3 * XSP_PAGE_SIZE, 1);
	sharer = maps_of_grants(2);	/* the sharer's own mapping, here too */
	ck_assert_int_eq(xsp_map(p2, 1, 3, xsp_share_refs(s), NULL, &m), 0);
	addr = xsp_map_addr(m);
	ck_assert_int_gt(maps_of_grants(2), sharer);
	ck_assert_int_eq(xsp_map_orphan(m), 0);
	/* Same address, same bytes, no longer the granted pages. */
	ck_assert_ptr_eq(xsp_map_addr(m), addr);
	ck_assert(xp_check(addr, 3 * XSP_PAGE_SIZE, 1));
	ck_assert_int_eq(maps_of_grants(2), sharer);
	xp_fill(addr, 3 * XSP_PAGE_SIZE, 4);
	ck_assert(xp_check(xsp_share_addr(s), 3 * XSP_PAGE_SIZE, 1));
	/* Idempotent; a forked holder keeps the copy where it is. */
	ck_assert_int_eq(xsp_map_orphan(m), 0);
	ck_assert_int_eq(xsp_map_again(p2, m), 0);
	ck_assert_ptr_eq(xsp_map_addr(m), addr);
	ck_assert(xp_check(addr, 3 * XSP_PAGE_SIZE, 4));
	xsp_unmap(m);

	/* Nobody to tell: an armed notification does not fire. */
	ck_assert_int_eq(xsp_share(p1, 2, 1, NULL, &s1), 0);
	c1 = xsp_share_addr(s1);
	c1[100] = 1;
	ck_assert_int_eq(xsp_map(p2, 1, 1, xsp_share_refs(s1), &n, &m1), 0);
	ck_assert_int_eq(xsp_map_orphan(m1), 0);
	ck_assert_int_eq(xsp_map_set_notify(m1, &n), 0);
	xsp_unmap(m1);
	ck_assert_uint_eq(c1[100], 1);
	ck_assert_int_eq(xsp_map_orphan(NULL), -EINVAL);
	xsp_unshare(s1);
	xsp_unshare(s);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

/* ---- lifetime --------------------------------------------------------------------- */

START_TEST(unshare_removes_files)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *s, *t;
	struct xsp_map *m;

	ck_assert_int_eq(xsp_share(p1, 2, 3, NULL, &s), 0);
	ck_assert_int_eq(count_grant_files(2), 1);	/* one file per share */
	ck_assert_int_eq(count_grant_pages(2), 3);
	ck_assert_int_eq(xsp_share(p1, 2, 1, NULL, &t), 0);
	ck_assert_int_eq(count_grant_files(2), 2);
	ck_assert_int_eq(count_grant_pages(2), 4);
	ck_assert_int_eq(xsp_map(p2, 1, 3, xsp_share_refs(s), NULL, &m), 0);
	xp_fill(xsp_share_addr(s), 3 * XSP_PAGE_SIZE, 11);
	xsp_unshare(s);
	ck_assert_int_eq(count_grant_files(2), 1);
	ck_assert_int_eq(count_grant_pages(2), 1);
	/* Deferred revocation: the existing mapping stays valid ... */
	ck_assert(xp_check(xsp_map_addr(m), 3 * XSP_PAGE_SIZE, 11));
	xsp_unmap(m);
	xsp_unshare(t);
	ck_assert_int_eq(count_grant_files(2), 0);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

START_TEST(map_after_unshare_enoent)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *s;
	struct xsp_map *m;
	xsp_gref_t ref;

	ck_assert_int_eq(xsp_share(p1, 2, 1, NULL, &s), 0);
	ref = xsp_share_refs(s)[0];
	xsp_unshare(s);
	ck_assert_int_eq(xsp_map(p2, 1, 1, &ref, NULL, &m), -ENOENT);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

START_TEST(grant_limit_enospc)
{
	struct xsp *p1, *p5;
	struct xsp_share *a, *b, *c, *d;

	setenv("XSOCK_GRANT_LIMIT", "4", 1);
	p1 = xp_open_as(1);
	p5 = xp_open_as(5);
	ck_assert_int_eq(xsp_share(p1, 2, 3, NULL, &a), 0);
	ck_assert_int_eq(xsp_share(p1, 3, 2, NULL, &b), -ENOSPC);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(xsp_share(p1, 3, 1, NULL, &b), 0);
	ck_assert_int_eq(xsp_share(p1, 2, 1, NULL, &c), -ENOSPC);
	/* The budget is per sharing domain. */
	ck_assert_int_eq(xsp_share(p5, 2, 4, NULL, &d), 0);
	xsp_unshare(a);
	ck_assert_int_eq(xsp_share(p1, 2, 3, NULL, &c), 0);
	xsp_unshare(b);
	xsp_unshare(c);
	xsp_unshare(d);
	ck_assert_int_eq(count_grant_files(2), 0);
	ck_assert_int_eq(count_grant_files(3), 0);
	xsp_close(p5);
	xsp_close(p1);
}
END_TEST

/* ---- unmap notification ---------------------------------------------------------- */

struct notify_arg {
	xsp_gref_t ref;
	xsp_port_t port;
	size_t offset;
};

/* Domain 2: bind the channel, map with notify, unmap in order, exit. */
static int mapper_notify(int in, int out, void *arg)
{
	struct notify_arg *a = arg;
	struct xsp *p = xp_open_as(2);
	struct xsp_unmap_notify n = { .offset = a->offset };
	struct xsp_map *m;
	unsigned char *c;

	CHILD_CHECK(p);
	CHILD_CHECK(xsp_evtchn_bind(p, 1, a->port, &n.ev) == 0);
	CHILD_CHECK(xsp_map(p, 1, 1, &a->ref, &n, &m) == 0);
	c = xsp_map_addr(m);
	CHILD_CHECK(c[a->offset] == 1);
	xsp_unmap(m);
	xsp_evtchn_close(n.ev);
	xsp_close(p);
	return 0;
}

START_TEST(unmap_notify_clears_byte_and_signals)
{
	struct xsp *p = xp_open_as(1);
	struct notify_arg a = { .offset = 100 };
	struct xsp_evtchn *ev;
	struct xsp_share *s;
	struct pollfd pfd;
	unsigned char *c;
	struct kid k;

	ck_assert_int_eq(xsp_evtchn_alloc(p, 2, &ev), 0);
	ck_assert_int_eq(xsp_share(p, 2, 1, NULL, &s), 0);
	c = xsp_share_addr(s);
	c[99] = c[100] = c[101] = 1;
	a.ref = xsp_share_refs(s)[0];
	a.port = xsp_evtchn_port(ev);
	k = xp_spawn(mapper_notify, &a);
	xp_wait_ok(&k);
	ck_assert_uint_eq(c[100], 0);
	ck_assert_uint_eq(c[99], 1);
	ck_assert_uint_eq(c[101], 1);
	pfd.fd = xsp_evtchn_fd(ev);
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 1000), 1);
	ck_assert_int_eq(xsp_evtchn_ack(ev), 1);	/* the notification first */
	ck_assert_int_eq(xsp_evtchn_ack(ev), -EPIPE);	/* then the closed peer */
	xsp_unshare(s);
	xsp_evtchn_close(ev);
	xsp_close(p);
}
END_TEST

/* Domain 2 maps and then gets SIGKILLed: the channel reports the death. */
static int mapper_dies(int in, int out, void *arg)
{
	struct notify_arg *a = arg;
	struct xsp *p = xp_open_as(2);
	struct xsp_unmap_notify n = { .offset = a->offset };
	struct xsp_map *m;

	CHILD_CHECK(p);
	CHILD_CHECK(xsp_evtchn_bind(p, 1, a->port, &n.ev) == 0);
	CHILD_CHECK(xsp_map(p, 1, 1, &a->ref, &n, &m) == 0);
	CHILD_CHECK(xp_send(out, 1) == 0);
	pause();
	return 0;
}

START_TEST(mapper_death_reported_by_evtchn)
{
	struct xsp *p = xp_open_as(1);
	struct notify_arg a = { .offset = 8 };
	struct xsp_evtchn *ev;
	struct xsp_share *s;
	uint32_t v;
	struct kid k;

	ck_assert_int_eq(xsp_evtchn_alloc(p, 2, &ev), 0);
	ck_assert_int_eq(xsp_share(p, 2, 1, NULL, &s), 0);
	((unsigned char *)xsp_share_addr(s))[8] = 1;
	a.ref = xsp_share_refs(s)[0];
	a.port = xsp_evtchn_port(ev);
	k = xp_spawn(mapper_dies, &a);
	ck_assert_int_eq(xp_recv(k.from, &v), 0);
	ck_assert_int_eq(xsp_evtchn_ack(ev), 0);
	xp_kill(&k);
	ck_assert_int_eq(xsp_evtchn_wait(ev, 1000), -EPIPE);
	xsp_unshare(s);
	xsp_evtchn_close(ev);
	xsp_close(p);
}
END_TEST

START_TEST(unshare_notify_reaches_mapper)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_unmap_notify n = { .offset = 4095 };
	struct xsp_evtchn *e1, *e2;
	struct xsp_share *s;
	struct xsp_map *m;
	unsigned char *c;

	ck_assert_int_eq(xsp_evtchn_alloc(p1, 2, &e1), 0);
	ck_assert_int_eq(xsp_evtchn_bind(p2, 1, xsp_evtchn_port(e1), &e2), 0);
	n.ev = e1;
	ck_assert_int_eq(xsp_share(p1, 2, 1, &n, &s), 0);
	((unsigned char *)xsp_share_addr(s))[4095] = 0xff;
	ck_assert_int_eq(xsp_map(p2, 1, 1, xsp_share_refs(s), NULL, &m), 0);
	c = xsp_map_addr(m);
	ck_assert_uint_eq(c[4095], 0xff);
	ck_assert_int_eq(xsp_evtchn_ack(e2), 0);
	xsp_unshare(s);
	ck_assert_uint_eq(c[4095], 0);
	ck_assert_int_eq(xsp_evtchn_wait(e2, 1000), 1);
	xsp_unmap(m);
	xsp_evtchn_close(e2);
	xsp_evtchn_close(e1);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

START_TEST(unshare_notify_fires_at_last_holder)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_unmap_notify n = { .offset = 64 };
	struct xsp_evtchn *e1, *e2;
	struct xsp_share *s;
	struct xsp_map *m;
	int go[2], status;
	unsigned char *c;
	char b;
	pid_t pid;

	ck_assert_int_eq(xsp_evtchn_alloc(p1, 2, &e1), 0);
	ck_assert_int_eq(xsp_evtchn_bind(p2, 1, xsp_evtchn_port(e1), &e2), 0);
	n.ev = e1;
	ck_assert_int_eq(xsp_share(p1, 2, 1, &n, &s), 0);
	((unsigned char *)xsp_share_addr(s))[64] = 1;
	ck_assert_int_eq(xsp_map(p2, 1, 1, xsp_share_refs(s), NULL, &m), 0);
	c = xsp_map_addr(m);
	ck_assert_int_eq(pipe(go), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {		/* inherits the share and the channel */
		close(go[1]);
		CHILD_CHECK(read(go[0], &b, 1) == 1);
		xsp_unshare(s);
		_exit(0);
	}
	close(go[0]);
	xsp_unshare(s);		/* not the last holder */
	ck_assert_uint_eq(c[64], 1);
	ck_assert_int_eq(count_grant_files(2), 1);
	ck_assert_int_eq(xsp_evtchn_ack(e2), 0);
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(c[64], 0);
	ck_assert_int_eq(count_grant_files(2), 0);
	ck_assert_int_eq(xsp_evtchn_wait(e2, 1000), 1);
	xsp_unmap(m);
	xsp_evtchn_close(e2);
	xsp_evtchn_close(e1);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

/* ---- stale grants ------------------------------------------------------------------ */

struct sharer_arg {
	unsigned int npages;
	bool fork_holder;	/* leave a forked grandchild holding the share */
};

static int sharer_then_sleep(int in, int out, void *arg)
{
	struct sharer_arg *a = arg;
	struct xsp *p = xp_open_as(1);
	struct xsp_share *s;
	pid_t holder = 0;

	CHILD_CHECK(p);
	CHILD_CHECK(xsp_share(p, 2, a->npages, NULL, &s) == 0);
	((unsigned char *)xsp_share_addr(s))[0] = 0x77;
	if (a->fork_holder) {
		holder = fork();
		CHILD_CHECK(holder >= 0);
		if (holder == 0) {
			close(out);
			pause();
			_exit(0);
		}
	}
	CHILD_CHECK(xp_send(out, xsp_share_refs(s)[0]) == 0);
	CHILD_CHECK(xp_send(out, (uint32_t)holder) == 0);
	pause();
	return 0;
}

START_TEST(stale_grants_of_killed_sharer_collected)
{
	struct sharer_arg a = { .npages = 3 };
	struct xsp *p2, *p7;
	struct xsp_share *s;
	struct xsp_map *m;
	uint32_t ref, holder;
	struct kid k;

	k = xp_spawn(sharer_then_sleep, &a);
	ck_assert_int_eq(xp_recv(k.from, &ref), 0);
	ck_assert_int_eq(xp_recv(k.from, &holder), 0);
	p2 = xp_open_as(2);
	ck_assert_int_eq(xsp_map(p2, 1, 1, &ref, NULL, &m), 0);	/* alive: maps */
	ck_assert_uint_eq(((unsigned char *)xsp_map_addr(m))[0], 0x77);
	xp_kill(&k);
	ck_assert_int_eq(count_grant_pages(2), 3);
	local_grant_gc_interval_ns = 0;		/* every share collects */
	p7 = xp_open_as(7);
	ck_assert_int_eq(xsp_share(p7, 9, 1, NULL, &s), 0);	/* triggers GC */
	ck_assert_int_eq(count_grant_files(2), 0);
	/* The existing mapping survives; a new one fails. */
	ck_assert_uint_eq(((unsigned char *)xsp_map_addr(m))[0], 0x77);
	xsp_unmap(m);
	ck_assert_int_eq(xsp_map(p2, 1, 1, &ref, NULL, &m), -ENOENT);
	xsp_unshare(s);
	xsp_close(p7);
	xsp_close(p2);
}
END_TEST

static int share_and_count(int in, int out, void *arg)
{
	struct xsp *p = xp_open_as(7);
	struct xsp_share *s;
	char path[256];
	int n;

	CHILD_CHECK(p);
	CHILD_CHECK(xsp_share(p, 9, 1, NULL, &s) == 0);		/* triggers GC */
	snprintf(path, sizeof(path), "%s/grant/2", dir);
	n = count_grant_pages(2);
	xsp_unshare(s);
	xsp_close(p);
	return n;
}

START_TEST(stale_gc_spares_forked_holder)
{
	struct sharer_arg a = { .npages = 2, .fork_holder = true };
	struct xsp *p2;
	struct xsp_map *m;
	uint32_t ref, holder;
	struct kid k, c;
	int i;

	k = xp_spawn(sharer_then_sleep, &a);
	ck_assert_int_eq(xp_recv(k.from, &ref), 0);
	ck_assert_int_eq(xp_recv(k.from, &holder), 0);
	ck_assert_int_gt(holder, 0);
	local_grant_gc_interval_ns = 0;		/* every share collects */
	xp_kill(&k);		/* the sharer dies, its forked child holds on */
	c = xp_spawn(share_and_count, NULL);
	ck_assert_int_eq(WEXITSTATUS(xp_wait(&c)), 2);	/* its 2 pages stay */
	p2 = xp_open_as(2);
	ck_assert_int_eq(xsp_map(p2, 1, 1, &ref, NULL, &m), 0);
	ck_assert_uint_eq(((unsigned char *)xsp_map_addr(m))[0], 0x77);
	xsp_unmap(m);
	kill((pid_t)holder, SIGKILL);
	/* Not our child: its files close when it dies, reaped or not. */
	for (i = 0; i < 100; i++) {
		c = xp_spawn(share_and_count, NULL);
		if (WEXITSTATUS(xp_wait(&c)) == 0)
			break;
		usleep(10000);
	}
	ck_assert_int_lt(i, 100);
	xsp_close(p2);
}
END_TEST

START_TEST(many_shares_no_fd_leak)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *s;
	struct xsp_map *m;
	int i, fds = xp_count_fds();

	for (i = 0; i < 300; i++) {
		ck_assert_int_eq(xsp_share(p1, 2, 2, NULL, &s), 0);
		ck_assert_int_eq(xsp_map(p2, 1, 2, xsp_share_refs(s), NULL, &m), 0);
		xsp_unmap(m);
		xsp_unshare(s);
	}
	ck_assert_int_eq(xp_count_fds(), fds);
	ck_assert_int_eq(count_grant_files(2), 0);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST


/* ---- budget count, ref allocation, cost --------------------------------------- */

static unsigned int pages_of(struct xsp *p, xsp_domid_t d)
{
	unsigned int n = 0xdead;

	ck_assert_int_eq(local_grant_pages(p, d, &n), 0);
	return n;
}

START_TEST(counter_add_batch_distinct_increasing)
{
	struct xsp *p = xp_open_as(1);
	uint32_t a, b, c;
	char path[256];
	FILE *f;

	ck_assert_int_eq(local_counter_add(p, "t-ctr", 5, &a), 0);
	ck_assert_uint_eq(a, 1);			/* 1..5 */
	ck_assert_int_eq(local_counter_add(p, "t-ctr", 3, &b), 0);
	ck_assert_uint_eq(b, 6);			/* 6..8 */
	ck_assert_int_eq(local_counter_next(p, "t-ctr", &c), 0);
	ck_assert_uint_eq(c, 9);
	ck_assert_int_eq(local_counter_add(p, "t-ctr", 0, &c), -EINVAL);
	ck_assert_int_eq(local_counter_add(p, "t-ctr", LOCAL_COUNTER_MAX_BATCH + 1, &c), -EINVAL);
	/* A batch never wraps: it starts over at 1 instead. */
	snprintf(path, sizeof(path), "%s/t-ctr", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "2147483644\n");
	fclose(f);
	ck_assert_int_eq(local_counter_add(p, "t-ctr", 3, &a), 0);
	ck_assert_uint_eq(a, 2147483645u);		/* ..2147483647 */
	ck_assert_int_eq(local_counter_add(p, "t-ctr", 2, &a), 0);
	ck_assert_uint_eq(a, 1);
	ck_assert_int_eq(local_counter_next(p, "t-ctr", &a), 0);
	ck_assert_uint_eq(a, 3);
	xsp_close(p);
}
END_TEST

START_TEST(share_refs_distinct_increasing)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *s, *t;
	struct xsp_map *m;
	const xsp_gref_t *r;
	unsigned int i;

	ck_assert_int_eq(xsp_share(p1, 2, 8, NULL, &s), 0);
	ck_assert_int_eq(xsp_share(p2, 1, 4, NULL, &t), 0);
	r = xsp_share_refs(s);
	for (i = 1; i < 8; i++)
		ck_assert_uint_gt(r[i], r[i - 1]);
	for (i = 0; i < 4; i++)
		ck_assert_uint_gt(xsp_share_refs(t)[i], r[7]);	/* host-wide */
	/* Each ref names its own page. */
	xp_fill(xsp_share_addr(s), 8 * XSP_PAGE_SIZE, 5);
	ck_assert_int_eq(xsp_map(p2, 1, 1, &r[6], NULL, &m), 0);
	ck_assert_mem_eq(xsp_map_addr(m), (char *)xsp_share_addr(s) + 6 * XSP_PAGE_SIZE,
			 XSP_PAGE_SIZE);
	xsp_unmap(m);
	xsp_unshare(t);
	xsp_unshare(s);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

START_TEST(budget_count_exact_share_unshare)
{
	struct xsp *p1, *p5;
	struct xsp_share *a, *b, *c, *d;

	setenv("XSOCK_GRANT_LIMIT", "6", 1);
	p1 = xp_open_as(1);
	p5 = xp_open_as(5);
	ck_assert_int_eq(xsp_share(p1, 2, 3, NULL, &a), 0);
	ck_assert_uint_eq(pages_of(p1, 1), 3);
	ck_assert_int_eq(xsp_share(p1, 3, 1, NULL, &b), 0);
	ck_assert_int_eq(xsp_share(p5, 2, 2, NULL, &d), 0);
	ck_assert_uint_eq(pages_of(p1, 1), 4);
	ck_assert_uint_eq(pages_of(p1, 5), 2);
	ck_assert_int_eq(xsp_share(p1, 2, 3, NULL, &c), -ENOSPC);	/* 7 > 6 */
	ck_assert_uint_eq(pages_of(p1, 1), 4);				/* unchanged */
	ck_assert_int_eq(xsp_share(p1, 2, 2, NULL, &c), 0);		/* exactly 6 */
	ck_assert_uint_eq(pages_of(p1, 1), 6);
	xsp_unshare(a);
	ck_assert_uint_eq(pages_of(p1, 1), 3);
	xsp_unshare(b);
	xsp_unshare(c);
	ck_assert_uint_eq(pages_of(p1, 1), 0);
	ck_assert_uint_eq(pages_of(p1, 5), 2);
	xsp_unshare(d);
	ck_assert_uint_eq(pages_of(p1, 5), 0);
	ck_assert_int_eq(count_grant_files(2), 0);
	ck_assert_int_eq(count_grant_files(3), 0);
	xsp_close(p5);
	xsp_close(p1);
}
END_TEST

START_TEST(budget_count_after_gc_of_killed_sharer)
{
	struct sharer_arg a = { .npages = 3 };
	struct xsp *p1;
	struct xsp_share *s, *t, *u;
	uint32_t ref, holder;
	unsigned long w;
	struct kid k;

	setenv("XSOCK_GRANT_LIMIT", "4", 1);
	p1 = xp_open_as(1);
	/* A killed sharer's pages count until collected ... */
	k = xp_spawn(sharer_then_sleep, &a);
	ck_assert_int_eq(xp_recv(k.from, &ref), 0);
	ck_assert_int_eq(xp_recv(k.from, &holder), 0);
	xp_kill(&k);
	ck_assert_uint_eq(pages_of(p1, 1), 3);
	/* ... and the first share of this process collects them (GC due). */
	ck_assert_int_eq(xsp_share(p1, 2, 1, NULL, &s), 0);
	ck_assert_uint_eq(pages_of(p1, 1), 1);
	ck_assert_int_eq(count_grant_pages(2), 1);

	/* GC not due: a share that the stale pages would refuse collects first. */
	local_grant_gc_interval_ns = 1000LL * 1000000000LL;
	k = xp_spawn(sharer_then_sleep, &a);
	ck_assert_int_eq(xp_recv(k.from, &ref), 0);
	ck_assert_int_eq(xp_recv(k.from, &holder), 0);
	xp_kill(&k);
	ck_assert_uint_eq(pages_of(p1, 1), 4);
	ck_assert_int_eq(count_grant_pages(2), 4);
	w = local_grant_walks;
	ck_assert_int_eq(xsp_share(p1, 2, 2, NULL, &t), 0);	/* 4 + 2 > 4 */
	ck_assert_uint_eq(local_grant_walks, w + 2);		/* GC, recount */
	ck_assert_uint_eq(pages_of(p1, 1), 3);
	ck_assert_int_eq(count_grant_pages(2), 3);
	/* Still exact: a real refusal. */
	ck_assert_int_eq(xsp_share(p1, 2, 2, NULL, &u), -ENOSPC);
	ck_assert_ptr_null(u);
	ck_assert_uint_eq(pages_of(p1, 1), 3);
	xsp_unshare(s);
	xsp_unshare(t);
	ck_assert_uint_eq(pages_of(p1, 1), 0);
	ck_assert_int_eq(count_grant_files(2), 0);
	xsp_close(p1);
}
END_TEST

START_TEST(budget_unknown_count_recounted)
{
	struct xsp *p1 = xp_open_as(1);
	struct xsp_share *s, *t;
	unsigned int n;
	char path[256];
	int fd;

	ck_assert_int_eq(xsp_share(p1, 2, 3, NULL, &s), 0);
	ck_assert_uint_eq(pages_of(p1, 1), 3);
	/* Lose the counts (e.g. a directory from an older library). */
	snprintf(path, sizeof(path), "%s/grant.lock", dir);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(local_grant_pages(p1, 1, &n), -ENODATA);
	ck_assert_int_eq(xsp_share(p1, 2, 2, NULL, &t), 0);
	ck_assert_uint_eq(pages_of(p1, 1), 5);
	xsp_unshare(s);
	xsp_unshare(t);
	ck_assert_uint_eq(pages_of(p1, 1), 0);
	xsp_close(p1);
}
END_TEST

/* Share and unshare cost O(pages): no walk of grant/ once the count is known. */
START_TEST(share_does_not_walk)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *s[200];
	unsigned long w;
	int i, fds;

	local_grant_gc_interval_ns = 1000LL * 1000000000LL;
	fds = xp_count_fds();
	ck_assert_int_eq(xsp_share(p1, 2, 2, NULL, &s[0]), 0);	/* first: GC, count */
	w = local_grant_walks;
	ck_assert_uint_eq(w, 2);
	for (i = 1; i < 200; i++)
		ck_assert_int_eq(xsp_share(i % 2 ? p1 : p2, i % 2 ? 2 : 1, 2, NULL, &s[i]), 0);
	ck_assert_int_eq(count_grant_files(2), 101);	/* s[0] and odd i */
	ck_assert_int_eq(count_grant_pages(2), 202);
	ck_assert_int_eq(count_grant_files(1), 99);
	ck_assert_uint_eq(pages_of(p1, 1), 202);
	ck_assert_uint_eq(pages_of(p1, 2), 198);
	for (i = 0; i < 200; i++)
		xsp_unshare(s[i]);
	/* Only p2's first share walked: domain 2's count was not known (GC, recount). */
	ck_assert_uint_eq(local_grant_walks, w + 2);
	ck_assert_uint_eq(pages_of(p1, 1), 0);
	ck_assert_uint_eq(pages_of(p1, 2), 0);
	ck_assert_int_eq(count_grant_files(2), 0);
	ck_assert_int_eq(count_grant_files(1), 0);
	ck_assert_int_eq(xp_count_fds(), fds);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

/* Refs of several shares, in any order, each page where its ref says. */
START_TEST(map_refs_across_shares)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_share *a, *b, *c;
	struct xsp_map *m;
	const xsp_gref_t *ra, *rb;
	xsp_gref_t refs[5], past;
	unsigned char *pa, *pb, *pm;
	unsigned int i;

	ck_assert_int_eq(xsp_share(p1, 2, 3, NULL, &a), 0);
	ck_assert_int_eq(xsp_share(p1, 2, 2, NULL, &b), 0);
	ck_assert_int_eq(xsp_share(p1, 3, 2, NULL, &c), 0);
	ra = xsp_share_refs(a);
	rb = xsp_share_refs(b);
	pa = xsp_share_addr(a);
	pb = xsp_share_addr(b);
	for (i = 0; i < 3; i++)
		memset(pa + i * XSP_PAGE_SIZE, 0x10 + i, XSP_PAGE_SIZE);
	for (i = 0; i < 2; i++)
		memset(pb + i * XSP_PAGE_SIZE, 0x20 + i, XSP_PAGE_SIZE);
	refs[0] = rb[1];
	refs[1] = ra[0];
	refs[2] = ra[1];
	refs[3] = ra[2];
	refs[4] = rb[0];
	ck_assert_int_eq(xsp_map(p2, 1, 5, refs, NULL, &m), 0);
	pm = xsp_map_addr(m);
	ck_assert_uint_eq(pm[0 * XSP_PAGE_SIZE + 7], 0x21);
	ck_assert_uint_eq(pm[1 * XSP_PAGE_SIZE + 7], 0x10);
	ck_assert_uint_eq(pm[2 * XSP_PAGE_SIZE + 7], 0x11);
	ck_assert_uint_eq(pm[3 * XSP_PAGE_SIZE + 4095], 0x12);
	ck_assert_uint_eq(pm[4 * XSP_PAGE_SIZE], 0x20);
	pm[3 * XSP_PAGE_SIZE] = 0x99;
	ck_assert_uint_eq(pa[2 * XSP_PAGE_SIZE], 0x99);
	xsp_unmap(m);
	/* One past the last page of a share: no grant. */
	past = xsp_share_refs(c)[1] + 1;
	ck_assert_int_eq(xsp_map(p2, 1, 1, &past, NULL, &m), -ENOENT);
	/* Inside another grantee's share: not ours. */
	ck_assert_int_eq(xsp_map(p2, 1, 1, &xsp_share_refs(c)[1], NULL, &m), -EPERM);
	/* Between shares of another sharer: the nearest share decides. */
	ck_assert_int_eq(xsp_map(p2, 5, 1, &ra[2], NULL, &m), -ENOENT);
	xsp_unshare(c);
	xsp_unshare(b);
	xsp_unshare(a);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

static Suite *grant_suite(void)
{
	Suite *s = suite_create("local_grant");
	TCase *tc = tcase_create("grant");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, share_map_both_directions);
	tcase_add_test(tc, map_from_other_domain_eperm);
	tcase_add_test(tc, map_unknown_ref_enoent);
	tcase_add_test(tc, map_names_wrong_sharer_enoent);
	tcase_add_test(tc, map_partial_failure_leaves_nothing);
	tcase_add_test(tc, map_same_grant_twice);
	tcase_add_test(tc, invalid_arguments);
	tcase_add_test(tc, fork_after_map_child_faults);
	tcase_add_test(tc, fork_after_share_child_keeps_page);
	tcase_add_test(tc, fork_child_maps_again);
	tcase_add_test(tc, fork_child_maps_again_revoked);
	tcase_add_test(tc, map_notify_disarm_and_arm);
	tcase_add_test(tc, map_orphan_keeps_bytes_drops_grants);
	tcase_add_test(tc, unshare_removes_files);
	tcase_add_test(tc, map_after_unshare_enoent);
	tcase_add_test(tc, grant_limit_enospc);
	tcase_add_test(tc, unmap_notify_clears_byte_and_signals);
	tcase_add_test(tc, mapper_death_reported_by_evtchn);
	tcase_add_test(tc, unshare_notify_reaches_mapper);
	tcase_add_test(tc, unshare_notify_fires_at_last_holder);
	tcase_add_test(tc, stale_grants_of_killed_sharer_collected);
	tcase_add_test(tc, stale_gc_spares_forked_holder);
	tcase_add_test(tc, many_shares_no_fd_leak);
	tcase_add_test(tc, counter_add_batch_distinct_increasing);
	tcase_add_test(tc, share_refs_distinct_increasing);
	tcase_add_test(tc, budget_count_exact_share_unshare);
	tcase_add_test(tc, budget_count_after_gc_of_killed_sharer);
	tcase_add_test(tc, budget_unknown_count_recounted);
	tcase_add_test(tc, share_does_not_walk);
	tcase_add_test(tc, map_refs_across_shares);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(grant_suite());
}
