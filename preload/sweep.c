/* SPDX-License-Identifier: MIT */
/*
 * The event thread's sweep (ready.c's passive arming): rings nobody asks
 * the peer about get asked about again, so that a program waiting for one
 * in a call we do not intercept is still woken.
 */
#include "config.h"

#include <stdint.h>

#include "common/env.h"
#include "preload/evloop.h"
#include "preload/fdtable.h"
#include "preload/ready.h"
#include "preload/shim.h"
#include "preload/sweep.h"

static int sweep_wanted;	/* atomic: 1 once asked, until the sweep ran */
static int64_t sweep_at = -1;	/* event thread: when to sweep (ms) */

/*
 * Rings nobody asks the peer about get asked about again after this long:
 * a program waiting for one in a call we do not intercept is woken by its
 * next byte at most this late (XSOCK_SWEEP_MS).
 */
static int sweep_ms(void)
{
	static int ms = -1;

	return xs_env_cached(&ms, "XSOCK_SWEEP_MS", 20, 1, 60000);
}

void evloop_want_sweep(void)
{
	if (__atomic_load_n(&sweep_wanted, __ATOMIC_RELAXED) ||
	    __atomic_exchange_n(&sweep_wanted, 1, __ATOMIC_ACQ_REL))
		return;
	/* Once per sweep period at most; ev_lock guards the wake pipe. */
	ev_lock_take();
	ev_wake();
	ev_lock_drop();
}

static int64_t sweep_since;	/* event thread: the sweep's look-back (ms) */
static int sweep_skipped;

/*
 * A ring of an epoll set that a wait looked at during the last period is
 * left alone (shim_sock.looked, set by epoll.c): the wait looks at the
 * ring at every call and asks for notifications before it sleeps, and
 * arming it here would make its peer notify for each message of a busy
 * program that never sleeps (redis-benchmark's 1000 rings: a kick, a
 * token and its drain per message). It is looked at again next period:
 * once nobody looks, it is armed.
 */
static void sweep_one(struct shim_sock *s)
{
	if (__atomic_load_n(&s->looked, __ATOMIC_RELAXED) >= sweep_since) {
		sweep_skipped++;
		return;
	}
	sock_sweep(s);
}

/* Event thread, under ev_lock: the sweep's deadline, -1 for none. */
int64_t sweep_run(int64_t now)
{
	if (!__atomic_load_n(&sweep_wanted, __ATOMIC_ACQUIRE)) {
		sweep_at = -1;
		return -1;
	}
	if (sweep_at < 0)
		sweep_at = now + sweep_ms();
	if (now < sweep_at)
		return sweep_at;
	sweep_at = -1;
	__atomic_store_n(&sweep_wanted, 0, __ATOMIC_RELEASE);
	sweep_since = now - sweep_ms();
	sweep_skipped = 0;
	shim_for_each_ring(sweep_one);
	if (sweep_skipped) {
		__atomic_store_n(&sweep_wanted, 1, __ATOMIC_RELAXED);
		sweep_at = now + sweep_ms();
		return sweep_at;
	}
	return -1;
}

void sweep_after_fork(void)
{
	sweep_wanted = 0;
	sweep_at = -1;
}
