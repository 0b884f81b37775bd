/* SPDX-License-Identifier: MIT */
/* The spin bound: spin.c. */
#ifndef XSOCK_PRELOAD_SPIN_H
#define XSOCK_PRELOAD_SPIN_H

#include <stdbool.h>
#include <stdint.h>

/* Spin bound before sleeping (XSOCK_SPIN_US, default 50 us), in ns. */
unsigned int shim_spin_ns(void);
/* This thread's spin for its next wait (ns, <= shim_spin_ns()), and how
 * the last one went. */
unsigned int shim_spin_budget(void);
void shim_spin_result(bool paid_off);
/* After a sleep begun at @slept_at (xs_now_ns()): news came that soon? */
void shim_spin_slept(uint64_t slept_at, bool woke_ready);
/*
 * Polls of the rings a spin makes between two shim_spin_yield()s, per
 * thread: SPIN_POLLS_MAX while yielding costs nothing (nobody else wants
 * this CPU), SPIN_POLLS_MIN while another thread runs whenever we yield
 * (a peer pinned to our CPU: what it will write cannot come while we poll).
 */
#define SPIN_POLLS_MIN 4u
#define SPIN_POLLS_MAX 64u
unsigned int shim_spin_polls(void);
/* Give the CPU to a runnable thread, and learn whether there was one. */
void shim_spin_yield(void);

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

#endif /* XSOCK_PRELOAD_SPIN_H */
