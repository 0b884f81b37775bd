/* SPDX-License-Identifier: MIT */
/* Small compiler helpers shared by the core. */
#ifndef XSOCK_COMMON_COMPILER_H
#define XSOCK_COMMON_COMPILER_H

#define XS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define XS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define XS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define XS_LIKELY(x) __builtin_expect(!!(x), 1)
#define XS_UNLIKELY(x) __builtin_expect(!!(x), 0)

/*
 * Access to memory shared with another domain. Every load of a field the
 * peer may write goes through XS_READ_ONCE (one load, never re-fetched by
 * the compiler: the XSA-155 double-fetch), every store through
 * XS_WRITE_ONCE. Barriers are spelled out at each use with what they order.
 */
#define XS_READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define XS_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define xs_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)	/* loads+stores vs loads+stores */
#define xs_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)	/* earlier loads vs later loads/stores */
#define xs_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)	/* earlier loads/stores vs later stores */

#endif /* XSOCK_COMMON_COMPILER_H */
