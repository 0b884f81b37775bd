/* SPDX-License-Identifier: MIT */
/*
 * Dead domains: domwatch.c. On Xen nothing tells a domain that its peer
 * *domain* was destroyed or crashed (a dead process fires its unmap
 * notifications; a dead domain fires nothing). What does happen is that
 * the toolstack removes the dead domain's home from the store, and a
 * watch on a node of it that we may read fires then. The event thread
 * watches one such node per peer domain it serves rings of, and ends
 * those rings within a second (docs/protocol.md, "Dead domains").
 *
 * All functions run under ev_lock (evloop.h).
 */
#ifndef XSOCK_PRELOAD_DOMWATCH_H
#define XSOCK_PRELOAD_DOMWATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "conn/conn.h"

/*
 * Connection @c is served here, or parked for reuse, from now on / no
 * more: watch its peer's domain while any is, and a little longer
 * (domwatch_expire()). Failing to watch is logged, not fatal (the ring
 * then ends as before: by its peer's notifications, or never if the
 * domain dies).
 */
void domwatch_ref(struct xs_conn *c);
void domwatch_unref(struct xs_conn *c);
/*
 * Stop watching domains no ring has referred to for a while, and close
 * the store handle when none is left. Returns when to call again (ms,
 * xs_now_ms() clock), -1 for never.
 */
int64_t domwatch_expire(int64_t now);
/* Is @ptr (epoll data) the domain watch's store fd? */
bool domwatch_is_marker(const void *ptr);
/*
 * The store watch fired: look at every watched domain; for each one
 * found dead, call @dead with its id (once per death).
 */
void domwatch_event(void (*dead)(xsp_domid_t dom));
/* Forked child: the parent's watches are the parent's. */
void domwatch_after_fork(void);

#endif /* XSOCK_PRELOAD_DOMWATCH_H */
