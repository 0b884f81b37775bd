/* SPDX-License-Identifier: MIT */
/*
 * The fd table: which application fds are shim sockets (ring connections
 * and listeners), and the socket records themselves, found and counted
 * without a lock.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "common/compiler.h"
#include "preload/defer.h"
#include "preload/fdtable.h"
#include "preload/holder.h"
#include "preload/libc.h"
#include "preload/sock.h"

struct shim_sock **shim_tab;
int shim_tab_size;
int shim_tab_hi;		/* highest fd ever installed + 1 */
/* Taken with shim_lock() (defer.h), as is free_lock: a close() from a
 * signal handler must know when its thread holds one. */
static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * One pointer per possible fd, reserved once with mmap (pages are only
 * touched for fds actually used), sized from the hard RLIMIT_NOFILE so
 * every fd a process can have is covered.
 */
static int tab_init(void)
{
	struct rlimit rl;
	size_t n = 1u << 20;
	void *mem;

	/* (Set but sized 0: a fork() copied another thread's tab_init()
	 * halfway; the child does it again.) */
	if (shim_tab && shim_tab_size)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < n)
		n = rl.rlim_max < 1024 ? 1024 : rl.rlim_max;
	mem = mmap(NULL, n * sizeof(*shim_tab), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	shim_tab = mem;
	__atomic_store_n(&shim_tab_size, (int)n, __ATOMIC_RELEASE);
	return 0;
}

void shim_for_each_ring(void (*fn)(struct shim_sock *s))
{
	int fd;

	shim_lock(&tab_lock);
	for (fd = 0; fd < shim_tab_hi; fd++) {
		struct shim_sock *s = shim_tab[fd];

		/* A dup'ed connection is visited once per fd: harmless. */
		if (s && s->kind == SHIM_RING && s->rs)
			fn(s);
	}
	shim_unlock(&tab_lock);
}

void shim_for_each_sock_child(void (*fn)(struct shim_sock *s))
{
	int fd;

	/* A forked child runs one thread: no lock (and tab_lock is reset). */
	for (fd = 0; shim_tab && fd < shim_tab_hi; fd++)
		if (shim_tab[fd])
			fn(shim_tab[fd]);
}

/*
 * Records are type-stable: a freed one waits on this list for the next
 * allocation and is never unmapped, so a shim_get() that loaded a table
 * entry just before it was removed and freed still touches a record (its
 * refs at 0, or a new life's): it then finds the entry changed and lets
 * go. That makes the per-call lookup two atomic operations, not two
 * mutex round trips on one process-wide lock.
 */
static struct shim_sock *free_socks;	/* linked through ev_next */
static pthread_mutex_t free_lock = PTHREAD_MUTEX_INITIALIZER;	/* shim_sock_alloc() */

/*
 * A thread of the parent may have held either lock (records are
 * allocated and freed, fds installed and removed, outside the event
 * thread's fork quiescence): the child makes them anew. What they guard
 * is consistent at any instant that matters: the table's entries are
 * single atomic stores, shim_tab_hi only grows, a half-made table is
 * made again (tab_init()), and a record is on the free list or not.
 */
static void fdtable_child_after_fork(void)
{
	pthread_mutex_init(&free_lock, NULL);
	pthread_mutex_init(&tab_lock, NULL);
}

__attribute__((constructor)) static void fdtable_constructor(void)
{
	pthread_atfork(NULL, NULL, fdtable_child_after_fork);
}

struct shim_sock *shim_sock_alloc(void)
{
	struct shim_sock *s;

	shim_lock(&free_lock);
	s = free_socks;
	if (s)
		free_socks = s->ev_next;
	shim_unlock(&free_lock);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
	}
	/* All but refs, which a stale shim_get() may look at (it is 0 here,
	 * and nobody increments a 0). */
	memset((char *)s + offsetof(struct shim_sock, kind), 0,
	       sizeof(*s) - offsetof(struct shim_sock, kind));
	s->gen = shim_gen;
	/* Release: the zeroed fields before a stale getter's increment. */
	__atomic_store_n(&s->refs, 1, __ATOMIC_RELEASE);
	return s;
}

