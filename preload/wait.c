/* SPDX-License-Identifier: MIT */
/*
 * Intercepted waits: poll, ppoll, select, pselect, epoll_ctl, epoll_wait,
 * epoll_pwait, epoll_pwait2. A call whose set holds no ring socket goes to
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

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/log.h"
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/ready.h"
#include "preload/shim.h"
#include "preload/wait.h"

/* ---- time ------------------------------------------------------------------------- */

/* Absolute deadline in ns for a timeout in ms (<0: none). */
static int64_t deadline_at(int64_t now, int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now + (int64_t)timeout_ms * 1000000;
}

static int64_t deadline_of(int timeout_ms)
{
	return deadline_at(xs_now_ns(), timeout_ms);
}

/* What is left of @deadline, in ms rounded up (-1: none). */
static int left_ms(int64_t deadline)
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

static int ts_to_ms(const struct timespec *ts)
{
	int64_t ms;

	if (!ts)
		return -1;
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
		return -2;	/* EINVAL */
	ms = (int64_t)ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* ---- the rings of a wait ------------------------------------------------------------ */

struct wsock {
	struct shim_sock *s;
	int idx;		/* poll: index in the pollfd array */
	bool rd, wr;		/* interest */
};

/* Spin on the rings (not the kernel) for a short while: true if one changed. */
static bool wsocks_spin(struct wsock *w, int n, bool for_poll)
{
	int k, i;

	for (k = 0; k < 128; k++) {
		for (i = 0; i < n; i++) {
			if (for_poll) {
				unsigned int ev = (w[i].rd ? POLLIN : 0) | (w[i].wr ? POLLOUT : 0);

				if (sock_revents(w[i].s, ev))
					return true;
			} else if (sock_stale(w[i].s, w[i].wr)) {
				return true;
			}
		}
		cpu_relax();
	}
	sched_yield();	/* a runnable peer may need this CPU (see io.c) */
	return false;
}

static void wsocks_unpassive(struct wsock *w, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct shim_rstate *rs = w[i].s->rs;

		if (w[i].rd && __atomic_load_n(&rs->passive_rd, __ATOMIC_RELAXED))
			sock_passive(w[i].s, true, false);
		if (w[i].wr && __atomic_load_n(&rs->passive_wr, __ATOMIC_RELAXED))
			sock_passive(w[i].s, false, false);
	}
}

/* Ask for notifications before sleeping; true if one is ready already. */
static bool wsocks_sleep_begin(struct wsock *w, int n)
{
	bool ready = false;
	int i;

	for (i = 0; i < n; i++)
		ready |= sock_sleep_begin(w[i].s, w[i].rd, w[i].wr);
	return ready;
}

static void wsocks_sleep_end(struct wsock *w, int n)
{
	int i;

	for (i = 0; i < n; i++)
		sock_sleep_end(w[i].s, w[i].rd, w[i].wr);
}

static void wsocks_put(struct wsock *w, int n, struct wsock *local)
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

/* ---- poll and select ------------------------------------------------------------------ */

static __thread unsigned int poll_skips;
/* When this thread's last do_poll() started to wait (spin or sleep), in
 * xs_now_ns() time, or -1 if it answered without waiting: select()
 * then reports its timeout untouched instead of reading the clock twice
 * per call (Linux would subtract the microsecond or so it took). */
static __thread int64_t poll_wait_start = -1;

/* Put the rings' own state into their revents; the number of ready fds. */
static int poll_merge(struct pollfd *fds, nfds_t nfds, struct wsock *w, int n)
{
	int i, ready = 0;
	nfds_t j;

	for (i = 0; i < n; i++) {
		struct pollfd *p = &fds[w[i].idx];

		p->revents = (short)((p->revents & POLLNVAL) |
				     sock_revents(w[i].s, (unsigned int)(unsigned short)p->events));
	}
	for (j = 0; j < nfds; j++)
		if (fds[j].revents)
			ready++;
	return ready;
}

