/* SPDX-License-Identifier: MIT */
/*
 * epoll: the level-triggered ring entries of a set, reported from the
 * rings themselves rather than from end A (epoll.c asks).
 *
 * A level-triggered entry's readiness is the ring's, as poll() computes
 * it (sock_revents()); reporting it needs no token on end A, so a ring
 * that turns readable and then empty again costs no system call at all
 * (a token and its drain were two per message on each side). A keeps its
 * kernel semantics for everyone else: it is brought up to date before
 * any thread sleeps in the kernel on the set (wsocks_sleep_begin()), the
 * event thread adds tokens as before, and edge-triggered and one-shot
 * entries, whose kernel state cannot be told from the ring, go through A
 * as before. So the kernel may still report a level-triggered ring, from
 * a token of earlier: ep_filter() tells such an event by its epoll_data
 * and puts the ring's own word in its place, once per ring and call; a
 * token the ring no longer backs is taken back then. (Where two entries
 * share their epoll_data, which the application could not tell apart
 * either, an event may be taken for the other's: each ready ring is still
 * reported once, by the scan, and a stale token of the other is taken
 * back before any thread sleeps on the set.) The kernel is asked at every
 * call where no ring is ready, else every 16th (so a busy ring cannot
 * starve the set's other fds; their readiness is level, it waits), and
 * always while a set has edge-triggered rings or the call passes a signal
 * mask.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "common/compiler.h"
#include "common/env.h"
#include "preload/eplook.h"
#include "preload/libc.h"
#include "preload/ready.h"

_Static_assert(EPOLLIN == POLLIN && EPOLLOUT == POLLOUT && EPOLLRDHUP == POLLRDHUP &&
		       EPOLLRDNORM == POLLRDNORM && EPOLLWRNORM == POLLWRNORM &&
		       EPOLLERR == POLLERR && EPOLLHUP == POLLHUP,
	       "sock_revents() answers in poll bits");

bool ep_lt_on(void)
{
	static int on = -1;

	return xs_env_cached(&on, "XSOCK_EPOLL_LT", 1, 0, 1);
}

/* The rings' epoll_data, hashed, to find the ring a kernel event names. */
struct ep_index {
	int *slot;		/* index + 1 into the snapshot, 0: empty */
	unsigned int mask;
	int local[128];
};

