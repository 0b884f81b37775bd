/* SPDX-License-Identifier: MIT */
/*
 * Intercepted epoll_ctl, epoll_wait, epoll_pwait and epoll_pwait2. A call
 * whose set holds no ring socket goes to libc untouched; with ring sockets
 * it spins, then sleeps, as waitset.c says. Edge-triggered and one-shot
 * ring entries are reported by the kernel from end A, which is made to
 * match the ring before every look; level-triggered ones from the rings
 * themselves (eplook.c). So level- and edge-triggered modes, EPOLLONESHOT,
 * EPOLLRDHUP and the application's epoll_data keep the kernel's
 * semantics. To know
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
#include "preload/chgroup.h"
#include "preload/defer.h"
#include "preload/direct.h"
#include "preload/epoll.h"
#include "preload/eplook.h"
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/ready.h"
#include "preload/shim.h"
#include "preload/spin.h"
#include "preload/waitset.h"

struct ep_ent {
	int fd;
	uint32_t events;
	uint64_t data;		/* the registration's epoll_data */
	struct shim_sock *s;	/* one reference */
};

struct ep_set {
	int n, cap;
	struct ep_ent *e;
	int *pos;		/* by fd: index into e + 1, 0: none */
	int pos_cap;
	struct chgroup *grp;	/* its rings' channel group (chgroup.c), or NULL */
	bool no_grp;		/* none could be had: do not try again */
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
	int i;

	shim_lock_child(&ep_lock);
	/* The groups were the parent's (chgroup_after_fork()). */
	for (i = 0; i < ep_tab_size; i++)
		if (ep_tab[i])
			ep_tab[i]->grp = NULL;
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

/* Under ep_lock: the index of @fd's entry in @set, or -1. */
static int ep_index_of(const struct ep_set *set, int fd)
{
	return fd >= 0 && fd < set->pos_cap ? set->pos[fd] - 1 : -1;
}

/* Under ep_lock: room in @set's index for @fd; false if there is no memory. */
static bool ep_pos_room(struct ep_set *set, int fd)
{
	int cap = set->pos_cap ? set->pos_cap : 64;
	int *p;

	if (fd < set->pos_cap)
		return true;
	while (cap <= fd)
		cap *= 2;
	p = realloc(set->pos, sizeof(*p) * (size_t)cap);
	if (!p)
		return false;
	memset(p + set->pos_cap, 0, sizeof(*p) * (size_t)(cap - set->pos_cap));
	set->pos = p;
	set->pos_cap = cap;
	return true;
}

/* Under ep_lock: drop entry @i of @set; its reference goes to *@put. */
static void ep_drop(struct ep_set *set, int i, struct shim_sock **put)
{
	*put = set->e[i].s;
	set->pos[set->e[i].fd] = 0;
	set->e[i] = set->e[--set->n];
	if (i < set->n)
		set->pos[set->e[i].fd] = i + 1;
}

static void ep_track(int epfd, int op, int fd, const struct epoll_event *ev)
{
	struct shim_sock *s = NULL, *put = NULL;
	struct chgroup *g = NULL;
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
	i = ep_index_of(set, fd);
	if (op == EPOLL_CTL_DEL) {
		if (i >= 0) {
			ep_drop(set, i, &put);
			if (set->grp)
				chgroup_pin(g = set->grp);
		}
		goto unlock;
	}
	if (i >= 0) {
		/* MOD (or an ADD the kernel accepted for a reused number). */
		put = set->e[i].s;
		set->e[i].s = s;
		set->e[i].events = ev ? ev->events : 0;
		set->e[i].data = ev ? ev->data.u64 : 0;
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
	if (!ep_pos_room(set, fd))
		goto unlock;
	set->pos[fd] = set->n + 1;
	set->e[set->n].fd = fd;
	set->e[set->n].events = ev ? ev->events : 0;
	set->e[set->n].data = ev ? ev->data.u64 : 0;
	set->e[set->n].s = s;
	set->n++;
	s = NULL;
unlock:
	shim_unlock(&ep_lock);
	if (g) {
		/* Out of the set, out of its group (not under ep_lock). */
		chgroup_drop(g, put);
		chgroup_unpin(g);
	}
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
			i = ep_index_of(set, fd);
			if (i < 0 || (only && set->e[i].s != only))
				continue;
			if (np == (int)XS_ARRAY_SIZE(puts)) {
				shim_unlock(&ep_lock);
				shim_put_many(puts, np);
				np = 0;
				shim_lock(&ep_lock);
				set = ep_tab[e];
				if (!set)
					continue;
				i = ep_index_of(set, fd);
				if (i < 0 || (only && set->e[i].s != only))
					continue;
			}
			ep_drop(set, i, &puts[np++]);
		}
	}
	shim_unlock(&ep_lock);
	shim_put_many(puts, np);
	if (gone) {
		for (i = 0; i < gone->n; i++)
			shim_put(gone->e[i].s);
		if (gone->grp)
			chgroup_orphan(gone->grp);
		free(gone->e);
		free(gone->pos);
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
	bool lt = ep_lt_on();
	int64_t now;
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
	now = xs_now_ms();
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
		uint32_t events = set->e[i].events;

		w[i].s = set->e[i].s;
		w[i].fd = set->e[i].fd;
		w[i].idx = set->e[i].fd;
		w[i].rd = events & (EPOLLIN | EPOLLRDHUP);
		w[i].wr = events & EPOLLOUT;
		w[i].chfd = -1;
		w[i].lt = lt && !(events & EP_EDGE);
		w[i].seen = false;
		w[i].events = events;
		w[i].data = set->e[i].data;
		pv[i] = w[i].s;
		/* For the sweep (sweep.c); a store per ring and millisecond. */
		if (__atomic_load_n(&w[i].s->looked, __ATOMIC_RELAXED) != now)
			__atomic_store_n(&w[i].s->looked, now, __ATOMIC_RELAXED);
	}
	shim_ref_many(pv, n);	/* under ep_lock: no entry leaves the set meanwhile */
	shim_unlock(&ep_lock);
	if (pv != v)
		free(pv);
	*out = w;
	return n;
}