static int do_poll(struct pollfd *fds, nfds_t nfds, int timeout, const sigset_t *mask)
{
	struct wsock local[16], *w = local;
	int64_t deadline = -1, spin_end;
	struct timespec zero = { 0, 0 }, ts;
	uint64_t slept_at;
	int n = 0, rc, ready;
	nfds_t j;

	poll_wait_start = -1;

	for (j = 0; j < nfds; j++) {
		struct shim_sock *s;

		if (!shim_maybe_ours(fds[j].fd))
			continue;
		s = shim_get(fds[j].fd);
		if (!s)
			continue;
		if (s->kind != SHIM_RING) {
			shim_put(s);
			continue;
		}
		if (n == (int)XS_ARRAY_SIZE(local) && w == local) {
			w = malloc(sizeof(*w) * nfds);
			if (!w) {
				shim_put(s);
				w = local;
				break;	/* the rest is served by the kernel alone */
			}
			memcpy(w, local, sizeof(local));
		}
		w[n].s = s;
		w[n].idx = (int)j;
		w[n].rd = fds[j].events & (POLLIN | POLLRDNORM | POLLRDHUP);
		w[n].wr = fds[j].events & (POLLOUT | POLLWRNORM);
		n++;
	}
	if (n == 0) {
		if (w != local)
			free(w);
		if (timeout != 0)
			poll_wait_start = xs_now_ns();
		if (!mask)
			return shim_real.poll(fds, nfds, timeout);
		if (timeout >= 0) {
			ts.tv_sec = timeout / 1000;
			ts.tv_nsec = (timeout % 1000) * 1000000L;
		}
		return shim_real.ppoll(fds, nfds, timeout >= 0 ? &ts : NULL, mask);
	}

	/*
	 * A ring that is ready answers without a system call; the other fds
	 * are still looked at on every 64th such call (a few tens of
	 * microseconds apart while a ring stays ready) so that a busy ring
	 * cannot starve them (their readiness is level: it waits).
	 */
	if (!mask && (++poll_skips & 63) != 0) {
		for (j = 0; j < nfds; j++)
			fds[j].revents = 0;
		ready = poll_merge(fds, nfds, w, n);
		if (ready) {
			rc = ready;
			goto out;
		}
	}
	spin_end = -1;
	for (bool first = true;; first = false) {
		rc = shim_real.ppoll(fds, nfds, &zero, mask);
		if (rc < 0)
			goto out;
		ready = poll_merge(fds, nfds, w, n);
		if (ready || timeout == 0) {
			if (!first && ready)
				shim_spin_result(true);	/* found by spinning */
			rc = ready;
			goto out;
		}
		if (first) {
			wsocks_unpassive(w, n);
			poll_wait_start = xs_now_ns();
			deadline = deadline_at(poll_wait_start, timeout);
			spin_end = poll_wait_start + shim_spin_budget();
		}
		if (xs_now_ns() >= spin_end) {
			shim_spin_result(false);
			break;
		}
		wsocks_spin(w, n, true);
	}
	for (;;) {
		int left = left_ms(deadline);

		if (wsocks_sleep_begin(w, n))
			left = 0;
		if (left >= 0) {
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000L;
		}
		slept_at = (uint64_t)xs_now_ns();
		rc = shim_real.ppoll(fds, nfds, left >= 0 ? &ts : NULL, mask);
		if (rc < 0)
			rc = -errno;
		wsocks_sleep_end(w, n);
		if (rc < 0) {
			errno = -rc;
			rc = -1;
			goto out;
		}
		ready = poll_merge(fds, nfds, w, n);
		shim_spin_slept(slept_at, ready > 0);
		if (ready || left_ms(deadline) == 0) {
			rc = ready;
			goto out;
		}
		/* A token that no longer stood for data: sleep again. */
	}
out:
	wsocks_put(w, n, local);
	return rc;
}

XS_EXPORT int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	shim_resolve();
	if (shim_guard)
		return shim_real.poll(fds, nfds, timeout);
	return do_poll(fds, nfds, timeout, NULL);
}

