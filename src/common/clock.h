/* SPDX-License-Identifier: MIT */
/*
 * The one clock of xsock: CLOCK_MONOTONIC, for deadlines, spin budgets and
 * garbage-collection intervals. Never the wall clock (it jumps).
 * Async-signal-safe (clock_gettime is). Cannot fail on Linux.
 */
#ifndef XSOCK_COMMON_CLOCK_H
#define XSOCK_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds since an unspecified start (boot). */
static inline int64_t xs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Milliseconds since the same start as xs_now_ns(). */
static inline int64_t xs_now_ms(void)
{
	return xs_now_ns() / 1000000;
}

#endif /* XSOCK_COMMON_CLOCK_H */
