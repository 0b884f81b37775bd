/* SPDX-License-Identifier: MIT */
/*
 * Readiness of ring sockets: what end A shows the kernel (tokens, plugs,
 * hang-up), who asked the peer for notifications, and waiting for the
 * next one; and the state behind it, shared with forked children, with
 * the locks that serialize the ring's readers and writers.
 *
 * The rules (docs/performance.md, "Waiting"):
 *   - A carries a token byte while the ring has data or news (EOF, error),
 *     is plugged (polls unwritable) while the ring is short of room, and
 *     reads EOF for good once the peer hung up. The token and the plug are
 *     brought up to date lazily: by the event thread when the peer
 *     notifies, by the application's own reads and writes, and by the
 *     intercepted poll/select/epoll calls just before they ask the kernel.
 *   - The peer notifies us (an event channel kick, a system call on its
 *     side and a wake-up of our event thread on ours) only while we ask
 *     for it: while a thread of ours sleeps in the kernel waiting for the
 *     ring ("active": counted in sleep_rd/sleep_wr), or "passively" while
 *     nobody here is looking at the ring: from creation until the first
 *     read, after a call returned EAGAIN, and after the event thread's
 *     sweep found a ring nobody asked about (a program waiting in a call
 *     we do not intercept is woken that way). A program reading or
 *     spinning in an intercepted wait does not ask, so a stream of small
 *     writes costs its writer no system call at all.
 *
 * The state lives in memory shared with forked children (MAP_SHARED):
 * after fork() the parent's event thread and a child that uses the
 * connection (the inetd and PostgreSQL pattern) must agree on what A
 * holds. Its lock is process-shared and robust: a process killed while
 * holding it does not wedge the others (the state is re-read from the
 * kernel then). So are the reader's and the writer's locks: the ring's
 * indexes are shared by our processes too (struct xsr_own), so one
 * reader and one writer at a time in all of them; neither lock is ever
 * held while a thread sleeps, so a fork() that copies a held one leaves
 * the child waiting only for a copy that is about to end.
 *
 * The shim works on end A only through the fd the application's call
 * came in on (@afd below; -1 for the event thread, which never needs
 * to): the numbers that name a socket change with every dup() and
 * close(), and a number closed may name an unrelated file the next
 * instant.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/sockios.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "preload/arena.h"
#include "preload/defer.h"
#include "preload/evloop.h"
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/ready.h"
#include "preload/shim.h"

/* ---- the shared state ---------------------------------------------------------- */

/*
 * A ring socket polls writable (A unplugged) only while at least half the
 * ring is free, as TCP polls writable only with room to spare: a program
 * that writes after select() said "writable" must not block in the middle
 * of its write while it still has data to read (socat, for one, would
 * deadlock against a peer doing the same).
 */
static bool room_to_write(struct xsr *r)
{
	ssize_t space = xsr_tx_space(r);

	return space < 0 || (size_t)space >= r->size / 2;
}
/*
 * Fields change under the lock but are also read without it (the fast
 * paths look before they lock): relaxed atomics, so that such a look is a
 * defined (if possibly stale) value. Staleness is harmless: every change
 * is re-decided under the lock.
 */
#define RS_GET(rs, f) __atomic_load_n(&(rs)->f, __ATOMIC_RELAXED)
#define RS_SET(rs, f, v) __atomic_store_n(&(rs)->f, (v), __ATOMIC_RELAXED)

/*
 * Readiness pages of ended rings are kept for the next ring (no mmap and
 * munmap per connection). Only the process that mapped a page reuses it,
 * and only once its ring has ended everywhere (its socketpair hung up:
 * no process touches the page again). A forked child starts with an empty
 * list: the pages on its copy of the list are its parent's to reuse.
 */
#define RS_KEEP 64
_Static_assert(sizeof(struct shim_rstate) <= ARENA_SLOT, "struct shim_rstate fits a slot");
/* Taken with shim_lock() (defer.h): close() may free a ring socket. */
static pthread_mutex_t rs_free_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_rstate *rs_free;
static int rs_nfree;

static void rs_child_after_fork(void)
{
	pthread_mutex_init(&rs_free_lock, NULL);
	rs_free = NULL;
	rs_nfree = 0;
}

