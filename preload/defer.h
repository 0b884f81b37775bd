/* SPDX-License-Identifier: MIT */
/*
 * close() from a signal handler (defer.c), and the locks that decide
 * when it must not wait for anything.
 */
#ifndef XSOCK_PRELOAD_DEFER_H
#define XSOCK_PRELOAD_DEFER_H

#include <pthread.h>
#include <stdbool.h>

#include "preload/libc.h"

/*
 * How many of the shim's locks this thread holds or waits for: the ones
 * close() may take (the fd table's, the epoll sets', the event thread's,
 * the record lists'). A close() that finds it non-zero, or finds the
 * recursion guard set, interrupted its own thread inside the shim (it is
 * running in a signal handler, since close() is async-signal-safe): it
 * must not take those locks, nor do anything that could (malloc, the
 * store), and defers that part (defer.c).
 */
extern __thread int shim_locks __attribute__((tls_model("initial-exec")));

/* Some of the deferred closes are waiting (atomic; a hint). */
extern int defer_n;

/* Finish the deferred closes, if there are any and this thread may. */
void defer_run(void);

static inline bool shim_busy(void)
{
	return shim_locks || shim_guard;
}

static inline void defer_poll(void)
{
	if (__atomic_load_n(&defer_n, __ATOMIC_RELAXED) && !shim_busy())
		defer_run();
}

static inline void shim_lock(pthread_mutex_t *m)
{
	shim_locks++;
	/* Compiler barrier: the count is up before the lock may be held (a
	 * signal handler on this thread reads it). */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	pthread_mutex_lock(m);
}

static inline void shim_unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
	/* Compiler barrier: the count goes down only once the lock is let go. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	shim_locks--;
	/* A handler deferred a close while we held it: finish it now. */
	defer_poll();
}

/*
 * fork(): a lock the prepare handler took with shim_lock() is made anew
 * in the child (the count, a copy of the parent thread's, drops too).
 */
static inline void shim_lock_child(pthread_mutex_t *m)
{
	pthread_mutex_init(m, NULL);
	shim_locks--;
}

/*
 * close(@fd) while shim_busy(): take @fd out of the table and close it
 * now, lock-free; its table entry's reference and the epoll sets that
 * named it are dealt with by the next defer_run(). The result of the
 * real close(), errno set.
 */
int close_busy(int fd);

#endif /* XSOCK_PRELOAD_DEFER_H */