void shim_sock_free(struct shim_sock *s)
{
	shim_lock(&free_lock);
	s->ev_next = free_socks;
	free_socks = s;
	shim_unlock(&free_lock);
}

struct shim_sock *shim_peek(int fd)
{
	struct shim_sock *s;
	int r;

	if (!shim_maybe_ours(fd))
		return NULL;
	for (;;) {
		s = __atomic_load_n(&shim_tab[fd], __ATOMIC_ACQUIRE);
		if (!s)
			return NULL;
		/* A reference unless the record is free (0): then it is on
		 * its way out of the table, look again. */
		r = __atomic_load_n(&s->refs, __ATOMIC_RELAXED);
		while (r > 0 && !__atomic_compare_exchange_n(&s->refs, &r, r + 1, true,
							      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			;
		if (r <= 0)
			continue;	/* the table holds a reference: s left it */
		/* Still the entry for fd (not a record freed and reused since
		 * we loaded it)? Acquire: orders this load after the CAS. */
		if (__atomic_load_n(&shim_tab[fd], __ATOMIC_ACQUIRE) == s)
			return s;
		shim_put(s);
	}
}

struct shim_sock *shim_get(int fd)
{
	struct shim_sock *s = shim_peek(fd);

	if (!s || shim_guard)
		return s;
	/* Inherited by fork() and not used here yet (holder.c). */
	if (__atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) != shim_gen)
		holder_touch(s);
	/* Its server closed it: ours to serve (holder.c). */
	if (s->kind == SHIM_RING && s->rs &&
	    XS_UNLIKELY(__atomic_load_n(&s->rs->resigned, __ATOMIC_RELAXED)) && !s->claim_off)
		holder_claim(s);
	return s;
}

void shim_put(struct shim_sock *s)
{
	bool last;

	if (!s)
		return;
	/* Acquire-release: every use of the record before the last put
	 * happens before shim_sock_end(). */
	last = __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0;
	if (last)
		shim_sock_end(s);
}

int shim_refs(struct shim_sock *s)
{
	return __atomic_load_n(&s->refs, __ATOMIC_ACQUIRE);
}

void shim_ref_many(struct shim_sock **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		__atomic_add_fetch(&v[i]->refs, 1, __ATOMIC_RELAXED);
}

void shim_put_many(struct shim_sock **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		shim_put(v[i]);
}

int shim_install(int fd, struct shim_sock *s)
{
	int rc;

	shim_lock(&tab_lock);
	rc = tab_init();
	if (rc == 0 && (fd < 0 || fd >= shim_tab_size))
		rc = -EMFILE;
	if (rc == 0) {
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
		if (fd + 1 > shim_tab_hi)
			shim_tab_hi = fd + 1;
		__atomic_store_n(&shim_tab[fd], s, __ATOMIC_RELEASE);
	}
	shim_unlock(&tab_lock);
	return rc;
}

struct shim_sock *shim_ring_of(int fd)
{
	struct shim_sock *s;

	shim_resolve();
	if (shim_guard || !shim_maybe_ours(fd))
		return NULL;
	s = shim_get(fd);
	if (s && s->kind != SHIM_RING) {
		shim_put(s);
		return NULL;
	}
	return s;
}

struct shim_sock *shim_remove(int fd)
{
	struct shim_sock *s;

	if (!shim_maybe_ours(fd))
		return NULL;
	shim_lock(&tab_lock);
	/* An exchange: a close() from a signal handler takes entries out
	 * without the lock (defer.c); only one of the two gets it. */
	s = __atomic_exchange_n(&shim_tab[fd], NULL, __ATOMIC_ACQ_REL);
	shim_unlock(&tab_lock);
	return s;
}