__attribute__((constructor)) static void ready_constructor(void)
{
	pthread_atfork(NULL, NULL, rs_child_after_fork);
}

int sock_ready_init(struct shim_sock *s)
{
	pthread_mutexattr_t ma;
	struct shim_rstate *rs;

	/* In the arena: it can cross exec (arena.h). Else a page of its own. */
	rs = arena_get();
	if (!rs) {
		shim_lock(&rs_free_lock);
		rs = rs_free;
		if (rs) {
			rs_free = rs->next_free;
			rs_nfree--;
		}
		shim_unlock(&rs_free_lock);
	}
	if (rs) {
		memset(rs, 0, sizeof(*rs));
	} else {
		rs = mmap(NULL, sizeof(*rs), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			  -1, 0);
		if (rs == MAP_FAILED)
			return -errno;
	}
	rs->maker = getpid();
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&rs->lock, &ma);
	pthread_mutex_init(&rs->rlock, &ma);
	pthread_mutex_init(&rs->wlock, &ma);
	pthread_mutexattr_destroy(&ma);
	RS_SET(rs, passive_rd, 1);	/* the first byte must wake whatever waits */
	s->rs = rs;
	/* Invariant: the waiting word says what passive_* and sleep_* ask. */
	xsr_set_wait(&s->conn->ring, XSR_READABLE);
	return 0;
}

void sock_ready_free(struct shim_sock *s)
{
	if (!s->rs)
		return;
	/* Not destroyed: a forked child may still use it; unmapping is ours. */
	struct shim_rstate *rs = s->rs;
	bool keep = false;
	uint64_t off;
	int fd;

	s->rs = NULL;
	if (arena_locate(rs, &fd, &off) == 0) {
		/* The server lets go last: the connection ended everywhere
		 * (another process's arena: marked for its maker, arena.c). */
		arena_put(rs, s->owner == getpid());
		return;
	}
	if (rs->maker == getpid() && s->owner == getpid()) {
		shim_lock(&rs_free_lock);
		if (rs_nfree < RS_KEEP) {
			rs->next_free = rs_free;
			rs_free = rs;
			rs_nfree++;
			keep = true;
		}
		shim_unlock(&rs_free_lock);
	}
	if (!keep)
		munmap(rs, sizeof(*rs));
}

static void rs_lock(struct shim_sock *s)
{
	struct shim_rstate *rs = s->rs;
	int n = 0;

	if (pthread_mutex_lock(&rs->lock) != EOWNERDEAD)
		return;
	/* Its holder died mid-update: what A holds is in the kernel. */
	RS_SET(rs, tok, ioctl(s->bfd, SIOCOUTQ, &n) == 0 && n > 0);
	n = 0;
	RS_SET(rs, plug, ioctl(s->bfd, SIOCINQ, &n) == 0 && n > 0);
	pthread_mutex_consistent(&rs->lock);
}

static void rs_unlock(struct shim_sock *s)
{
	pthread_mutex_unlock(&s->rs->lock);
}

void sock_io_lock(struct shim_sock *s, bool rd)
{
	pthread_mutex_t *m = rd ? &s->rs->rlock : &s->rs->wlock;

	/* Its holder died mid-copy: the ring's indexes move only after a
	 * copy (struct xsr_own), so what it did not finish never happened. */
	if (pthread_mutex_lock(m) == EOWNERDEAD)
		pthread_mutex_consistent(m);
}

void sock_io_unlock(struct shim_sock *s, bool rd)
{
	pthread_mutex_unlock(rd ? &s->rs->rlock : &s->rs->wlock);
}

/*
 * Plugging A fills its send buffer (the kernel's minimum, ~4.5 KiB) with
 * junk, in one send() that the buffer cuts short and one that fails; a
 * buffer this size takes it back in one recv(). (512 bytes at a time cost
 * ten system calls a plug: a writer that meets a full ring again and
 * again pays them each time.)
 */
#define PLUG_CHUNK 8192

static void drain(int fd)
{
	char buf[PLUG_CHUNK];

	/* A short read means the queue is empty now: no second call. */
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == (ssize_t)sizeof(buf))
		;
}

