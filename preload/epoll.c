/* SPDX-License-Identifier: MIT */
/*
 * Intercepted epoll_ctl, epoll_wait, epoll_pwait and epoll_pwait2. A call
 * whose set holds no ring socket goes to libc untouched; with ring sockets
 * it spins, then sleeps, as waitset.c says. epoll reports whatever the
 * kernel says about end A, which is made to match the ring before every
 * look, so level- and edge-triggered modes, EPOLLONESHOT, EPOLLRDHUP and
 * the application's epoll_data all keep the kernel's semantics. To know
 * which rings an epoll set holds, epoll_ctl is watched: the sets are
 * tracked by epoll fd number.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "preload/defer.h"
#include "preload/direct.h"
#include "preload/epoll.h"
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/ready.h"
#include "preload/shim.h"
#include "preload/spin.h"
#include "preload/waitset.h"

struct ep_ent {
	int fd;
	uint32_t events;
	struct shim_sock *s;	/* one reference */
};

struct ep_set {
	int n, cap;
	struct ep_ent *e;
};

/* Taken with shim_lock() (defer.h): a close() from a signal handler must
 * know when its thread holds it. */
static pthread_mutex_t ep_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ep_set **ep_tab;	/* by epoll fd */
static int ep_tab_size;
int ep_live;			/* sets with entries (atomic; fast path of close) */

/*
 * fork() while another thread holds ep_lock (in the middle of growing
 * ep_tab, say) would give the child a lock nobody lets go of and a table
 * half updated: hold it across fork(). It is a leaf lock (nothing else
 * is taken under it), so this cannot deadlock.
 */
static void ep_before_fork(void)
{
	shim_lock(&ep_lock);
}

static void ep_parent_after_fork(void)
{
	shim_unlock(&ep_lock);
}

static void ep_child_after_fork(void)
{
	shim_lock_child(&ep_lock);
}

__attribute__((constructor)) static void epoll_constructor(void)
{
	pthread_atfork(ep_before_fork, ep_parent_after_fork, ep_child_after_fork);
}

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
	shim_lock(&ep_lock);
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
	shim_unlock(&ep_lock);
	shim_put(s);
	shim_put(put);
}

/*
 * Forget what the sets know of @fd: the set it is (@as_set), and its
 * entries in the sets (@as_ring): all of them, or (@only) those that name
 * that socket.
 */
static void ep_forget(int fd, bool as_set, bool as_ring, struct shim_sock *only)
{
	struct shim_sock *puts[8];
	struct ep_set *gone = NULL;
	int i, np = 0;

	shim_lock(&ep_lock);
	if (as_set && fd < ep_tab_size && ep_tab[fd]) {
		gone = ep_tab[fd];	/* an epoll fd we track */
		ep_tab[fd] = NULL;
		__atomic_sub_fetch(&ep_live, 1, __ATOMIC_RELAXED);
	}
	if (as_ring) {
		int e;

		for (e = 0; e < ep_tab_size; e++) {
			struct ep_set *set = ep_tab[e];

			if (!set)
				continue;
			for (i = 0; i < set->n; i++) {
				if (set->e[i].fd != fd || (only && set->e[i].s != only))
					continue;
				if (np == (int)XS_ARRAY_SIZE(puts)) {
					shim_unlock(&ep_lock);
					shim_put_many(puts, np);
					np = 0;
					shim_lock(&ep_lock);
					set = ep_tab[e];
					if (!set)
						break;
				}
				ep_drop(set, i, &puts[np++]);
				break;
			}
		}
	}
	shim_unlock(&ep_lock);
	shim_put_many(puts, np);
	if (gone) {
		for (i = 0; i < gone->n; i++)
			shim_put(gone->e[i].s);
		free(gone->e);
		free(gone);
	}
}

void ep_fd_closed(int fd)
{
	if (__atomic_load_n(&ep_live, __ATOMIC_RELAXED))
		ep_forget(fd, true, shim_maybe_ours(fd), NULL);
}

void ep_fd_gone(int fd, struct shim_sock *s)
{
	if (__atomic_load_n(&ep_live, __ATOMIC_RELAXED))
		ep_forget(fd, !s, s != NULL, s);
}

XS_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int rc;

	shim_resolve();
	defer_poll();
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
	shim_lock(&ep_lock);
	set = ep_set_of(epfd, false);
	if (!set || set->n == 0) {
		shim_unlock(&ep_lock);
		return 0;
	}
	n = set->n;
	if (n > nlocal) {
		w = malloc(sizeof(*w) * (size_t)n);
		if (!w) {
			shim_unlock(&ep_lock);
			return 0;	/* the kernel alone: slower, still correct */
		}
	}
	if (n > (int)XS_ARRAY_SIZE(v)) {
		pv = malloc(sizeof(*pv) * (size_t)n);
		if (!pv) {
			shim_unlock(&ep_lock);
			if (w != local)
				free(w);
			return 0;
		}
	}
	for (i = 0; i < n; i++) {
		w[i].s = set->e[i].s;
		w[i].fd = set->e[i].fd;
		w[i].idx = set->e[i].fd;
		w[i].rd = set->e[i].events & (EPOLLIN | EPOLLRDHUP);
		w[i].wr = set->e[i].events & EPOLLOUT;
		pv[i] = w[i].s;
	}
	shim_ref_many(pv, n);	/* under ep_lock: no entry leaves the set meanwhile */
	shim_unlock(&ep_lock);
	if (pv != v)
		free(pv);
	*out = w;
	return n;
}

static void wsocks_sync(struct wsock *w, int n)
{
	int i;

	for (i = 0; i < n; i++)
		sock_sync(w[i].s, w[i].fd, w[i].wr, true);
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

	defer_poll();
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
				sock_passive(w[i].s, w[i].fd, true, true);
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
		if (!wsocks_spin_on(w, n, false, spin_end))
			break;
	}
	for (;;) {
		int left = left_ms(deadline);

		/*
		 * A ring that is ready already shows it on end A now (tokens
		 * are synced by wsocks_sleep_begin()); whether the kernel
		 * reports it is up to the registration (EPOLLONESHOT, ET),
		 * so sleep on the kernel's word in any case.
		 */
		struct pollfd pf[1 + DIRECT_MAX];
		struct wsleep ws = { w, n, local, NULL, true };
		int k = wsocks_direct_begin(w, n, pf + 1);

		wsocks_sleep_begin(w, n);
		slept_at = (uint64_t)xs_now_ns();
		if (k) {
			/*
			 * The set and the rings' channels (direct.c): an epoll
			 * fd polls readable while it has events to report.
			 */
			struct timespec ts = ms_to_ts(left >= 0 ? left : 0);

			pf[0].fd = epfd;
			pf[0].events = POLLIN;
			pf[0].revents = 0;
			rc = wsleep_ppoll(&ws, pf, (nfds_t)k + 1, left >= 0 ? &ts : NULL, mask);
			if (rc > 0 && pf[0].revents) {
				rc = shim_real.epoll_pwait(epfd, evs, max, 0, mask);
				if (rc < 0)
					rc = -errno;
			} else if (rc > 0) {
				rc = 0;
			}
		} else {
			rc = wsleep_epoll(&ws, epfd, evs, max, left, mask);
		}
		wsocks_sleep_end(w, n, false);	/* epoll reads A */
		wsocks_direct_end(w, n, rc < 0 ? NULL : pf + 1);
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
