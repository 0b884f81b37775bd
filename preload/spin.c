/* SPDX-License-Identifier: MIT */
/*
 * How long a thread busy-polls the rings before it asks for a
 * notification and sleeps: at most XSOCK_SPIN_US, adapted per thread to
 * how the last spins went (docs/performance.md, "Waiting").
 */
#include "config.h"

#include <sched.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/env.h"
#include "preload/spin.h"

unsigned int shim_spin_ns(void)
{
	static int us = -1;

	return (unsigned int)xs_env_cached(&us, "XSOCK_SPIN_US", 50, 0, 1000000) * 1000u;
}

/*
 * Adaptive spin, per thread: a spin that ends in sleep anyway halves the
 * next one, a spin that pays off doubles it (up to XSOCK_SPIN_US). A
 * thread whose peers answer quickly keeps spinning; one that waits for
 * slow or idle peers soon goes straight to sleep, and leaves the CPU to
 * the others (our machines have two cores).
 */
static __thread int spin_cur = -1;

unsigned int shim_spin_budget(void)
{
	if (spin_cur < 0)
		spin_cur = (int)shim_spin_ns();
	return (unsigned int)spin_cur;
}

void shim_spin_result(bool paid_off)
{
	unsigned int max = shim_spin_ns();

	if (spin_cur < 0)
		spin_cur = (int)max;
	if (paid_off)
		spin_cur = (int)XS_MIN((unsigned int)spin_cur * 2 + 1000, max);
	else
		spin_cur /= 2;
}

void shim_spin_slept(uint64_t slept_at, bool woke_ready)
{
	/*
	 * Woken with news sooner than a full spin would have lasted: the spin
	 * was too short, not useless (without this a budget that reached 0
	 * could never grow again).
	 */
	if (woke_ready && (uint64_t)xs_now_ns() - slept_at < shim_spin_ns())
		shim_spin_result(true);
}

/*
 * A sched_yield() that returns later than this ran another thread: a
 * yield with nobody else runnable costs 0.1-0.2 us, one that switches to
 * another thread and back at least two context switches.
 */
#define SPIN_YIELD_RAN_NS 1000

static __thread unsigned int spin_polls = SPIN_POLLS_MAX;

unsigned int shim_spin_polls(void)
{
	return spin_polls;
}

/*
 * When the thread we wait for shares our CPU (both ends pinned to one
 * core, or more runnable threads than cores), every poll between two
 * yields is wasted: nothing can change until we let it run. Then yield
 * after SPIN_POLLS_MIN polls. When a yield finds nobody else to run, the
 * peer (if it runs at all) runs elsewhere: poll longer between yields,
 * since a poll sees its write sooner than a thread inside sched_yield().
 */
void shim_spin_yield(void)
{
	int64_t t = xs_now_ns();

	sched_yield();
	if (xs_now_ns() - t > SPIN_YIELD_RAN_NS)
		spin_polls = SPIN_POLLS_MIN;
	else if (spin_polls < SPIN_POLLS_MAX)
		spin_polls *= 2;
}
