/* SPDX-License-Identifier: MIT */
/* Channel groups: a big epoll set's channels, slept on directly: chgroup.c. */
#ifndef XSOCK_PRELOAD_CHGROUP_H
#define XSOCK_PRELOAD_CHGROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "preload/shim.h"
#include "preload/waitset.h"

struct chgroup;

/*
 * A new group, for one application epoll set: its own epoll instance
 * (chgroup_fd()), which the event thread watches while no thread sleeps
 * on it. NULL if it cannot be had (no fds, no memory, XSOCK_DIRECT=0):
 * the wait sleeps on end A alone then, as before. Any thread, no lock.
 */
struct chgroup *chgroup_new(void);
/*
 * The application's epoll set is gone: the group is freed once no ring is
 * a member and nobody holds a pin any more. Until then the event thread
 * serves its members' notifications through it. Any thread, no lock.
 */
void chgroup_orphan(struct chgroup *g);
/*
 * Pins: a waiter that found @g in its epoll set's record pins it there
 * (chgroup_pin(), under the lock that guards that record, so that @g
 * cannot be freed in between) and unpins it (no lock) when it is done.
 */
void chgroup_pin(struct chgroup *g);
void chgroup_unpin(struct chgroup *g);

/*
 * Ring @s left @g's epoll set (EPOLL_CTL_DEL): out of @g too, its channel
 * watched by the event thread again. Any thread, no lock (@g pinned).
 */
void chgroup_drop(struct chgroup *g, struct shim_sock *s);

/*
 * Before a wait sleeps on the rings @w[0..@n) of @g's epoll set: the rings
 * this process's event thread serves and that are in no group yet join
 * @g (their channels move from the event thread's epoll set to @g's), and
 * the event thread stops watching @g while this thread sleeps on its fd.
 * Returns the fd to poll (POLLIN) with the application's epoll fd.
 */
int chgroup_sleep_begin(struct chgroup *g, const struct wsock *w, int n);
/*
 * After the sleep: when @fired (the group's fd polled readable), do the
 * event thread's work for each member's notification (acknowledge it,
 * bring end A up to date: then the application's epoll set reports it),
 * and give @g back to the event thread if no other thread sleeps on it.
 */
void chgroup_sleep_end(struct chgroup *g, bool fired);

/* ---- for the event thread (evloop.c) ------------------------------------------------ */

/*
 * Tag of a group in the event thread's epoll set: all four low bits (the
 * other tags set one each, evloop.h; groups are 16-byte aligned).
 */
#define GRP_TAG 15u
#define GRP_TAGGED(p) (((uintptr_t)(p) & GRP_TAG) == GRP_TAG)
/* Under ev_lock: its fd polled readable: serve its members' notifications. */
void chgroup_event(struct chgroup *g);
/* Under ev_lock: @s's channel is no longer watched (retired, peer gone,
 * claimed away): out of its group too. */
void chgroup_leave(struct shim_sock *s);
/* Event thread, under ev_lock, after its batch: free the groups let go of. */
void chgroup_free_zombies(void);
/* Forked child (its copies of the records and the fds are the parent's). */
void chgroup_after_fork(void);

#endif /* XSOCK_PRELOAD_CHGROUP_H */