int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen);

XS_EXPORT int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	(void)fdslen;
	return poll(fds, nfds, timeout);
}

XS_EXPORT int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
		    const sigset_t *mask)
{
	int ms;

	shim_resolve();
	if (shim_guard)
		return shim_real.ppoll(fds, nfds, tmo, mask);
	ms = ts_to_ms(tmo);
	if (ms == -2) {
		errno = EINVAL;
		return -1;
	}
	return do_poll(fds, nfds, ms, mask);
}

static bool set_has_ring(int nfds, fd_set *r, fd_set *w, fd_set *e)
{
	int fd;

	for (fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
		if (!shim_maybe_ours(fd))
			continue;
		if ((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e)))
			return true;
	}
	return false;
}

/* The bytes of an fd_set that hold fds 0..nfds-1, in whole longs. */
static size_t fdset_bytes(int nfds)
{
	return ((size_t)nfds + 8 * sizeof(long) - 1) / (8 * sizeof(long)) * sizeof(long);
}

/* select() on top of do_poll(): the number of bits set, or -1. */
static int do_select(int nfds, fd_set *r, fd_set *w, fd_set *e, int timeout,
		     const sigset_t *mask)
{
	struct pollfd local[64], *p = local;
	int fd, n = 0, rc, i;

	if (nfds < 0 || nfds > FD_SETSIZE) {
		errno = EINVAL;
		return -1;
	}
	if (nfds > (int)XS_ARRAY_SIZE(local)) {
		p = malloc(sizeof(*p) * (size_t)nfds);
		if (!p) {
			errno = ENOMEM;
			return -1;
		}
	}
	for (fd = 0; fd < nfds; fd++) {
		short ev = 0;

		if (r && FD_ISSET(fd, r))
			ev |= POLLIN;
		if (w && FD_ISSET(fd, w))
			ev |= POLLOUT;
		if (e && FD_ISSET(fd, e))
			ev |= POLLPRI;
		if (!ev)
			continue;
		p[n].fd = fd;
		p[n].events = ev;
		p[n].revents = 0;
		n++;
	}
	rc = do_poll(p, (nfds_t)n, timeout, mask);
	if (rc < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (p[i].revents & POLLNVAL) {
			errno = EBADF;
			rc = -1;
			goto out;
		}
	}
	/* Linux writes back the first nfds bits (rounded up to longs) only. */
	if (r)
		memset(r, 0, fdset_bytes(nfds));
	if (w)
		memset(w, 0, fdset_bytes(nfds));
	if (e)
		memset(e, 0, fdset_bytes(nfds));
	rc = 0;
	for (i = 0; i < n; i++) {
		short rev = p[i].revents;

		if ((p[i].events & POLLIN) && (rev & (POLLIN | POLLHUP | POLLERR))) {
			FD_SET(p[i].fd, r);
			rc++;
		}
		if ((p[i].events & POLLOUT) && (rev & (POLLOUT | POLLERR))) {
			FD_SET(p[i].fd, w);
			rc++;
		}
		if ((p[i].events & POLLPRI) && (rev & POLLPRI)) {
			FD_SET(p[i].fd, e);
			rc++;
		}
	}
out:
	if (p != local)
		free(p);
	return rc;
}

XS_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	int ms = -1, rc;

	shim_resolve();
	if (shim_guard || !set_has_ring(nfds, r, w, e))
		return shim_real.select(nfds, r, w, e, tv);
	if (tv) {
		if (tv->tv_sec < 0 || tv->tv_usec < 0) {
			errno = EINVAL;
			return -1;
		}
		ms = (int)XS_MIN((int64_t)tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000,
				 (int64_t)INT_MAX);
	}
	poll_wait_start = -1;
	rc = do_select(nfds, r, w, e, ms, NULL);
	if (tv && poll_wait_start >= 0) {
		/* Linux reports the time left. */
		int64_t left = (int64_t)ms * 1000 - (xs_now_ns() - poll_wait_start) / 1000;

		if (left < 0)
			left = 0;
		tv->tv_sec = left / 1000000;
		tv->tv_usec = left % 1000000;
	}
	return rc;
}