static unsigned int ep_hash(uint64_t d, unsigned int mask)
{
	return (unsigned int)((d * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

/* Leaves @x->slot NULL if there is no memory for it (a linear search does). */
static void ep_index_build(struct ep_index *x, const struct wsock *w, int n)
{
	unsigned int size = 16, i;
	int j;

	while (size < 2u * (unsigned int)n)
		size *= 2;
	x->slot = size <= XS_ARRAY_SIZE(x->local) ? x->local : calloc(size, sizeof(int));
	if (!x->slot)
		return;
	if (x->slot == x->local)
		memset(x->local, 0, sizeof(int) * size);
	x->mask = size - 1;
	for (j = 0; j < n; j++) {
		if (!w[j].lt)
			continue;
		for (i = ep_hash(w[j].data, x->mask); x->slot[i]; i = (i + 1) & x->mask)
			;
		x->slot[i] = j + 1;
	}
}

/*
 * The next level-triggered ring after @from (-1: the first) whose
 * epoll_data is @d: its index, or -1.
 */
static int ep_next(const struct ep_index *x, const struct wsock *w, int n, uint64_t d, int from)
{
	unsigned int i;
	int j;

	if (!x->slot) {
		for (j = from + 1; j < n; j++)
			if (w[j].lt && w[j].data == d)
				return j;
		return -1;
	}
	/* A chain holds its entries in snapshot order (ep_index_build()). */
	for (i = ep_hash(d, x->mask); x->slot[i]; i = (i + 1) & x->mask) {
		j = x->slot[i] - 1;
		if (j > from && w[j].data == d)
			return j;
	}
	return -1;
}

static uint32_t ep_ring_events(struct wsock *w)
{
	return sock_revents(w->s, w->events & EP_RING_EVENTS);
}

/*
 * The kernel's @k events in @evs, those for level-triggered rings replaced
 * by the ring's own word: the count kept. An event whose epoll_data names
 * rings goes if none of them is ready (A's token or plug is stale: taken
 * back) or if this call reported the ring already, and stays as it came
 * if no ring's A could have caused it (another fd with the same
 * epoll_data).
 */
static int ep_filter(struct wsock *w, int n, struct epoll_event *evs, int k)
{
	struct ep_index x = { .slot = NULL };
	int i, kept = 0;

	if (k > 0 && n > 8)
		ep_index_build(&x, w, n);
	for (i = 0; i < k; i++) {
		uint64_t d = evs[i].data.u64;
		bool ours = false, done = false;
		int j = ep_next(&x, w, n, d, -1);

		if (j < 0) {
			evs[kept++] = evs[i];
			continue;
		}
		for (; j >= 0; j = ep_next(&x, w, n, d, j)) {
			uint32_t rev = ep_ring_events(&w[j]);

			if (rev) {
				ours = true;
				if (done || w[j].seen)
					continue;
				w[j].seen = done = true;
				evs[kept].events = rev;
				evs[kept].data.u64 = d;
				kept++;
			} else if (sock_a_explains(w[j].s, evs[i].events)) {
				/* A token (or a missing plug) the ring does not back. */
				sock_sync(w[j].s, w[j].fd, w[j].wr, true);
				ours = true;
			}
		}
		if (!ours)
			evs[kept++] = evs[i];
	}
	if (x.slot && x.slot != x.local)
		free(x.slot);
	return kept;
}

/* Where the next look starts among the rings: ready ones take turns. */
static __thread unsigned int ep_cursor;
static __thread unsigned int ep_skips;

/* Ready level-triggered rings not yet reported, after @evs[0..@nr). */
static int ep_scan(struct wsock *w, int n, struct epoll_event *evs, int nr, int max)
{
	int i, j = (int)(ep_cursor % (unsigned int)n);

	for (i = 0; i < n && nr < max; i++, j = j + 1 < n ? j + 1 : 0) {
		uint32_t rev;

		if (!w[j].lt || w[j].seen)
			continue;
		rev = ep_ring_events(&w[j]);
		if (!rev)
			continue;
		w[j].seen = true;
		evs[nr].events = rev;
		evs[nr].data.u64 = w[j].data;
		nr++;
		if (nr == max)
			ep_cursor = (unsigned int)j + 1;	/* the rest first next time */
	}
	return nr;
}

/* A new call: nothing reported yet; the count of level-triggered rings. */
static int ep_begin(struct wsock *w, int n)
{
	int i, nlt = 0;

	for (i = 0; i < n; i++) {
		w[i].seen = false;
		nlt += w[i].lt;
	}
	return nlt;
}

/* The kernel's @k events with the rings' own word, then the other ready rings. */
static int ep_merge(struct wsock *w, int n, struct epoll_event *evs, int max, int k)
{
	return ep_scan(w, n, evs, ep_filter(w, n, evs, k), max);
}

/*
 * One look at set @epfd without waiting: what epoll_pwait(.., 0, @mask)
 * would return (the count, or -errno). Edge-triggered and one-shot rings
 * are synced to A and reported by the kernel; level-triggered ones from
 * their rings (above).
 */
int ep_look(int epfd, struct wsock *w, int n, struct epoll_event *evs, int max,
	    const sigset_t *mask)
{
	int i, nr, nlt = ep_begin(w, n);

	for (i = 0; i < n; i++)
		if (!w[i].lt)
			sock_sync(w[i].s, w[i].fd, w[i].wr, true);
	/* Ready rings answer alone unless the kernel is due (above). */
	if (nlt == n && !mask && (++ep_skips & 15) != 0) {
		nr = ep_scan(w, n, evs, 0, max);
		if (nr)
			return nr;
	}
	nr = shim_real.epoll_pwait(epfd, evs, max, 0, mask);
	if (nr < 0)
		return -errno;
	return nlt ? ep_merge(w, n, evs, max, nr) : nr;
}

/* As ep_look(), for events the kernel returned after a sleep. */
int ep_after_sleep(struct wsock *w, int n, struct epoll_event *evs, int max, int k)
{
	if (k <= 0 || !ep_begin(w, n))
		return k;
	return ep_merge(w, n, evs, max, k);
}
