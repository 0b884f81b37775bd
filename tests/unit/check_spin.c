/* SPDX-License-Identifier: MIT */
/*
 * The spin's yield rhythm (preload/spin.c): a thread whose sched_yield()
 * runs another thread on its CPU (a peer pinned to the same core) polls
 * only SPIN_POLLS_MIN times between yields; once its yields find nobody
 * else to run, it goes back to SPIN_POLLS_MAX. Both cases are made real:
 * the test thread and a busy competitor are pinned to one CPU.
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>

#include "preload/spin.h"
#include "testutil.h"

static int pin_cpu = -1;

/* Pin the calling thread to the CPU the test runs on (the first one it
 * may use); the competitor joins it there. */
static void pin_here(void)
{
	cpu_set_t set;
	int i;

	if (pin_cpu < 0) {
		ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
		for (i = 0; i < CPU_SETSIZE && !CPU_ISSET(i, &set); i++)
			;
		ck_assert_int_lt(i, CPU_SETSIZE);
		pin_cpu = i;
	}
	CPU_ZERO(&set);
	CPU_SET(pin_cpu, &set);
	ck_assert_int_eq(pthread_setaffinity_np(pthread_self(), sizeof(set), &set), 0);
}

static volatile int busy_run = 1;

static void *busy(void *arg)
{
	(void)arg;
	pin_here();
	while (__atomic_load_n(&busy_run, __ATOMIC_RELAXED))
		;
	return NULL;
}

/* Up to @tries yields; true once the rhythm reached @want. */
static bool yields_reach(unsigned int want, int tries)
{
	while (tries-- > 0) {
		shim_spin_yield();
		if (shim_spin_polls() == want)
			return true;
	}
	return false;
}

START_TEST(alone_polls_long)
{
	pin_here();
	ck_assert_uint_eq(shim_spin_polls(), SPIN_POLLS_MAX);
	/* Nobody else on this CPU (other tests' processes may come by now
	 * and then: enough quick yields in a row are all it needs). */
	ck_assert(yields_reach(SPIN_POLLS_MAX, 10000));
}
END_TEST

START_TEST(shared_cpu_yields_soon)
{
	pthread_t t;
	int shortened = 0, i;

	pin_here();
	ck_assert_int_eq(pthread_create(&t, NULL, busy, NULL), 0);
	/* A yield now runs the competitor for the rest of a slice, unless
	 * the scheduler finds this thread owed the CPU (about half of them
	 * here): each that ran it must shorten the rhythm. */
	for (i = 0; i < 20; i++) {
		shim_spin_yield();
		shortened += shim_spin_polls() == SPIN_POLLS_MIN;
	}
	__atomic_store_n(&busy_run, 0, __ATOMIC_RELAXED);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(shortened >= 5, "only %d of 20 yields to a busy thread shortened the rhythm",
		      shortened);
	/* Alone again: back to long runs of polls. */
	ck_assert(yields_reach(SPIN_POLLS_MAX, 10000));
}
END_TEST

static Suite *spin_suite(void)
{
	Suite *s = suite_create("spin");
	TCase *tc = tcase_create("yield");

	tcase_add_test(tc, alone_polls_long);
	tcase_add_test(tc, shared_cpu_yields_soon);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(spin_suite());
}
