/* SPDX-License-Identifier: MIT */
/* The event thread: evloop.c. */
#ifndef XSOCK_PRELOAD_EVLOOP_H
#define XSOCK_PRELOAD_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "preload/shim.h"

/* Start watching a socket (ring or listener). */
int evloop_add(struct shim_sock *s);
/* Stop watching; after return the event thread no longer touches @s. */
void evloop_del(struct shim_sock *s);
/* Ask the event thread for a sweep soon (ready.c's passive arming; sweep.c). */
void evloop_want_sweep(void);
/* Free what evloop_del() left for the event thread, now (process exit). */
void evloop_flush(void);
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

/*
 * End connection @c, which no fd holds any more: parked for reuse
 * (pool.c), closed, or, if its client has not attached yet, kept until it
 * has (or is given up) and closed then. Any thread.
 */
void evloop_conn_end(struct xs_conn *c);

/* ---- for what the event thread serves (doorbell.c, pool.c) ---------------------- */

/*
 * The event thread works only under ev_lock, and so does everything that
 * touches its epoll set, its listeners, doorbells and parked rings.
 */
void ev_lock_take(void);
void ev_lock_drop(void);
/* This thread holds ev_lock. */
bool ev_lock_held(void);
/* Under ev_lock: the thread runs, and the process is not exiting. */
bool ev_running(void);
/* Under ev_lock: wake the thread up. */
void ev_wake(void);
/*
 * Records retired outside the thread (ring sockets, parked rings) that an
 * event it already fetched may still name wait for its next batch to be
 * freed; it is woken for them once this many of a kind wait.
 */
#define EV_ZOMBIES_MAX 64
/* Under ev_lock: wake the thread up unless its sleep ends by @due (ms,
 * xs_now_ms()'s clock) anyway: something of ours is due then. */
void ev_wake_by(int64_t due);
/*
 * Under ev_lock: add @fd to the thread's epoll set for @events, reported
 * with @data (a tagged pointer, below); 0 or -errno. ev_unwatch(): take
 * it out again (0, or -1 and errno).
 */
int ev_watch(int fd, uint32_t events, void *data);
int ev_unwatch(int fd);
/*
 * Any thread, no lock: watch ring @s's channel @fd for events again (@on)
 * or only for hang-up (direct.c; the caller holds a reference to @s).
 */
void ev_channel_arm(struct shim_sock *s, int fd, bool on);
/* Under ev_lock: change what the thread's epoll set asks of @fd. */
void ev_modify(int fd, struct epoll_event *ev);
/*
 * Under ev_lock: ring @s's channel fired (the thread's batch, or a
 * channel group's sleeper, chgroup.c): acknowledge it, bring end A up to
 * date, count it; stop watching a channel whose peer is gone or whose
 * ring another process serves now.
 */
void ev_ring_event(struct shim_sock *s);
/* Under ev_lock: start the event thread if it does not run. 0 or -errno. */
int ev_start(void);
/* Under ev_lock: serve @s (a ring or listener taken over: holder.c) as
 * evloop_add() does. 0 or -errno. */
int ev_serve(struct shim_sock *s);
/* Under ev_lock: the listener of ours that serves @port, if any. */
struct shim_sock *ev_listener_of(uint16_t port);

/*
 * A ring socket is in the epoll set twice: its event channel (data.ptr =
 * the socket) and its end B (the pointer with bit 0 set), which hangs up
 * when the last process holding the application's end A closed it.
 */
#define B_TAG 1u
/* A doorbell socket (struct doorbell, malloc()ed, so bit 1 is free). */
#define BELL_TAG 2u
/* A parked ring's channel (struct parked, malloc()ed: bit 2 is free). */
#define PARK_TAG 4u

#endif /* XSOCK_PRELOAD_EVLOOP_H */
