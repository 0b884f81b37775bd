/* SPDX-License-Identifier: MIT */
/*
 * libxsock_preload.so: the design, and the types every part of it shares
 * (the shim socket). Each part has its own header, named after its file.
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
 *     asked to notify only while somebody here waits (ready.c, waitset.c).
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
 *
 * Where each job is done (each file has a header of the same name):
 *   libc.c     the real libc calls (one table, one list) and the guard
 *   ctx.c      the process context; fdtable.c: the fd table and records
 *   sock.c     a ring socket made, put on an fd, and ended
 *   connect.c  where connect() is decided: ring, TCP, or failure
 *   accept.c   listen() and accept(): doorbells, direct reuse, TCP clients
 *   fdops.c    close, shutdown, dup/dup2/dup3/fcntl, and exit
 *   defer.c    close() from a signal handler: the lock-free part now, the
 *              rest later; which of the shim's locks a thread holds
 *   io.c       where bytes are copied: read/write/send/recv/sendfile...
 *   names.c    getsockname, getpeername, getsockopt, setsockopt, ioctl
 *   ready.c    what end A shows (tokens, plugs), who asked for notifying
 *   spin.c     how long a wait busy-polls before it sleeps
 *   waitset.c  what a wait does with its ring sockets; poll.c and epoll.c
 *              are the intercepted waits; direct.c: a few rings' channels
 *              slept on directly; chgroup.c: a big epoll set's channels,
 *              slept on as one group; eplook.c: an epoll set's
 *              level-triggered rings, reported from the rings
 *   evloop.c   the event thread; sweep.c: its sweep; doorbell.c:
 *              doorbells; pool.c: rings parked for reuse; offers.c:
 *              offered rings closed before their client attached;
 *              domwatch.c: dead peer domains
 *   exec.c     exec, posix_spawn, system, popen: what the program gets
 *   handover.c the rings written down before exec (handover_rec.c: the
 *              record); adopt.c: rebuilt in the new image; relay.c: its
 *              stdio; arena.c: the state shared by holders, in a memfd
 *   holder.c   fork: inherited sockets made usable in the child, and the
 *              serving process's duties taken over when it is gone
 */
#ifndef XSOCK_PRELOAD_SHIM_H
#define XSOCK_PRELOAD_SHIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn/conn.h"

/* An intercepted libc call (the version script exports exactly these). */
#define XS_EXPORT __attribute__((visibility("default")))

enum shim_kind {
	SHIM_RING,		/* a connected ring; fd is socketpair end A */
	SHIM_LISTENER,		/* a real TCP listener that also serves ring clients */
};

struct shim_opt {
	int level, name, value;
};

/*
 * What end A shows and who asked the peer for notifications (ready.c),
 * and what serializes the ring's readers and writers. In a MAP_SHARED
 * page so that a forked child and its parent agree. The mutexes are
 * process-shared and robust: a process that dies holding one does not
 * wedge the others.
 */
struct shim_rstate {
	pthread_mutex_t lock;		/* this state */
	pthread_mutex_t rlock;		/* one reader at a time, in any process */
	pthread_mutex_t wlock;		/* one writer at a time, in any process */
	uint32_t events;		/* the peer's notifications seen so far (futex) */
	int ev_waiters;			/* threads asleep on @events */
	int tok;			/* a token byte sits in A */
	int plug;			/* A's send buffer is full: unwritable */
	int hup;			/* B shut down for writing: A reads EOF */
	int rd_shut;			/* shutdown(SHUT_RD) */
	int passive_rd, passive_wr;	/* notify us while nobody looks */
	/*
	 * Atomic: a write found the peer gone and was taken as sent (io.c,
	 * sock_send()); later writes fail with EPIPE, as over TCP after the
	 * peer's reset.
	 */
	int reset;
	int sleep_rd, sleep_wr;		/* threads asleep waiting for the ring */
	pid_t maker;			/* the process that mapped it (ready.c) */
	/*
	 * The process whose event thread serves the ring: acks its channel,
	 * turns events into readiness, ends the connection when the last
	 * holder closes it. Set by evloop_add(); when that process dies, a
	 * holder that watched it takes over by compare-and-swap (holder.c).
	 */
	pid_t server;
	/*
	 * The server's pid while it serves a ring its application closed
	 * although other processes still hold it (a parent that forked a
	 * handler and closed its copy), else 0: any holder that uses the
	 * ring may claim the serving by compare-and-swap of @server
	 * (holder_claim()); the resigned server serves until it sees that.
	 */
	pid_t resigned;
	/*
	 * Atomic: how many processes watch @server (holder.c's struct
	 * srv_watch); counted before a watcher reads @server, so that a
	 * claimer that then counts another one backs off (that one would
	 * watch the old server, not the claimer).
	 */
	int watchers;
	struct shim_rstate *next_free;	/* on the maker's free list */
};

