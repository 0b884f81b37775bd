/* SPDX-License-Identifier: MIT */
/*
 * libxsock_preload.so internals.
 *
 * Every wrapper decides one of three things: pass the call to libc
 * untouched (any fd or address that is not ours, and every call made while
 * the shim itself is working -- see the guard), handle it on a ring, or
 * fail with errno.
 *
 * A ring connection is represented to the application by a real kernel
 * fd: one end ("A") of an AF_UNIX stream socketpair whose other end ("B")
 * the shim keeps. No payload ever crosses the pair; it only carries
 * readiness so that the application's own select/poll/epoll work
 * unmodified:
 *   - A is readable while a token byte sits in it (the ring has data or
 *     reached end of stream), and stops being writable while the shim
 *     "plugs" it (fills its small send buffer) because the ring is short
 *     of room. Both are brought up to date lazily -- by the event thread
 *     when the peer notifies, by reads and writes, and by the intercepted
 *     poll/select/epoll calls before they ask the kernel -- and the peer is
 *     asked to notify only while somebody here waits (ready.c, wait.c).
 * A listening socket stays the application's real TCP socket, and a ring
 * connection is negotiated by the process that accept()s it, which need
 * not be the one that called listen() (nginx: the master listens, forked
 * workers accept):
 *   - the event thread of the process that called listen() watches the
 *     store for clients' requests; for each it records "doorbell port ->
 *     request" in the store and connects a "doorbell" TCP socket to the
 *     listener from that port, which makes the listener readable in every
 *     process sharing it;
 *   - the kernel gives that connection to exactly one accept(); the shim
 *     there sees it come from the doorbell address, claims the record
 *     (a store transaction: exactly one claimant), builds the ring in its
 *     own process (grants, event channel), answers the client, waits for
 *     it to attach, and returns the ring on the accepted fd number;
 *   - closing the accepted TCP end tells the ringing process the doorbell
 *     is done; a doorbell nobody accepts in time is withdrawn.
 * A process that inherited a listener by fork() finds it in its copy of
 * the fd table and accepts on it with its own store handle and context
 * (struct xs_acceptor, opened on first use in each process).
 */
#ifndef XSOCK_PRELOAD_SHIM_H
#define XSOCK_PRELOAD_SHIM_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "conn/conn.h"
#include "preload/libc.h"

#define XS_EXPORT __attribute__((visibility("default")))

/* ---- sockets we handle ---------------------------------------------------- */

enum shim_kind {
	SHIM_RING,		/* a connected ring; fd is socketpair end A */
	SHIM_LISTENER,		/* a real TCP listener that also serves ring clients */
};

struct shim_opt {
	int level, name, value;
};

/*
 * What end A shows and who asked the peer for notifications (ready.c).
 * In a MAP_SHARED page so that a forked child and its parent agree.
 */
struct shim_rstate {
	pthread_mutex_t lock;		/* process-shared, robust */
	int tok;			/* a token byte sits in A */
	int plug;			/* A's send buffer is full: unwritable */
	int hup;			/* B shut down for writing: A reads EOF */
	int rd_shut;			/* shutdown(SHUT_RD) */
	int passive_rd, passive_wr;	/* notify us while nobody looks */
	int sleep_rd, sleep_wr;		/* threads asleep waiting for the ring */
	pid_t maker;			/* the process that mapped it (ready.c) */
	struct shim_rstate *next_free;	/* on the maker's free list */
};

struct shim_sock {
	/* Atomic. First: shim_sock_alloc() keeps it across reuse, for a
	 * shim_get() that still holds an old pointer (see shim.c). */
	int refs;			/* table entries + event thread + calls */
	enum shim_kind kind;
	int fd;				/* the application's fd */
	int nfds;			/* application fds naming it (dup) */

	/* SHIM_RING */
	struct xs_conn *conn;
	int bfd;			/* our end of the socketpair */
	pthread_mutex_t rlock;		/* one reader at a time */
	pthread_mutex_t wlock;		/* one writer at a time */
	struct shim_rstate *rs;		/* readiness, shared with forked children */
	pid_t owner;			/* the process that created it */
	int family;
	struct shim_opt opts[16];
	unsigned int nopts;

	/* SHIM_LISTENER */
	struct xs_listener *lst;	/* ours only if owner == getpid() */
	struct xs_acceptor *acc;	/* ours only if acc_pid == getpid() */
	pid_t acc_pid;

