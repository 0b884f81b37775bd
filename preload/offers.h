/* SPDX-License-Identifier: MIT */
/*
 * Offered rings (docs/protocol.md: accept() hands out a ring before its
 * client attached): those the application closed before the attach are
 * kept until the client attached, then end as a closed TCP socket does
 * (the peer reads what was sent, then end of stream), or are given up
 * when the client is gone or late. offers.c; everything here runs under
 * ev_lock (evloop.h).
 */
#ifndef XSOCK_PRELOAD_OFFERS_H
#define XSOCK_PRELOAD_OFFERS_H

#include <stdint.h>

#include "conn/conn.h"

/* A ring handed out offered exists: the event thread must look at it. */
void offers_note(void);
/*
 * End connection @c, which nobody holds any more: parked for reuse
 * (pool.c) or closed; an offered one is kept until its client attached
 * or is given up.
 */
void offers_end_locked(struct xs_conn *c);
/*
 * Event thread: settle offered rings (held or closed) whose client
 * attached, is gone or is late (an attach or a death comes as an event;
 * lateness does not). The next look's deadline in ms, -1 for none.
 */
int64_t offers_run(int64_t now);
/* Close every closed offer now (process exit). */
void offers_end_all(void);
/* Domain @dom is dead: its closed offers go now. */
void offers_domain_dead(xsp_domid_t dom);
/* Forked child: the parent's closed offers are the parent's to end. */
void offers_after_fork(void);

#endif /* XSOCK_PRELOAD_OFFERS_H */