/*
 * A listener's state shared with forked children (MAP_SHARED): which
 * process serves its ring clients (watches the store, rings doorbells).
 * When that process is gone, a child that holds the listener takes over
 * (holder.c), as for a ring's struct shim_rstate server.
 */
struct shim_lshared {
	pid_t server;
	int watchers;			/* as struct shim_rstate's */
};

struct shim_sock {
	/* Atomic. First: shim_sock_alloc() keeps it across reuse, for a
	 * shim_get() that still holds an old pointer (see fdtable.c). */
	int refs;			/* table entries + event thread + calls */
	enum shim_kind kind;
	/*
	 * No fd of the application's is kept here: which numbers name this
	 * socket changes with every dup() and close(), and a number the
	 * application closed may name an unrelated file the next instant.
	 * The shim works on end A only through the fd a call came in on.
	 */
	int nfds;			/* application fds naming it (dup) */

	/* SHIM_RING */
	struct xs_conn *conn;
	int bfd;			/* our end of the socketpair */
	struct shim_rstate *rs;		/* readiness, locks: shared with forked children */
	pid_t owner;			/* the process that serves it (made it, or
					 * took it over: holder.c) */
	bool resigned;			/* served here, closed here, held elsewhere */
	bool claim_off;			/* not claimed here: others watch its server */
	unsigned int gen;		/* usable in this process when == shim_gen */
	int family;
	struct shim_opt opts[16];
	unsigned int nopts;

	/* SHIM_LISTENER */
	struct xs_listener *lst;	/* ours only if owner == getpid() */
	struct shim_lshared *lsh;	/* who serves it, shared with children */
	struct xs_acceptor *acc;	/* ours only if acc_pid == getpid() */
	pid_t acc_pid;

	/* event thread bookkeeping (under its lock) */
	bool watched;			/* registered with the event thread */
	bool dead;			/* deregistered; skip stale events */
	bool ev_due;			/* listener: its watch fired, serve it */
	/*
	 * Atomic, outside its lock: the event thread here watches the ring's
	 * channel (direct_ok), and how many of our threads sleep on that
	 * channel themselves meanwhile (direct.c).
	 */
	int direct_ok;
	int direct;
	/* The channel group its channel is in (chgroup.c; set under the event
	 * thread's lock, read atomically), or NULL. */
	struct chgroup *grp;
	/* xs_now_ms() when an intercepted epoll wait last looked at it
	 * (atomic; epoll.c), for the sweep (sweep.c). */
	int64_t looked;
	struct shim_sock *ev_next;	/* listeners list / zombie list */
	struct shim_sock *ring_prev, *ring_next;	/* rings this process serves */
};

/*
 * Bumped in every forked child (evloop.c): a shim socket whose gen is not
 * this was inherited and is made usable here on first use (holder.c).
 */
extern unsigned int shim_gen;

/* Set errno from a negative errno and return -1. */
static inline int shim_fail(int neg_errno)
{
	extern int *__errno_location(void);

	*__errno_location() = -neg_errno;
	return -1;
}

#endif /* XSOCK_PRELOAD_SHIM_H */