/*
 * The channel group of set @epfd (made on first use), pinned; NULL if
 * there is none to be had.
 */
static struct chgroup *ep_group(int epfd)
{
	struct chgroup *g = NULL, *made;
	struct ep_set *set;

	shim_lock(&ep_lock);
	set = ep_set_of(epfd, false);
	if (set && set->grp)
		chgroup_pin(g = set->grp);
	shim_unlock(&ep_lock);
	if (g || !set || set->no_grp)
		return g;
	made = chgroup_new();	/* not under ep_lock, a leaf lock */
	shim_lock(&ep_lock);
	set = ep_set_of(epfd, false);
	if (set && !set->grp) {
		set->grp = made;
		set->no_grp = !made;
		made = NULL;
	}
	if (set && set->grp)
		chgroup_pin(g = set->grp);
	shim_unlock(&ep_lock);
	if (made)
		chgroup_orphan(made);	/* another thread's came first */
	return g;
}

/*
 * Sleep on set @epfd and its rings' channel group @g (direct wake-ups,
 * chgroup.c) until @deadline: what epoll_pwait() would return, or -1 and
 * errno.
 */
static int ep_group_sleep(int epfd, struct chgroup *g, struct wsock *w, int n,
			  struct wsock *local, struct epoll_event *evs, int max,
			  int64_t deadline, const sigset_t *mask)
{
	for (;;) {
		struct wsleep ws = { .w = w, .n = n, .local = local, .refs = true,
				     .uncounted = true, .grp = g };
		int left = left_ms(deadline);
		struct timespec ts = ms_to_ts(left >= 0 ? left : 0);
		struct pollfd pf[2] = { { .fd = epfd, .events = POLLIN } };
		int rc;

		pf[1].fd = chgroup_sleep_begin(g, w, n);
		pf[1].events = POLLIN;
		rc = wsleep_ppoll(&ws, pf, 2, left >= 0 ? &ts : NULL, mask);
		/*
		 * Awake, and looking at the rings again at every call until
		 * the next sleep: the peers need not notify meanwhile (the
		 * sweep leaves the set's rings alone while calls keep
		 * looking: shim_sock.looked). Before the group goes back to
		 * the event thread, so that what came while the rings were
		 * being told is served here, not there.
		 */
		if (rc > 0)
			wsocks_unpassive_rd(w, n);
		/* Tokens in A for what the group's notifications were about. */
		chgroup_sleep_end(g, rc > 0);
		if (rc < 0) {
			errno = -rc;
			return -1;
		}
		if (rc > 0) {
			rc = shim_real.epoll_pwait(epfd, evs, max, 0, mask);
			rc = ep_after_sleep(w, n, evs, max, rc);
			if (rc != 0)
				return rc;
		}
		if (left_ms(deadline) == 0)
			return 0;
	}
}

/* Sets with more rings than this sleep without spinning (see do_epoll()):
 * measured, redis-benchmark with 50 clients gains from the spin (127-133
 * vs 87-109 k GET/s), with 1000 clients neither way wins (52 k/s). */
