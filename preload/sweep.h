/* SPDX-License-Identifier: MIT */
/* The event thread's sweep: sweep.c (evloop_want_sweep() is in evloop.h). */
#ifndef XSOCK_PRELOAD_SWEEP_H
#define XSOCK_PRELOAD_SWEEP_H

#include <stdint.h>

/* Event thread, under ev_lock, at @now (xs_now_ms()): sweep if due; the
 * next deadline, -1 for none. */
int64_t sweep_run(int64_t now);
/* Forked child: no sweep asked for. */
void sweep_after_fork(void);

#endif /* XSOCK_PRELOAD_SWEEP_H */