XS_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *tmo,
		      const sigset_t *mask)
{
	int ms;

	shim_resolve();
	if (shim_guard || !set_has_ring(nfds, r, w, e))
		return shim_real.pselect(nfds, r, w, e, tmo, mask);
	ms = ts_to_ms(tmo);
	if (ms == -2) {
		errno = EINVAL;
		return -1;
	}
	return do_select(nfds, r, w, e, ms, mask);
}

/* ---- epoll -------------------------------------------------------------------------- */

struct ep_ent {
	int fd;
	uint32_t events;
	struct shim_sock *s;	/* one reference */
};

struct ep_set {
	int n, cap;
	struct ep_ent *e;
};

static pthread_mutex_t ep_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ep_set **ep_tab;	/* by epoll fd */
static int ep_tab_size;
static int ep_live;		/* sets with entries (atomic; fast path of close) */

/* Under ep_lock. */
static struct ep_set *ep_set_of(int epfd, bool create)
{
	if (epfd < 0)
		return NULL;
	if (epfd >= ep_tab_size) {
		int size = ep_tab_size ? ep_tab_size : 64;
		struct ep_set **t;

		if (!create)
			return NULL;
		while (size <= epfd)
			size *= 2;
		t = realloc(ep_tab, sizeof(*t) * (size_t)size);
		if (!t)
			return NULL;
		memset(t + ep_tab_size, 0, sizeof(*t) * (size_t)(size - ep_tab_size));
		ep_tab = t;
		ep_tab_size = size;
	}
	if (!ep_tab[epfd] && create) {
		ep_tab[epfd] = calloc(1, sizeof(struct ep_set));
		if (ep_tab[epfd])
			__atomic_add_fetch(&ep_live, 1, __ATOMIC_RELAXED);
	}
	return ep_tab[epfd];
}

/* Under ep_lock: drop entry @i of @set; its reference goes to *@put. */
static void ep_drop(struct ep_set *set, int i, struct shim_sock **put)
{
	*put = set->e[i].s;
	set->e[i] = set->e[--set->n];
}

static void ep_track(int epfd, int op, int fd, const struct epoll_event *ev)
{
	struct shim_sock *s = NULL, *put = NULL;
	struct ep_set *set;
	int i;

	if (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) {
		if (!shim_maybe_ours(fd))
			return;
		s = shim_get(fd);
		if (!s)
			return;
		if (s->kind != SHIM_RING) {
			shim_put(s);
			return;
		}
	}
	pthread_mutex_lock(&ep_lock);
	set = ep_set_of(epfd, s != NULL);
	if (!set)
		goto unlock;
	for (i = 0; i < set->n; i++)
		if (set->e[i].fd == fd)
			break;
	if (op == EPOLL_CTL_DEL) {
		if (i < set->n)
			ep_drop(set, i, &put);
		goto unlock;
	}
	if (i < set->n) {
		/* MOD (or an ADD the kernel accepted for a reused number). */
		put = set->e[i].s;
		set->e[i].s = s;
		set->e[i].events = ev ? ev->events : 0;
		s = NULL;
		goto unlock;
	}
	if (set->n == set->cap) {
		int cap = set->cap ? set->cap * 2 : 8;
		struct ep_ent *e = realloc(set->e, sizeof(*e) * (size_t)cap);

		if (!e)
			goto unlock;	/* untracked: the kernel and the sweep serve it */
		set->e = e;
		set->cap = cap;
	}
	set->e[set->n].fd = fd;
	set->e[set->n].events = ev ? ev->events : 0;
	set->e[set->n].s = s;
	set->n++;
	s = NULL;
unlock:
	pthread_mutex_unlock(&ep_lock);
	shim_put(s);
	shim_put(put);
}

