/* SPDX-License-Identifier: MIT */
/*
 * Offered rings closed before their client attached (offers.h). Under
 * ev_lock throughout, so the event thread and any closing thread agree.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>

#include "preload/evloop.h"
#include "preload/fdtable.h"
#include "preload/offers.h"
#include "preload/pool.h"
#include "preload/ready.h"
#include "preload/shim.h"

/* Rings handed out XS_CONN_OFFERED may exist (offers_note()). */
static int offers_pending;
/* Offered rings the application closed (offers_end_locked()). */
struct closed_offer {
	struct closed_offer *next;
	struct xs_conn *c;
};
static struct closed_offer *lingering;

void offers_note(void)
{
	/* Release: pairs with the acquire in offers_run() (another thread
	 * may set it while the event thread looks). */
	__atomic_store_n(&offers_pending, 1, __ATOMIC_RELEASE);
}

#define OFFERS_CHECK_MS 50

static unsigned int offers_left;	/* event thread: counted by offer_check() */

/*
 * Offered rings the application closed before their client attached,
 * under ev_lock: kept (their close already written to the ring) until the
 * client attached, and then reads what was sent and end of stream, as a
 * TCP peer reads what a closed socket had sent, or is given up.
 */

void offers_end_locked(struct xs_conn *c)
{
	struct closed_offer *lg;

	if (!xs_conn_offered(c)) {
		if (!pool_park(c))
			xs_conn_close(c);
		return;
	}
	xsr_close(&c->ring);
	lg = malloc(sizeof(*lg));
	if (!lg) {
		xs_conn_close(c);
		return;
	}
	lg->c = c;
	lg->next = lingering;
	lingering = lg;
	offers_note();
	ev_wake();
}

/* Under ev_lock: end lingering rings that settled (all with @all). */
static void linger_run(bool all)
{
	struct closed_offer **pp = &lingering, *lg;

	while ((lg = *pp)) {
		if (!all && xs_conn_offered(lg->c)) {
			xs_conn_event(lg->c);
			if (xs_conn_offered(lg->c)) {
				offers_left++;
				pp = &lg->next;
				continue;
			}
		}
		*pp = lg->next;
		xs_conn_close(lg->c);
		free(lg);
	}
}

static void offer_check(struct shim_sock *s)
{
	if (!xs_conn_offered(s->conn))
		return;
	if (xs_conn_event(s->conn) > 0)
		sock_sync(s, -1, false, false);
	if (xs_conn_offered(s->conn))
		offers_left++;
}

/*
 * Event thread, under ev_lock: settle offered rings whose client is gone
 * or late (an attach or a death comes as an event; lateness does not).
 * The next look's deadline, -1 for none.
 */
int64_t offers_run(int64_t now)
{
	if (!__atomic_load_n(&offers_pending, __ATOMIC_ACQUIRE))
		return -1;
	offers_left = 0;
	shim_for_each_ring(offer_check);
	linger_run(false);
	if (offers_left)
		return now + OFFERS_CHECK_MS;
	__atomic_store_n(&offers_pending, 0, __ATOMIC_RELEASE);
	return -1;
}

void offers_end_all(void)
{
	linger_run(true);
}

void offers_domain_dead(xsp_domid_t dom)
{
	struct closed_offer **pp = &lingering, *lg;

	while ((lg = *pp)) {
		if (lg->c->peer != dom) {
			pp = &lg->next;
			continue;
		}
		*pp = lg->next;
		xs_conn_domain_dead(lg->c);
		xs_conn_dead_pages(lg->c);
		xs_conn_close(lg->c);
		free(lg);
	}
}

void offers_after_fork(void)
{
	lingering = NULL;	/* the parent's to end */
	offers_pending = 0;
}