	/* event thread bookkeeping (under its lock) */
	bool watched;			/* registered with the event thread */
	bool dead;			/* deregistered; skip stale events */
	bool ev_due;			/* listener: its watch fired, serve it */
	struct shim_sock *ev_next;	/* listeners list / zombie list */
};

/* The process context (platform + tunables), opened on first use.
 * NULL if xsock cannot work here (then everything passes to libc). */
struct xs_ctx *shim_ctx(void);

/*
 * Socket records, zeroed, with one reference (refs = 1). Their memory is
 * never given back to malloc: shim_sock_free() keeps it for the next
 * shim_sock_alloc() (type-stable, so that shim_get() needs no lock).
 * NULL when out of memory.
 */
struct shim_sock *shim_sock_alloc(void);
void shim_sock_free(struct shim_sock *s);

/* fd table. shim_get() takes a reference; shim_put() drops it. Neither
 * takes a lock. */
struct shim_sock *shim_get(int fd);
void shim_put(struct shim_sock *s);
/* Its reference count now (a snapshot). */
int shim_refs(struct shim_sock *s);
/* References on / off many sockets at once (one table lock). */
void shim_ref_many(struct shim_sock **v, int n);
void shim_put_many(struct shim_sock **v, int n);
int shim_install(int fd, struct shim_sock *s);
/* Call @fn on every ring socket in the table (under the table lock). */
void shim_for_each_ring(void (*fn)(struct shim_sock *s));
/* Remove the entry for @fd and return it (the caller owns its reference). */
struct shim_sock *shim_remove(int fd);
/* The ring socket behind @fd with a reference, or NULL when the call is
 * not ours (not a ring, or the shim itself is calling): pass it to libc. */
struct shim_sock *shim_ring_of(int fd);
static inline bool shim_maybe_ours(int fd);

extern struct shim_sock **shim_tab;
extern int shim_tab_size;
extern int shim_tab_hi;

static inline bool shim_maybe_ours(int fd)
{
	return fd >= 0 && fd < shim_tab_size &&
	       __atomic_load_n(&shim_tab[fd], __ATOMIC_ACQUIRE) != NULL;
}

/* A new ring socket for a connected @conn; returns it with one reference,
 * fd A in *afd (not yet installed). Call under SHIM_ENTER(). */
int shim_ring_new(struct xs_conn *conn, int family, struct shim_sock **out, int *afd);
void shim_ring_free(struct shim_sock *s);

/* ---- readiness (evloop.c) --------------------------------------------------------- */

/* Start watching a socket (ring or listener). */
int evloop_add(struct shim_sock *s);
/* Stop watching; after return the event thread no longer touches @s. */
void evloop_del(struct shim_sock *s);
/* Ask the event thread for a sweep soon (ready.c's passive arming). */
void evloop_want_sweep(void);

/* ---- readiness (ready.c) ---------------------------------------------------------- */

int sock_ready_init(struct shim_sock *s);
void sock_ready_free(struct shim_sock *s);
/*
 * Make A show the ring's state: a token while there is data or news; with
 * @plug, plugged while short of room (unplugged whenever there is room).
 * Only the application's own calls (@app) take a token back. No lock and
 * no system call when nothing changes.
 */
void sock_sync(struct shim_sock *s, bool plug, bool app);
/* Would sock_sync(s, plug, true) change anything? (No lock, no syscall.) */
bool sock_stale(struct shim_sock *s, bool plug);
/* Ask for (or stop asking for) notifications while nobody waits. */
void sock_passive(struct shim_sock *s, bool rd, bool on);
/*
 * A thread is about to sleep in the kernel until the ring is readable
 * (@rd) or has room (@wr): ask the peer to notify and bring A up to date.
 * Returns true when that is already the case (the caller still calls
 * sock_sleep_end()).
 */
bool sock_sleep_begin(struct shim_sock *s, bool rd, bool wr);
void sock_sleep_end(struct shim_sock *s, bool rd, bool wr);
/* A blocked writer's one byte sent through unplugged A: take it back. */
void sock_drain_filler(struct shim_sock *s);
/* Event thread: ask for notifications on a ring nobody asks about. */
void sock_sweep(struct shim_sock *s);
bool sock_rd_shut(const struct shim_sock *s);
void sock_set_rd_shut(struct shim_sock *s);
/* poll() bits for a ring socket, computed from the ring itself. */
unsigned int sock_revents(struct shim_sock *s, unsigned int events);
/* Spin bound before sleeping (XSOCK_SPIN_US, default 50 us), in ns. */
unsigned int shim_spin_ns(void);
/* This thread's spin for its next wait (ns, <= shim_spin_ns()), and how
 * the last one went. */