void wait_fd_closed(int fd)
{
	struct shim_sock *puts[8];
	struct ep_set *gone = NULL;
	int i, np = 0;
	bool ring;

	if (!__atomic_load_n(&ep_live, __ATOMIC_RELAXED))
		return;
	ring = shim_maybe_ours(fd);
	pthread_mutex_lock(&ep_lock);
	if (fd < ep_tab_size && ep_tab[fd]) {
		gone = ep_tab[fd];	/* an epoll fd we track */
		ep_tab[fd] = NULL;
		__atomic_sub_fetch(&ep_live, 1, __ATOMIC_RELAXED);
	}
	if (ring) {
		int e;

		for (e = 0; e < ep_tab_size; e++) {
			struct ep_set *set = ep_tab[e];

			if (!set)
				continue;
			for (i = 0; i < set->n; i++) {
				if (set->e[i].fd != fd)
					continue;
				if (np == (int)XS_ARRAY_SIZE(puts)) {
					pthread_mutex_unlock(&ep_lock);
					shim_put_many(puts, np);
					np = 0;
					pthread_mutex_lock(&ep_lock);
					set = ep_tab[e];
					if (!set)
						break;
				}
				ep_drop(set, i, &puts[np++]);
				break;
			}
		}
	}
	pthread_mutex_unlock(&ep_lock);
	shim_put_many(puts, np);
	if (gone) {
		for (i = 0; i < gone->n; i++)
			shim_put(gone->e[i].s);
		free(gone->e);
		free(gone);
	}
}

XS_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int rc;

	shim_resolve();
	rc = shim_real.epoll_ctl(epfd, op, fd, ev);
	if (rc == 0 && !shim_guard)
		ep_track(epfd, op, fd, ev);
	return rc;
}

/* Snapshot the rings of an epoll set, with references; the count. */
static int ep_rings(int epfd, struct wsock *local, int nlocal, struct wsock **out)
{
	struct shim_sock *v[64], **pv = v;
	struct wsock *w = local;
	struct ep_set *set;
	int n = 0, i;

	*out = local;
	if (!__atomic_load_n(&ep_live, __ATOMIC_RELAXED))
		return 0;
	pthread_mutex_lock(&ep_lock);
	set = ep_set_of(epfd, false);
	if (!set || set->n == 0) {
		pthread_mutex_unlock(&ep_lock);
		return 0;
	}
	n = set->n;
	if (n > nlocal) {
		w = malloc(sizeof(*w) * (size_t)n);
		if (!w) {
			pthread_mutex_unlock(&ep_lock);
			return 0;	/* the kernel alone: slower, still correct */
		}
	}
	if (n > (int)XS_ARRAY_SIZE(v)) {
		pv = malloc(sizeof(*pv) * (size_t)n);
		if (!pv) {
			pthread_mutex_unlock(&ep_lock);
			if (w != local)
				free(w);
			return 0;
		}
	}
	for (i = 0; i < n; i++) {
		w[i].s = set->e[i].s;
		w[i].idx = set->e[i].fd;
		w[i].rd = set->e[i].events & (EPOLLIN | EPOLLRDHUP);
		w[i].wr = set->e[i].events & EPOLLOUT;
		pv[i] = w[i].s;
	}
	shim_ref_many(pv, n);	/* under ep_lock: no entry leaves the set meanwhile */
	pthread_mutex_unlock(&ep_lock);
	if (pv != v)
		free(pv);
	*out = w;
	return n;
}

static void wsocks_sync(struct wsock *w, int n)
{
	int i;

	for (i = 0; i < n; i++)
		sock_sync(w[i].s, w[i].wr, true);
}

/* Sets with more rings than this sleep without spinning (see do_epoll()):
 * measured, redis-benchmark with 50 clients gains from the spin (127-133
 * vs 87-109 k GET/s), with 1000 clients neither way wins (52 k/s). */
#define EP_SPIN_MAX 64

