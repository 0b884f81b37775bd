/* SPDX-License-Identifier: MIT */
/*
 * Who may use the local backend's directory, and the modes of what it
 * creates (docs/protocol.md, "Who may use rings"):
 * - a private directory (not setgid) gets 0600 files and FIFOs, 0700
 *   directories, whatever the umask;
 * - a setgid directory (xsockctl setup) is its group's: 0660 and 02770,
 *   the group's, even under umask 077, so another member (another uid)
 *   uses what the first created;
 * - a directory that belongs to another user than root or us, or that
 *   everyone may write, is refused (-EPERM); one we may not read, write
 *   and search is refused (-EACCES);
 * - a process that used the backend and then chroot()s and setuid()s to
 *   a member still opens it (the directory fd is kept).
 * Each check runs in a child (setuid, chroot); the child's exit status is
 * the line of the first failed step, 0 when all passed.
 * On main (8badffb) 4 of the 5 fail: shared_modes (31 entries 0600/0700,
 * e.g. store.lock 0600, store-txn 2700), nonmember_refused (a non-member
 * opened the backend: O_PATH needs no access), untrusted_refused (another
 * user's directory accepted), chroot_setuid_keeps_dir (the open after
 * chroot fails); private_modes passes there too (nothing changed for a
 * private tree).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "platform/platform.h"
#include "testutil.h"

#define TEST_GID 54321	/* the "xsock" group of these tests: no need to exist */
#define MEMBER_UID 54322
#define OTHER_UID 54323

static const char *dir;

static void setup(void)
{
	dir = tu_fresh_local_dir();
	setenv("XSOCK_DOMID", "0", 1);
}

static void teardown(void)
{
	tu_rm_rf(dir);
}

#define STEP(cond)                       \
	do {                             \
		if (!(cond))             \
			_exit(__LINE__ % 256 ? __LINE__ % 256 : 1); \
	} while (0)

/* Run @fn in a child; its exit status (0: every step passed). */
static int in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Become @uid with the test group as a supplementary group, or none. */
static int become(uid_t uid, bool member)
{
	gid_t g = TEST_GID;

	if (setgroups(member ? 1 : 0, &g) < 0 || setgid(65534) < 0 || setuid(uid) < 0)
		return -1;
	return 0;
}

/* What every backend user does: store node, grant, event channel. */
static int use_backend(const char *node)
{
	struct xsp_store *st;
	struct xsp_share *s;
	struct xsp_evtchn *e;
	struct xsp *p = NULL;
	int rc;

	rc = xsp_open_backend("local", &p);
	if (rc < 0)
		return rc;
	rc = xsp_store_open(p, &st);
	if (rc == 0) {
		rc = xsp_store_write(st, XSP_TXN_NONE, node, "v", 1);
		xsp_store_close(st);
	}
	if (rc == 0) {
		rc = xsp_share(p, 1, 2, NULL, &s);
		if (rc == 0)
			xsp_unshare(s);
	}
	if (rc == 0) {
		rc = xsp_evtchn_alloc(p, 1, &e);
		if (rc == 0)
			xsp_evtchn_close(e);
	}
	/* A share kept, so that its file is there to be looked at. */
	if (rc == 0 && xsp_share(p, 1, 1, NULL, &s) < 0)
		rc = -EIO;
	return rc;
}

static mode_t want_file, want_dir;
static gid_t want_gid;
static int bad_modes;

static int check_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	mode_t m = st->st_mode & 07777;

	if (f->level == 0 || type == FTW_SL)
		return 0;
	if (strstr(path, "/status"))
		return 0;	/* src/conn/status.c's, not the backend's */
	if (S_ISDIR(st->st_mode) ? m != want_dir : m != want_file) {
		fprintf(stderr, "%s: mode %04o\n", path, (unsigned int)m);
		bad_modes++;
	}
	if (want_gid != (gid_t)-1 && st->st_gid != want_gid) {
		fprintf(stderr, "%s: gid %u\n", path, (unsigned int)st->st_gid);
		bad_modes++;
	}
	return 0;
}

static int tree_modes_ok(mode_t file, mode_t d, gid_t gid)
{
	want_file = file;
	want_dir = d;
	want_gid = gid;
	bad_modes = 0;
	ck_assert_int_eq(nftw(dir, check_one, 16, FTW_PHYS), 0);
	return bad_modes;
}

static void make_shared(void)
{
	ck_assert_int_eq(chown(dir, 0, TEST_GID), 0);
	ck_assert_int_eq(chmod(dir, 02770), 0);
}

