/* SPDX-License-Identifier: MIT */
/* What a wait does with the ring sockets in its set: waitset.c. */
#ifndef XSOCK_PRELOAD_WAITSET_H
#define XSOCK_PRELOAD_WAITSET_H

#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/clock.h"
#include "preload/shim.h"

/* A ring socket in a wait's set (with a reference), and what it waits for. */
struct wsock {
	struct shim_sock *s;
	int fd;			/* the application's fd it was named by (end A) */
	int idx;		/* poll: index in the pollfd array */
	bool rd, wr;		/* interest */
	int chfd;		/* its channel, while the wait sleeps on it (direct.c) */
	/* epoll only (epoll.c): */
	bool lt;		/* level-triggered: reported from the ring, not from A */
	bool seen;		/* reported by this call already */
	uint32_t events;	/* the registration's events */
	uint64_t data;		/* ... and its epoll_data */
};

/*
 * What a ring reports of its own to poll() or, for a level-triggered
 * entry, epoll (epoll.c; the EPOLL* bits are the POLL* ones on Linux),
 * besides POLLERR and POLLHUP, which it always reports.
 */
#define EP_RING_EVENTS (POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM | POLLRDHUP)

/* Spin on the rings (not the kernel) for a short while: true if one
 * changed (@for_poll, or an entry's @lt: its poll bits; else: end A is
 * stale). */
bool wsocks_spin(struct wsock *w, int n, bool for_poll);
/* One more round of a wait's spin, which ends at @spin_end (xs_now_ns()):
 * false, and the spin counted as fruitless, once that time is up. */
bool wsocks_spin_on(struct wsock *w, int n, bool for_poll, int64_t spin_end);
/* Stop asking for notifications while nobody waits: the wait looks. */
void wsocks_unpassive(struct wsock *w, int n);
/* The same for the readers only (a big epoll set's, after its sleep). */
void wsocks_unpassive_rd(struct wsock *w, int n);
/* Ask for notifications before sleeping; true if one is ready already. */
bool wsocks_sleep_begin(struct wsock *w, int n);
/* @looks: as sock_sleep_end() (ready.h) says (always, for an entry's @lt). */
void wsocks_sleep_end(struct wsock *w, int n, bool looks);
/* Drop the references of @w[0..@n) and free @w unless it is @local. */
void wsocks_put(struct wsock *w, int n, struct wsock *local);

/* ---- time ------------------------------------------------------------------------- */

/* Absolute deadline in ns for a timeout in ms (<0: none). */
static inline int64_t deadline_at(int64_t now, int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now + (int64_t)timeout_ms * 1000000;
}

static inline int64_t deadline_of(int timeout_ms)
{
	return deadline_at(xs_now_ns(), timeout_ms);
}

/* What is left of @deadline, in ms rounded up (-1: none). */
static inline int left_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - xs_now_ns();
	if (left <= 0)
		return 0;
	left = (left + 999999) / 1000000;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* A timeout of @ms >= 0 milliseconds as a timespec (for ppoll()). */
static inline struct timespec ms_to_ts(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	return ts;
}

/* A timespec timeout in ms rounded up (-1: none; -2: not valid, EINVAL). */
static inline int ts_to_ms(const struct timespec *ts)
{
	int64_t ms;

	if (!ts)
		return -1;
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
		return -2;	/* EINVAL */
	ms = (int64_t)ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

#endif /* XSOCK_PRELOAD_WAITSET_H */
