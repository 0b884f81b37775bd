/* SPDX-License-Identifier: MIT */
/*
 * What a wait does with the ring sockets in its set. The intercepted waits
 * (poll.c: poll, ppoll, select, pselect; epoll.c: epoll_ctl, epoll_wait,
 * epoll_pwait, epoll_pwait2) pass a call whose set holds no ring socket to
 * libc untouched.
 *
 * With ring sockets in the set, the call first spins for up to
 * XSOCK_SPIN_US looking at the rings themselves (and at the other fds
 * with a zero-timeout system call now and then), so that an answer that
 * comes within the spin costs no notification and no wake-up on either
 * side. Only then does it ask the peers to notify (sock_sleep_begin())
 * and sleep in the kernel, where end A of each ring shows the ring's
 * state (tokens and plugs, see ready.c) and the event thread turns the
 * peers' notifications into tokens.
 *
 * poll and select report ring sockets from the ring's own state. epoll
 * reports whatever the kernel says about end A, which is made to match
 * the ring before every look, so level- and edge-triggered modes,
 * EPOLLONESHOT, EPOLLRDHUP and the application's epoll_data all keep the
 * kernel's semantics. To know which rings an epoll set holds, epoll_ctl
 * is watched: the sets are tracked by epoll fd number.
 */
#include "config.h"

#include <poll.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "preload/fdtable.h"
#include "preload/ready.h"
#include "preload/spin.h"
#include "preload/waitset.h"

/* Spin on the rings (not the kernel) for a short while: true if one changed. */
bool wsocks_spin(struct wsock *w, int n, bool for_poll)
{
	unsigned int k, polls = 2 * shim_spin_polls();
	int i;

	for (k = 0; k < polls; k++) {
		for (i = 0; i < n; i++) {
			if (for_poll || w[i].lt) {
				unsigned int ev = w[i].lt ? w[i].events & EP_RING_EVENTS :
					(w[i].rd ? POLLIN : 0) | (w[i].wr ? POLLOUT : 0);

				if (sock_revents(w[i].s, ev))
					return true;
			} else if (sock_stale(w[i].s, w[i].wr)) {
				return true;
			}
		}
		cpu_relax();
	}
	shim_spin_yield();	/* a runnable peer may need this CPU (see io.c) */
	return false;
}

bool wsocks_spin_on(struct wsock *w, int n, bool for_poll, int64_t spin_end)
{
	if (xs_now_ns() >= spin_end) {
		shim_spin_result(false);
		return false;
	}
	wsocks_spin(w, n, for_poll);
	return true;
}

void wsocks_unpassive(struct wsock *w, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct shim_rstate *rs = w[i].s->rs;

		if (w[i].rd && __atomic_load_n(&rs->passive_rd, __ATOMIC_RELAXED))
			sock_passive(w[i].s, w[i].fd, true, false);
		if (w[i].wr && __atomic_load_n(&rs->passive_wr, __ATOMIC_RELAXED))
			sock_passive(w[i].s, w[i].fd, false, false);
	}
}

void wsocks_unpassive_rd(struct wsock *w, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (w[i].rd && __atomic_load_n(&w[i].s->rs->passive_rd, __ATOMIC_RELAXED))
			sock_passive(w[i].s, w[i].fd, true, false);
}

/* Ask for notifications before sleeping; true if one is ready already. */
bool wsocks_sleep_begin(struct wsock *w, int n)
{
	bool ready = false;
	int i;

	for (i = 0; i < n; i++)
		ready |= sock_sleep_begin(w[i].s, w[i].fd, w[i].rd, w[i].wr);
	return ready;
}

void wsocks_sleep_end(struct wsock *w, int n, bool looks)
{
	int i;

	/* A level-triggered epoll entry is reported from its ring (eplook.c). */
	for (i = 0; i < n; i++)
		sock_sleep_end(w[i].s, w[i].fd, w[i].rd, w[i].wr, looks || w[i].lt);
}

void wsocks_put(struct wsock *w, int n, struct wsock *local)
{
	struct shim_sock *v[64], **pv = v;
	int i;

	if (n > (int)XS_ARRAY_SIZE(v))
		pv = malloc(sizeof(*pv) * (size_t)n);
	if (pv) {
		for (i = 0; i < n; i++)
			pv[i] = w[i].s;
		shim_put_many(pv, n);
		if (pv != v)
			free(pv);
	} else {
		for (i = 0; i < n; i++)
			shim_put(w[i].s);
	}
	if (w != local)
		free(w);
}