static int do_epoll(int epfd, struct epoll_event *evs, int max, int timeout,
		    const sigset_t *mask)
{
	struct wsock local[16], *w;
	int64_t deadline, spin_end;
	uint64_t slept_at;
	int n, rc;

	n = ep_rings(epfd, local, (int)XS_ARRAY_SIZE(local), &w);
	if (n == 0)
		return shim_real.epoll_pwait(epfd, evs, max, timeout, mask);
	if (n > EP_SPIN_MAX) {
		/*
		 * A big set (a server with many clients): spinning over every
		 * ring, and asking for and then dropping notifications on each
		 * around every sleep, would cost more than the notifications.
		 * Its rings ask passively instead (kept on; a ring reading
		 * data turns it off, and it is turned back on here), so that
		 * the event thread keeps end A's tokens right and the kernel
		 * does the rest.
		 */
		int i;

		for (i = 0; i < n; i++)
			if (w[i].rd && !__atomic_load_n(&w[i].s->rs->passive_rd, __ATOMIC_RELAXED))
				sock_passive(w[i].s, true, true);
		rc = shim_real.epoll_pwait(epfd, evs, max, timeout, mask);
		goto out;
	}
	deadline = deadline_of(timeout);
	spin_end = 0;
	for (bool first = true;; first = false) {
		wsocks_sync(w, n);
		rc = shim_real.epoll_pwait(epfd, evs, max, 0, mask);
		if (rc != 0 || timeout == 0) {
			if (!first && rc > 0)
				shim_spin_result(true);	/* found by spinning */
			goto out;
		}
		if (first) {
			wsocks_unpassive(w, n);
			spin_end = xs_now_ns() + shim_spin_budget();
		}
		if (xs_now_ns() >= spin_end) {
			shim_spin_result(false);
			break;
		}
		wsocks_spin(w, n, false);
	}
	for (;;) {
		int left = left_ms(deadline);

		/*
		 * A ring that is ready already shows it on end A now (tokens
		 * are synced by wsocks_sleep_begin()); whether the kernel
		 * reports it is up to the registration (EPOLLONESHOT, ET),
		 * so sleep on the kernel's word in any case.
		 */
		wsocks_sleep_begin(w, n);
		slept_at = (uint64_t)xs_now_ns();
		rc = shim_real.epoll_pwait(epfd, evs, max, left, mask);
		if (rc < 0)
			rc = -errno;
		wsocks_sleep_end(w, n);
		shim_spin_slept(slept_at, rc > 0);
		if (rc < 0) {
			errno = -rc;
			rc = -1;
			goto out;
		}
		if (rc > 0 || left_ms(deadline) == 0)
			goto out;
		wsocks_sync(w, n);
		rc = shim_real.epoll_pwait(epfd, evs, max, 0, mask);
		if (rc != 0)
			goto out;
	}
out:
	wsocks_put(w, n, local);
	return rc;
}

XS_EXPORT int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	shim_resolve();
	if (shim_guard)
		return shim_real.epoll_wait(epfd, evs, max, timeout);
	return do_epoll(epfd, evs, max, timeout, NULL);
}

XS_EXPORT int epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout,
			  const sigset_t *mask)
{
	shim_resolve();
	if (shim_guard)
		return shim_real.epoll_pwait(epfd, evs, max, timeout, mask);
	return do_epoll(epfd, evs, max, timeout, mask);
}

XS_EXPORT int epoll_pwait2(int epfd, struct epoll_event *evs, int max,
			   const struct timespec *tmo, const sigset_t *mask)
{
	int ms;

	shim_resolve();
	if (shim_guard || !shim_real.epoll_pwait2)
		return shim_real.epoll_pwait2 ? shim_real.epoll_pwait2(epfd, evs, max, tmo, mask) :
					   (errno = ENOSYS, -1);
	ms = ts_to_ms(tmo);
	if (ms == -2) {
		errno = EINVAL;
		return -1;
	}
	/* Millisecond resolution while rings are involved. */
	return do_epoll(epfd, evs, max, ms, mask);
}
