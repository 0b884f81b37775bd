/* SPDX-License-Identifier: MIT */
/*
 * The shared state arena (preload/arena.c): slots are handed out past the
 * header; a slot given back by the arena's maker is reused at once; a slot
 * whose connection ended in another process (a forked child that claimed
 * its serving) is marked there and taken back by the maker when its free
 * list runs dry -- once, however often it was marked; a slot given back
 * without "ended" is never reused.
 */
#include "config.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload/arena.h"
#include "preload/defer.h"
#include "preload/libc.h"
#include "testutil.h"

/* What arena.c uses of the rest of the shim (preload/defer.h, libc.h). */
__thread int shim_guard __attribute__((tls_model("initial-exec")));
__thread int shim_locks __attribute__((tls_model("initial-exec")));
int defer_n;
void defer_run(void)
{
}

static uint64_t off_of(void *p)
{
	uint64_t off;
	int fd;

	ck_assert_int_eq(arena_locate(p, &fd, &off), 0);
	return off;
}

START_TEST(reuse_and_harvest)
{
	void *a, *b, *c, *d, *e, *again;
	int st, fd;
	uint64_t off;
	pid_t pid;

	a = arena_get();
	b = arena_get();
	c = arena_get();
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(c);
	/* Past the header (a byte per slot): never slot 0. */
	ck_assert_uint_ge(off_of(a), 256u * 257u);
	ck_assert_uint_eq(off_of(b), off_of(a) + ARENA_SLOT);
	/* The header's slots are no slot to adopt. */
	ck_assert_int_eq(arena_locate(a, &fd, &off), 0);
	ck_assert_int_eq(arena_adopt(fd, 0, &again), -EINVAL);

	/* Ours, ended: reused at once (and zeroed). */
	memset(b, 0x5a, ARENA_SLOT);
	arena_put(b, true);
	again = arena_get();
	ck_assert_ptr_eq(again, b);
	ck_assert_int_eq(((unsigned char *)again)[17], 0);

	/* A child ends a and c's... c without "ended": only a comes back. */
	memset(a, 0x5a, ARENA_SLOT);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		void *mine;

		arena_after_fork();
		arena_put(a, true);
		arena_put(a, true);	/* twice: counted once */
		arena_put(c, false);
		arena_put(&st, true);	/* not in an arena: ignored */
		/* The child allocates from an arena of its own. */
		mine = arena_get();
		_exit(mine && mine != a && mine != c ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	d = arena_get();
	ck_assert_ptr_eq(d, a);		/* harvested */
	ck_assert_int_eq(((unsigned char *)d)[17], 0);
	e = arena_get();
	ck_assert_ptr_ne(e, a);
	ck_assert_ptr_ne(e, c);		/* c was only let go of */
	ck_assert_uint_eq(off_of(e), off_of(c) + ARENA_SLOT);
}
END_TEST

static Suite *arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("slots");

	tcase_add_test(tc, reuse_and_harvest);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(arena_suite());
}
