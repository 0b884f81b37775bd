/* SPDX-License-Identifier: MIT */
/* Level-triggered ring entries of an epoll set, reported from the rings: eplook.c. */
#ifndef XSOCK_PRELOAD_EPLOOK_H
#define XSOCK_PRELOAD_EPLOOK_H

#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>

#include "preload/waitset.h"

/* Registrations whose kernel state the ring cannot stand for: through A. */
#define EP_EDGE (EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE)

/* XSOCK_EPOLL_LT (default 1; 0: every ring through A's tokens, to compare). */
bool ep_lt_on(void);

/*
 * One look at set @epfd, whose rings are @w[0..@n) (@lt set on the
 * level-triggered ones), without waiting: what epoll_pwait(@epfd, @evs,
 * @max, 0, @mask) would return. The count, or -errno from the kernel.
 */
int ep_look(int epfd, struct wsock *w, int n, struct epoll_event *evs, int max,
	    const sigset_t *mask);

/*
 * The @k events (or -errno) the kernel returned for the set after a
 * sleep, with its level-triggered rings' own word in place of A's: the
 * count, or @k if negative.
 */
int ep_after_sleep(struct wsock *w, int n, struct epoll_event *evs, int max, int k);

#endif /* XSOCK_PRELOAD_EPLOOK_H */