unsigned int shim_spin_budget(void);
void shim_spin_result(bool paid_off);
/* After a sleep begun at @slept_at (xs_now_ns()): news came that soon? */
void shim_spin_slept(uint64_t slept_at, bool woke_ready);

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* ---- intercepted waits (wait.c) ------------------------------------------------- */

/* @fd is being closed: forget it in the epoll sets we track (or the set). */
void wait_fd_closed(int fd);

/*
 * A ring socket polls writable (A unplugged) only while at least half the
 * ring is free, as TCP polls writable only with room to spare: a program
 * that writes after select() said "writable" must not block in the middle
 * of its write while it still has data to read (socat, for one, would
 * deadlock against a peer doing the same).
 */
static inline bool room_to_write(struct xsr *r)
{
	ssize_t space = xsr_tx_space(r);

	return space < 0 || (size_t)space >= r->size / 2;
}
/*
 * Doorbells: could a connection just accepted on listener @l from @sa be a
 * doorbell? Then its port (the doorbell record's name), else 0.
 */
uint16_t evloop_bell_port(const struct shim_sock *l, const struct sockaddr *sa, socklen_t salen);
/* Free what evloop_del() left for the event thread, now (process exit). */
void evloop_flush(void);
/*
 * Ring reuse (conn.h). evloop_park(): the application closed connection
 * @c for good; park its ring for the next connection if it was
 * negotiated for reuse and this process may keep it (XSOCK_REUSE, a
 * server only while it still listens on the port and has not forked):
 * true, the event thread owns @c now; false, close it.
 * evloop_pool_take(): an idle ring of ours to @dst in domain @dom (side
 * B), taken out of the pool, or NULL. evloop_reuse_claim(): the parked ring whose next use
 * doorbell @bell of listener @l stands for, taken out, or NULL.
 */
bool evloop_park(struct xs_conn *c);
/* This process has forked (then it parks no server rings). */
bool evloop_forked(void);
/*
 * close() of the application's last fd of ring socket @s in this process
 * (the caller holds a reference): evloop_close_begin() before the real
 * close, true if @s may be ended by the caller (then the event thread no
 * longer watches end B); evloop_close_end() after it, with whether end B
 * hung up (no process holds the connection any more): then the
 * connection ends now (parked or closed) instead of when the event
 * thread would notice; else end B is watched again.
 */
bool evloop_close_begin(struct shim_sock *s);
void evloop_close_end(struct shim_sock *s, bool hung_up);
struct xs_conn *evloop_pool_take(xsp_domid_t dom, const struct sockaddr *dst, socklen_t dstlen);
struct xs_conn *evloop_reuse_claim(const struct shim_sock *l, uint16_t bell);
/*
 * A blocking accept() on listener @l (ours) may wait on the channels of
 * the port's parked rings itself and take a ring whose client opened its
 * next use directly, without a doorbell. evloop_direct_begin() fills
 * @fds (and @w, for evloop_direct_end()) with up to @max channels, which
 * the event thread then leaves to us; evloop_direct_end() gives them back
 * (ringing doorbells for uses opened meanwhile). evloop_direct_take(): a
 * ring of @l's port whose next use is open, taken out of the pool, or
 * NULL.
 */
struct evloop_watch {
	struct parked *pk;
	uint64_t gen;
};
int evloop_direct_begin(const struct shim_sock *l, struct pollfd *fds, struct evloop_watch *w,
			int max);
void evloop_direct_end(const struct shim_sock *l, const struct evloop_watch *w, int n);
struct xs_conn *evloop_direct_take(const struct shim_sock *l);

/* ---- ring I/O (io.c) -------------------------------------------------------------- */

ssize_t sock_recv(struct shim_sock *s, const struct iovec *iov, int iovcnt, int flags);
ssize_t sock_send(struct shim_sock *s, const struct iovec *iov, int iovcnt, int flags);

/* ---- helpers ---------------------------------------------------------------------- */

/* Set errno from a negative errno and return -1. */
static inline int shim_fail(int neg_errno)
{
	extern int *__errno_location(void);

	*__errno_location() = -neg_errno;
	return -1;
}

#endif /* XSOCK_PRELOAD_SHIM_H */