#define EP_SPIN_MAX 64

static int do_epoll(int epfd, struct epoll_event *evs, int max, int timeout,
		    const sigset_t *mask)
{
	struct wsock local[16], *w;
	struct chgroup *g;
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
		 * ring, and counting a sleeper on each around every sleep,
		 * would cost more than the notifications. So look once: A's
		 * tokens brought up to date from the rings (a load or two per
		 * ring, a system call only for a ring whose state changed),
		 * and the kernel's word without waiting. Only when that finds
		 * nothing and the call is to wait are the rings that were
		 * read since asked for notifications again (passively: a read
		 * turns it off), so that the event thread keeps A's tokens
		 * right while we sleep in the kernel. A program busy enough to
		 * find something at every call (redis-benchmark -c 1000 and
		 * its server) thus costs its peers no kicks and its own event
		 * thread no wake-ups; asking before the sleep re-syncs each
		 * ring under its lock, so data that came after the look shows
		 * on A before the kernel is asked.
		 */
		int i;

		rc = ep_look(epfd, w, n, evs, max, mask);
		if (rc != 0 || timeout == 0)
			goto out_rc;
		for (i = 0; i < n; i++)
			if (w[i].rd && !__atomic_load_n(&w[i].s->rs->passive_rd, __ATOMIC_RELAXED))
				sock_passive(w[i].s, w[i].fd, true, true);
		/* The notifications wake this thread, not the event thread. */
		g = ep_group(epfd);
		if (g) {
			rc = ep_group_sleep(epfd, g, w, n, local, evs, max, deadline_of(timeout),
					    mask);
			chgroup_unpin(g);
		} else {
			rc = shim_real.epoll_pwait(epfd, evs, max, timeout, mask);
		}
		goto out;
	}
	deadline = deadline_of(timeout);
	spin_end = 0;
	for (bool first = true;; first = false) {
		rc = ep_look(epfd, w, n, evs, max, mask);
		if (rc != 0 || timeout == 0) {
			if (!first && rc > 0)
				shim_spin_result(true);	/* found by spinning */
			goto out_rc;
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
		struct wsleep ws = { .w = w, .n = n, .local = local, .refs = true };
		int k = wsocks_direct_begin(w, n, pf + 1);

		/* Too many rings to take their channels one by one: their group. */
		g = k == 0 && n > DIRECT_MAX ? ep_group(epfd) : NULL;
		wsocks_sleep_begin(w, n);
		slept_at = (uint64_t)xs_now_ns();
		if (g) {
			struct timespec ts = ms_to_ts(left >= 0 ? left : 0);

			ws.grp = g;
			pf[0].fd = epfd;
			pf[0].events = POLLIN;
			pf[0].revents = 0;
			pf[1].fd = chgroup_sleep_begin(g, w, n);
			pf[1].events = POLLIN;
			pf[1].revents = 0;
			rc = wsleep_ppoll(&ws, pf, 2, left >= 0 ? &ts : NULL, mask);
			if (rc > 0 && pf[0].revents) {
				rc = shim_real.epoll_pwait(epfd, evs, max, 0, mask);
				rc = rc < 0 ? -errno : ep_after_sleep(w, n, evs, max, rc);
			} else if (rc > 0) {
				rc = 0;	/* the group's: looked at below */
			}
		} else if (k) {
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
				rc = rc < 0 ? -errno : ep_after_sleep(w, n, evs, max, rc);
			} else if (rc > 0) {
				rc = 0;
			}
		} else {
			rc = wsleep_epoll(&ws, epfd, evs, max, left, mask);
			rc = ep_after_sleep(w, n, evs, max, rc);
		}
		/* epoll reads A (its level-triggered rings: the ring, waitset.c) */
		wsocks_sleep_end(w, n, false);
		wsocks_direct_end(w, n, rc < 0 ? NULL : pf + 1);
		if (g) {
			/* Tokens for the group's notifications (served here
			 * once the peers were told we no longer sleep). */
			chgroup_sleep_end(g, rc >= 0);
			chgroup_unpin(g);
		}
		shim_spin_slept(slept_at, rc > 0);
		if (rc < 0) {
			errno = -rc;
			rc = -1;
			goto out;
		}
		if (rc > 0 || left_ms(deadline) == 0)
			goto out;
		rc = ep_look(epfd, w, n, evs, max, mask);
		if (rc != 0)
			goto out_rc;
	}
out_rc:
	if (rc < 0) {
		errno = -rc;
		rc = -1;
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