/* ---- modes ------------------------------------------------------------------ */

static int private_tree(void)
{
	umask(0);
	STEP(use_backend("/local/domain/0/data/t") == 0);
	return 0;
}

START_TEST(test_private_modes)
{
	ck_assert_int_eq(in_child(private_tree), 0);
	ck_assert_int_eq(tree_modes_ok(0600, 0700, (gid_t)-1), 0);
}
END_TEST

static int member_tree(void)
{
	umask(077);
	STEP(become(MEMBER_UID, true) == 0);
	STEP(use_backend("/local/domain/0/data/m") == 0);
	return 0;
}

static int other_member_tree(void)
{
	umask(022);
	STEP(become(OTHER_UID, true) == 0);
	/* Locks, counters and store files the first member created. */
	STEP(use_backend("/local/domain/0/data/o") == 0);
	return 0;
}

START_TEST(test_shared_modes)
{
	make_shared();
	ck_assert_int_eq(in_child(member_tree), 0);
	ck_assert_int_eq(tree_modes_ok(0660, 02770, TEST_GID), 0);
	ck_assert_int_eq(in_child(other_member_tree), 0);
	ck_assert_int_eq(tree_modes_ok(0660, 02770, TEST_GID), 0);
}
END_TEST

/* ---- who may open it --------------------------------------------------------- */

static int expect_rc;

static int open_as_nonmember(void)
{
	struct xsp *p = NULL;

	STEP(become(OTHER_UID, false) == 0);
	STEP(xsp_open_backend("local", &p) == expect_rc);
	return 0;
}

static int open_as_member(void)
{
	struct xsp *p = NULL;

	STEP(become(MEMBER_UID, true) == 0);
	STEP(xsp_open_backend("local", &p) == expect_rc);
	return 0;
}

START_TEST(test_nonmember_refused)
{
	expect_rc = -EACCES;
	ck_assert_int_eq(in_child(open_as_nonmember), 0);	/* root's 0700 */
	make_shared();
	ck_assert_int_eq(in_child(open_as_nonmember), 0);	/* not a member */
	expect_rc = 0;
	ck_assert_int_eq(in_child(open_as_member), 0);
}
END_TEST

START_TEST(test_untrusted_refused)
{
	struct xsp *p = NULL;

	/* Another user's directory: its owner could read our rings. */
	ck_assert_int_eq(chown(dir, OTHER_UID, 0), 0);
	ck_assert_int_eq(xsp_open_backend("local", &p), -EPERM);
	expect_rc = -EPERM;
	ck_assert_int_eq(in_child(open_as_member), 0);
	/* Everyone may write it (even sticky: anyone may plant files). */
	ck_assert_int_eq(chown(dir, 0, 0), 0);
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_eq(xsp_open_backend("local", &p), -EPERM);
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(xsp_open_backend("local", &p), 0);
	xsp_close(p);
}
END_TEST

/* ---- chroot and setuid after the first use ------------------------------------ */

static char jail[64];

static int chroot_then_setuid(void)
{
	STEP(use_backend("/local/domain/0/data/before") == 0);
	STEP(chroot(jail) == 0 && chdir("/") == 0);
	STEP(become(MEMBER_UID, true) == 0);
	/* A forked child opens its own backend: so does this one. */
	STEP(use_backend("/local/domain/0/data/after") == 0);
	return 0;
}

START_TEST(test_chroot_setuid_keeps_dir)
{
	char path[256];
	struct stat st;

	make_shared();
	snprintf(jail, sizeof(jail), "/tmp/xsock-jail-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(jail));
	ck_assert_int_eq(in_child(chroot_then_setuid), 0);
	/* Written in the real directory, nothing made inside the jail. */
	snprintf(path, sizeof(path), "%s/store/local/domain/0/data/after", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, MEMBER_UID);
	ck_assert_int_eq(tu_count_entries(jail), 0);
	ck_assert_int_eq(rmdir(jail), 0);
}
END_TEST

static Suite *modes_suite(void)
{
	Suite *s = suite_create("local_modes");
	TCase *tc = tcase_create("modes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_private_modes);
	tcase_add_test(tc, test_shared_modes);
	tcase_add_test(tc, test_nonmember_refused);
	tcase_add_test(tc, test_untrusted_refused);
	tcase_add_test(tc, test_chroot_setuid_keeps_dir);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "check_local_modes: SKIPPED: needs root (setuid, chroot)\n");
		return 77;
	}
	return tu_run(modes_suite());
}