/*
 * @afd, the fd the application's call came in on, if it is still end A
 * of @s in this process; else -1. A's fd number is only ours to use while
 * the table still says so (after the application closed it, or in a
 * parent that closed its copy after fork, the number may name somebody
 * else's file).
 */
static int a_fd(struct shim_sock *s, int afd)
{
	if (afd >= 0 && afd < shim_tab_size &&
	    __atomic_load_n(&shim_tab[afd], __ATOMIC_ACQUIRE) == s)
		return afd;
	return -1;
}

/*
 * Under the lock: make A match the ring; @plug: also plug when short of
 * room. The token is taken back only by the application's own calls
 * (@app, through @afd): the event thread adds, never removes.
 */
static void sync_locked(struct shim_sock *s, int afd, unsigned int m, bool plug, bool app)
{
	static const char junk[PLUG_CHUNK];
	struct shim_rstate *rs = s->rs;
	bool news = m & (XSR_READABLE | XSR_RDHUP | XSR_HUP | XSR_ERR);
	bool room = (m & (XSR_HUP | XSR_ERR)) || room_to_write(&s->conn->ring);

	if (RS_GET(rs, rd_shut))
		news = true;
	if (!RS_GET(rs, hup)) {
		if (news && !RS_GET(rs, tok)) {
			send(s->bfd, "r", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			RS_SET(rs, tok, 1);
		} else if (!news && RS_GET(rs, tok) && app) {
			int fd = a_fd(s, afd);

			if (fd >= 0) {
				drain(fd);
				RS_SET(rs, tok, 0);
			}
		}
		if (m & (XSR_RDHUP | XSR_HUP | XSR_ERR)) {
			/* A now reads end-of-file forever: readable, and EPOLLRDHUP. */
			shutdown(s->bfd, SHUT_WR);
			RS_SET(rs, hup, 1);
		}
	}
	if (room && RS_GET(rs, plug)) {
		drain(s->bfd);
		RS_SET(rs, plug, 0);
	} else if (!room && plug && !RS_GET(rs, plug) && (afd = a_fd(s, afd)) >= 0) {
		int i;

		/* Fill A's (tiny) send buffer: A stops polling writable. */
		for (i = 0; i < 64; i++)
			if (send(afd, junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL) <= 0)
				break;
		RS_SET(rs, plug, 1);
	}
}

/* Under the lock: the waiting word the peer reads; re-syncs A if it raced. */
static void flags_locked(struct shim_sock *s)
{
	struct shim_rstate *rs = s->rs;
	unsigned int what = 0;

	if (RS_GET(rs, passive_rd) || RS_GET(rs, sleep_rd))
		what |= XSR_READABLE;
	if (RS_GET(rs, passive_wr) || RS_GET(rs, sleep_wr))
		what |= XSR_WRITABLE;
	/*
	 * xsr_set_wait() stores the word, then (full barrier) re-reads the
	 * peer's indexes: whatever the peer published before it could see
	 * the word is in @m, and is reflected in A below.
	 */
	xsr_set_wait(&s->conn->ring, what);
}

static bool needs_sync(struct shim_sock *s, unsigned int m, bool plug, bool app)
{
	struct shim_rstate *rs = s->rs;
	bool news = (m & (XSR_READABLE | XSR_RDHUP | XSR_HUP | XSR_ERR)) || RS_GET(rs, rd_shut);
	bool room;

	if (!RS_GET(rs, hup) && ((news && !RS_GET(rs, tok)) || (!news && RS_GET(rs, tok) && app) ||
			 (m & (XSR_RDHUP | XSR_HUP | XSR_ERR))))
		return true;
	if (!RS_GET(rs, plug) && !plug)
		return false;
	room = (m & (XSR_HUP | XSR_ERR)) || room_to_write(&s->conn->ring);
	return room ? RS_GET(rs, plug) : (plug && !RS_GET(rs, plug));
}

bool sock_stale(struct shim_sock *s, bool plug)
{
	return needs_sync(s, xsr_poll(&s->conn->ring), plug, true);
}

void sock_sync(struct shim_sock *s, int afd, bool plug, bool app)
{
	unsigned int m = xsr_poll(&s->conn->ring);

	/* Nothing to change (the common case): no lock, no system call. */
	if (!needs_sync(s, m, plug, app))
		return;
	SHIM_ENTER();
	rs_lock(s);
	sync_locked(s, afd, xsr_poll(&s->conn->ring), plug, app);
	rs_unlock(s);
	SHIM_LEAVE();
}

void sock_passive(struct shim_sock *s, int afd, bool rd, bool on)
{
	struct shim_rstate *rs = s->rs;
	int *p = rd ? &rs->passive_rd : &rs->passive_wr;

	if (__atomic_load_n(p, __ATOMIC_RELAXED) == (int)on)
		return;
	SHIM_ENTER();
	rs_lock(s);
	__atomic_store_n(p, (int)on, __ATOMIC_RELAXED);
	flags_locked(s);
	sync_locked(s, afd, xsr_poll(&s->conn->ring), !rd && on, true);
	rs_unlock(s);
	SHIM_LEAVE();
	if (!on)
		evloop_want_sweep();
}

bool sock_sleep_begin(struct shim_sock *s, int afd, bool rd, bool wr)
{
	struct shim_rstate *rs = s->rs;
	unsigned int m;

	SHIM_ENTER();
	rs_lock(s);
	if (rd)
		__atomic_add_fetch(&rs->sleep_rd, 1, __ATOMIC_RELAXED);
	if (wr)
		__atomic_add_fetch(&rs->sleep_wr, 1, __ATOMIC_RELAXED);
	flags_locked(s);
	m = xsr_poll(&s->conn->ring);
	sync_locked(s, afd, m, wr, true);
	rs_unlock(s);
	SHIM_LEAVE();
	if (RS_GET(rs, rd_shut) && rd)
		return true;
	return (rd && (m & (XSR_READABLE | XSR_RDHUP | XSR_HUP | XSR_ERR))) ||
	       (wr && ((m & (XSR_HUP | XSR_ERR)) || room_to_write(&s->conn->ring)));
}

void sock_sleep_end(struct shim_sock *s, int afd, bool rd, bool wr, bool looks)
{
	struct shim_rstate *rs = s->rs;
	unsigned int m;

	SHIM_ENTER();
	rs_lock(s);
	if (rd && RS_GET(rs, sleep_rd) > 0)
		__atomic_sub_fetch(&rs->sleep_rd, 1, __ATOMIC_RELAXED);
	if (wr && RS_GET(rs, sleep_wr) > 0)
		__atomic_sub_fetch(&rs->sleep_wr, 1, __ATOMIC_RELAXED);
	flags_locked(s);
	m = xsr_poll(&s->conn->ring);
	/*
	 * Nobody else waits on A (no other sleeper in any of our processes,
	 * nobody passive): the data is for this caller, who reads the ring
	 * itself. Only a token A lacks is left out; one it has stays (taking
	 * it back is the application's read's job).
	 */
	if (looks && !RS_GET(rs, tok) && !RS_GET(rs, sleep_rd) && !RS_GET(rs, sleep_wr) &&
	    !RS_GET(rs, passive_rd) && !RS_GET(rs, passive_wr))
		m &= ~XSR_READABLE;
	sync_locked(s, afd, m, false, true);
	rs_unlock(s);
	SHIM_LEAVE();
	evloop_want_sweep();
}

void sock_drain_filler(struct shim_sock *s)
{
	SHIM_ENTER();
	rs_lock(s);
	/* While plugged, what B holds is the plug: not ours to take. */
	if (!RS_GET(s->rs, plug))
		drain(s->bfd);
	rs_unlock(s);
	SHIM_LEAVE();
}

/* The event thread's sweep: ask for notifications where nobody does. */
void sock_sweep(struct shim_sock *s)
{
	struct shim_rstate *rs = s->rs;

	if (__atomic_load_n(&rs->passive_rd, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&rs->passive_wr, __ATOMIC_RELAXED))
		return;
	rs_lock(s);
	if (!RS_GET(rs, sleep_rd) && !RS_GET(rs, sleep_wr)) {
		RS_SET(rs, passive_rd, 1);
		/* Writers are asked about only after they met a full ring. */
		RS_SET(rs, passive_wr, RS_GET(rs, plug));
		flags_locked(s);
		sync_locked(s, -1, xsr_poll(&s->conn->ring), false, false);
	}
	rs_unlock(s);
}

bool sock_rd_shut(const struct shim_sock *s)
{
	return __atomic_load_n(&s->rs->rd_shut, __ATOMIC_RELAXED);
}

void sock_set_rd_shut(struct shim_sock *s, int afd)
{
	__atomic_store_n(&s->rs->rd_shut, 1, __ATOMIC_RELAXED);
	sock_sync(s, afd, false, true);
}

unsigned int sock_revents(struct shim_sock *s, unsigned int events)
{
	struct xsr *r = &s->conn->ring;
	bool rd = events & (POLLIN | POLLRDNORM | POLLRDHUP);
	bool wr = events & (POLLOUT | POLLWRNORM);
	/* Only what was asked for. */
	unsigned int m = xsr_poll_for(r, (rd ? XSR_READABLE : 0) | (wr ? XSR_WRITABLE : 0) |
					 ((events & POLLRDHUP) ? XSR_RDHUP : 0));
	unsigned int rev = 0;

	if (sock_rd_shut(s))
		m |= XSR_READABLE | XSR_RDHUP;
	if (m & XSR_READABLE)
		rev |= events & (POLLIN | POLLRDNORM);
	if ((m & XSR_RDHUP))
		rev |= events & POLLRDHUP;
	if (m & XSR_ERR)
		rev |= POLLERR;
	if ((m & XSR_HUP) && (m & XSR_RDHUP))
		rev |= POLLHUP;
	if ((m & (XSR_HUP | XSR_ERR)) || (wr && (m & XSR_WRITABLE) && room_to_write(r)))
		rev |= events & (POLLOUT | POLLWRNORM);
	return rev;
}

bool sock_a_explains(struct shim_sock *s, unsigned int events)
{
	struct shim_rstate *rs = s->rs;
	bool hup = RS_GET(rs, hup);

	if ((events & (POLLIN | POLLRDNORM)) && !RS_GET(rs, tok) && !hup)
		return false;
	if ((events & (POLLOUT | POLLWRNORM)) && RS_GET(rs, plug))
		return false;
	if ((events & (POLLRDHUP | POLLHUP)) && !hup)
		return false;
	return !(events & POLLERR);	/* A itself never fails */
}

/* ---- waiting for the peer's next notification ----------------------------------------- */

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts)
{
	/* Not FUTEX_PRIVATE_FLAG: @uaddr is in a MAP_SHARED page, and the
	 * waiter may be a forked child of the event thread's process. */
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

void sock_note_event(struct shim_sock *s)
{
	struct shim_rstate *rs = s->rs;

	/*
	 * Sequentially consistent, both: the increment before the load of
	 * the waiter count, against a waiter's increment of that count
	 * before its FUTEX_WAIT compares @events (Dekker): either we see the
	 * waiter and wake it, or its FUTEX_WAIT sees the new count and does
	 * not sleep.
	 */
	__atomic_add_fetch(&rs->events, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&rs->ev_waiters, __ATOMIC_SEQ_CST))
		futex(&rs->events, FUTEX_WAKE, INT_MAX, NULL);
}

uint32_t sock_events(struct shim_sock *s)
{
	/* Acquire: whatever the wait re-checks after this load is at least
	 * as new as the notifications counted so far. */
	return __atomic_load_n(&s->rs->events, __ATOMIC_ACQUIRE);
}

int sock_wait_event(struct shim_sock *s, uint32_t seen, int64_t timeout_ns)
{
	struct shim_rstate *rs = s->rs;
	struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
	long rc;

	/* Sequentially consistent: see sock_note_event(). */
	__atomic_add_fetch(&rs->ev_waiters, 1, __ATOMIC_SEQ_CST);
	rc = futex(&rs->events, FUTEX_WAIT, seen, timeout_ns >= 0 ? &ts : NULL);
	rc = rc < 0 ? -errno : 0;
	__atomic_sub_fetch(&rs->ev_waiters, 1, __ATOMIC_SEQ_CST);
	if (rc == -ETIMEDOUT || rc == -EINTR)
		return (int)rc;
	return 0;	/* woken, or @events had moved on already (EAGAIN) */
}
