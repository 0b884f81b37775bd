/* SPDX-License-Identifier: MIT */
/* Readiness of ring sockets: ready.c. */
#ifndef XSOCK_PRELOAD_READY_H
#define XSOCK_PRELOAD_READY_H

#include <stdbool.h>

#include "preload/shim.h"

/*
 * @afd below is the fd the application's call came in on (end A in this
 * process), the only one the shim touches A through; -1 when there is
 * none (the event thread): then A is never drained or plugged.
 */

/* A ring socket's shared state (s->rs), made and let go of with it. */
int sock_ready_init(struct shim_sock *s);
void sock_ready_free(struct shim_sock *s);
/*
 * One reader (@rd) or one writer at a time on @s, in all the processes
 * sharing it. Never held while sleeping.
 */
void sock_io_lock(struct shim_sock *s, bool rd);
void sock_io_unlock(struct shim_sock *s, bool rd);
/*
 * Make A show the ring's state: a token while there is data or news; with
 * @plug, plugged while short of room (unplugged whenever there is room).
 * Only the application's own calls (@app) take a token back. No lock and
 * no system call when nothing changes.
 */
void sock_sync(struct shim_sock *s, int afd, bool plug, bool app);
/* Would sock_sync(s, afd, plug, true) change anything? (No lock, no syscall.) */
bool sock_stale(struct shim_sock *s, bool plug);
/* Ask for (or stop asking for) notifications while nobody waits. */
void sock_passive(struct shim_sock *s, int afd, bool rd, bool on);
/*
 * A thread is about to sleep in the kernel until the ring is readable
 * (@rd) or has room (@wr): ask the peer to notify and bring A up to date.
 * Returns true when that is already the case (the caller still calls
 * sock_sleep_end()).
 */
bool sock_sleep_begin(struct shim_sock *s, int afd, bool rd, bool wr);
/*
 * The sleep is over. @looks: the caller reads the ring's state itself next
 * (a blocking call, poll and select, epoll's level-triggered entries;
 * not epoll's others, which read A's): data
 * only this thread was waiting for then gets no token in A, which would
 * cost a send() now and a recv() to take it back after the read. Whoever
 * looks at A later brings it up to date first (the intercepted waits),
 * or the sweep does (a program waiting where we do not intercept).
 */
void sock_sleep_end(struct shim_sock *s, int afd, bool rd, bool wr, bool looks);
/* A blocked writer's one byte sent through unplugged A: take it back. */
void sock_drain_filler(struct shim_sock *s);
/* Event thread: ask for notifications on a ring nobody asks about. */
void sock_sweep(struct shim_sock *s);
bool sock_rd_shut(const struct shim_sock *s);
void sock_set_rd_shut(struct shim_sock *s, int afd);
/* poll() bits for a ring socket, computed from the ring itself. */
unsigned int sock_revents(struct shim_sock *s, unsigned int events);
/*
 * Could end A's state (its token, plug and hang-up) be why the kernel
 * reports poll bits @events for it? (A hint: unlocked.)
 */
bool sock_a_explains(struct shim_sock *s, unsigned int events);

/*
 * The peer's notifications, counted: the event thread notes each one
 * (sock_note_event()). A thread that must wait for the next one without
 * trusting the ring's readiness (io.c) loads the count (sock_events()),
 * asks for notifications (sock_sleep_begin()), then sleeps until the
 * count moves on or @timeout_ns (< 0: none) runs out: 0 (woken, maybe
 * spuriously), -ETIMEDOUT, -EINTR.
 */
void sock_note_event(struct shim_sock *s);
uint32_t sock_events(struct shim_sock *s);
int sock_wait_event(struct shim_sock *s, uint32_t seen, int64_t timeout_ns);

#endif /* XSOCK_PRELOAD_READY_H */
