/* SPDX-License-Identifier: MIT */
/*
 * close() from a signal handler that interrupted the shim on its own
 * thread: what can be done at once without a lock, and the rest later.
 *
 * close() is async-signal-safe (POSIX), so a program may call it from a
 * handler (tests/hostile/test_signal_close.sh does). The shim's close()
 * of a ring or listener fd takes the fd table's lock, the epoll sets'
 * lock, the event thread's lock, and may free memory; if the handler
 * interrupted this very thread inside one of those (an epoll_wait()
 * looking at its set, a dup() installing its copy), waiting for it would
 * wait for ever. So when this thread is inside the shim (shim_busy():
 * holding one of those locks, counted by shim_lock(), or with the
 * recursion guard set), close() does only what needs no lock: the table
 * entry is taken out with one atomic exchange (so the number is no
 * longer ours the moment the kernel may hand it out again), the fd is
 * closed for real, and the entry's reference goes into a fixed array of
 * slots, claimed and released with atomics. The interrupted thread
 * finishes the job when it lets go of its last lock (shim_unlock()), as
 * does any close(), epoll or dup call made outside the shim: the epoll
 * sets forget the fd and the reference is dropped, which ends the
 * connection if nothing else holds it (else the event thread sees end B
 * hang up later, as for any close).
 *
 * The alternative, blocking signals around every such critical section,
 * costs two system calls per epoll_wait() and epoll_ctl() and still
 * leaves the locks the store backends take under the guard; this costs
 * nothing on those paths.
 */
#include "config.h"

#include <errno.h>

#include "preload/defer.h"
#include "preload/epoll.h"
#include "preload/evloop.h"
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/shim.h"

__thread int shim_locks __attribute__((tls_model("initial-exec")));
int defer_n;

/* Closes waiting to be finished. More at once than this (from handlers,
 * while one thread holds one lock) leak the reference: the connection
 * then ends with the process, never wrongly. */
#define DEFER_SLOTS 256

enum { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_TAKEN };

struct defer_slot {
	int state;			/* SLOT_*, atomic */
	int fd;				/* the number that was closed */
	struct shim_sock *s;		/* its entry's reference; NULL: an epoll fd */
};

static struct defer_slot slots[DEFER_SLOTS];

/* Async-signal-safe: atomics on static memory only. */
static void defer_push(int fd, struct shim_sock *s)
{
	int i;

	for (i = 0; i < DEFER_SLOTS; i++) {
		struct defer_slot *d = &slots[i];
		int st = SLOT_FREE;

		/* Acquire: the slot's last reader is done with it. */
		if (!__atomic_compare_exchange_n(&d->state, &st, SLOT_FILLING, false,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		__atomic_add_fetch(&defer_n, 1, __ATOMIC_RELAXED);
		d->fd = fd;
		d->s = s;
		/* Release: fd and s before the state that hands them over. */
		__atomic_store_n(&d->state, SLOT_READY, __ATOMIC_RELEASE);
		return;
	}
}

int close_busy(int fd)
{
	struct shim_sock *s = NULL;
	int rc, err;

	if (shim_maybe_ours(fd))
		s = __atomic_exchange_n(&shim_tab[fd], NULL, __ATOMIC_ACQ_REL);
	rc = shim_real.close(fd);
	err = errno;
	/*
	 * A ring or listener fd: its reference and epoll entries. Any other
	 * fd only matters if it was an epoll set we track; under the guard
	 * (the shim closing its own fds, which never are) it is not looked
	 * at.
	 */
	if (s || (rc == 0 && !shim_guard && __atomic_load_n(&ep_live, __ATOMIC_RELAXED)))
		defer_push(fd, s);
	errno = err;
	return rc;
}

/* What release_fd() (fdops.c) does after taking the entry out. */
static void defer_finish(int fd, struct shim_sock *s)
{
	if (!s) {
		ep_fd_closed(fd);
		return;
	}
	ep_fd_gone(fd, s);
	fd_released(s);
	shim_put(s);
}

void defer_run(void)
{
	int i;

	if (shim_busy())
		return;
	SHIM_ENTER();
	for (i = 0; i < DEFER_SLOTS && __atomic_load_n(&defer_n, __ATOMIC_RELAXED); i++) {
		struct defer_slot *d = &slots[i];
		int st = SLOT_READY, fd;
		struct shim_sock *s;

		/* Acquire: pairs with the release in defer_push(). */
		if (!__atomic_compare_exchange_n(&d->state, &st, SLOT_TAKEN, false,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		fd = d->fd;
		s = d->s;
		/* Release: our reads of the slot before it is free again. */
		__atomic_store_n(&d->state, SLOT_FREE, __ATOMIC_RELEASE);
		__atomic_sub_fetch(&defer_n, 1, __ATOMIC_RELAXED);
		defer_finish(fd, s);
	}
	SHIM_LEAVE();
}
