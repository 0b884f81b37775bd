/* SPDX-License-Identifier: MIT */
/*
 * Channel groups: direct wake-ups for waits on many rings.
 *
 * A wait on a few rings sleeps on their event channels itself (direct.c),
 * taking each channel from the event thread for the sleep: two epoll_ctl()
 * calls per ring and per sleep, too many for an event loop over dozens or
 * thousands of rings (redis, nginx, memcached). Such a loop's rings were
 * left to the event thread: a peer's notification woke it, it put a token
 * in end A, and the token woke the application's thread in the kernel's
 * epoll_wait(): two wake-ups one after the other per notification.
 *
 * A group is one epoll instance per application epoll set that holds the
 * channels of that set's rings (those this process's event thread serves).
 * The event thread's own epoll set holds the group as a whole, not its
 * members' channels (those stay there for hang-up only, as a direct.c
 * sleeper leaves them). A thread about to sleep in the application's
 * epoll_wait() takes the group from the event thread (one epoll_ctl()) and
 * sleeps on the application's epoll fd and the group's at once; a
 * notification wakes it and nobody else. It then does what the event
 * thread would have done for each notification (acknowledge, token in A)
 * and asks the application's set again, and gives the group back (one
 * epoll_ctl()). While nobody sleeps on it, the event thread serves the
 * group's notifications as it serves any channel's.
 *
 * A ring is in one group at most (the first big set that slept on it); it
 * leaves when its channel stops being watched here (retired, peer gone,
 * claimed by another process). A group whose epoll set is closed lives on,
 * served by the event thread, until its last member leaves.
 *
 * Everything about membership, and the fetching of a group's events, is
 * done under ev_lock: an event fetched from a group names a member that
 * has not left (leaving takes the channel out of the group first).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/env.h"
#include "common/fd.h"
#include "conn/conn.h"
#include "preload/chgroup.h"
#include "preload/defer.h"
#include "preload/evloop.h"
#include "preload/libc.h"

struct chgroup {
	int pfd;			/* epoll instance of the members' channels */
	int members;			/* under ev_lock */
	int sleepers;			/* under ev_lock */
	int pins;			/* atomic */
	int orphan;			/* its epoll set is gone (set under ev_lock) */
	bool dead;			/* under ev_lock: freed after the batch */
	struct chgroup *next;		/* all groups, or the dead (under ev_lock) */
} __attribute__((aligned(16)));

static struct chgroup *groups;
/*
 * Groups let go of outside the event thread's batch wait for its next
 * one: an event it fetched before (without the lock) may name them.
 */
static struct chgroup *zombies;
static int nzombies;

static void *tagged(struct chgroup *g)
{
	return (void *)((uintptr_t)g | GRP_TAG);
}

/* XSOCK_DIRECT=0 turns direct wake-ups off (as direct.c reads it). */
static bool groups_on(void)
{
	static int on = -1;

	return xs_env_cached(&on, "XSOCK_DIRECT", 1, 0, 1);
}

struct chgroup *chgroup_new(void)
{
	struct chgroup *g;
	int rc;

	if (!groups_on())
		return NULL;
	g = aligned_alloc(16, sizeof(*g));
	if (!g)
		return NULL;
	g->members = g->sleepers = g->pins = 0;
	g->orphan = 0;
	g->dead = false;
	SHIM_ENTER();
	g->pfd = epoll_create1(EPOLL_CLOEXEC);
	if (g->pfd < 0)
		goto free_g;
	g->pfd = xs_fd_out_of_way(g->pfd);
	ev_lock_take();
	rc = ev_start();
	if (rc == 0)
		rc = ev_watch(g->pfd, EPOLLIN, tagged(g));
	if (rc < 0) {
		ev_lock_drop();
		goto close_pfd;
	}
	g->next = groups;
	groups = g;
	ev_lock_drop();
	SHIM_LEAVE();
	return g;

close_pfd:
	close(g->pfd);
free_g:
	SHIM_LEAVE();
	free(g);
	return NULL;
}

/* Under ev_lock. */
static void maybe_free(struct chgroup *g)
{
	struct chgroup **pp;

	/* Sequentially consistent: see chgroup_unpin(). */
	if (!__atomic_load_n(&g->orphan, __ATOMIC_SEQ_CST) || g->members > 0 ||
	    g->sleepers > 0 || __atomic_load_n(&g->pins, __ATOMIC_SEQ_CST) > 0)
		return;
	for (pp = &groups; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	ev_unwatch(g->pfd);
	close(g->pfd);
	g->pfd = -1;
	g->dead = true;
	g->next = zombies;
	zombies = g;
	if (++nzombies >= EV_ZOMBIES_MAX)
		ev_wake();
}

void chgroup_free_zombies(void)
{
	while (zombies) {
		struct chgroup *g = zombies;

		zombies = g->next;
		free(g);
	}
	nzombies = 0;
}

void chgroup_orphan(struct chgroup *g)
{
	SHIM_ENTER();
	ev_lock_take();
	__atomic_store_n(&g->orphan, 1, __ATOMIC_SEQ_CST);
	maybe_free(g);
	ev_lock_drop();
	SHIM_LEAVE();
}

void chgroup_pin(struct chgroup *g)
{
	__atomic_add_fetch(&g->pins, 1, __ATOMIC_RELAXED);
}

void chgroup_unpin(struct chgroup *g)
{
	/*
	 * Only an orphan is ever freed, and only under ev_lock: look there
	 * when it might be. Sequentially consistent, both: the decrement
	 * before the load of the flag, against chgroup_orphan()'s store of
	 * the flag before its load of the count (maybe_free()): either we see
	 * the flag and free it, or it sees the count at 0 and does. Our use
	 * of @g comes before the decrement.
	 */
	if (__atomic_sub_fetch(&g->pins, 1, __ATOMIC_SEQ_CST) > 0 ||
	    !__atomic_load_n(&g->orphan, __ATOMIC_SEQ_CST))
		return;
	SHIM_ENTER();
	ev_lock_take();
	maybe_free(g);
	ev_lock_drop();
	SHIM_LEAVE();
}

/* Could @s join a group? (No lock: a hint, re-checked under ev_lock.) */
static bool may_join(struct shim_sock *s)
{
	return !__atomic_load_n(&s->grp, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&s->direct_ok, __ATOMIC_RELAXED) && s->conn &&
	       !xs_conn_offered(s->conn) &&
	       !__atomic_load_n(&s->conn->ring.peer_gone, __ATOMIC_RELAXED);
}

/* Under ev_lock: @s's channel into @g, out of the event thread's interest. */
static void join(struct chgroup *g, struct shim_sock *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	int fd;

	if (!s->watched || s->dead || s->grp || !may_join(s))
		return;
	fd = xsp_evtchn_fd(s->conn->ev);
	if (fd < 0 || epoll_ctl(g->pfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return;
	__atomic_store_n(&s->grp, g, __ATOMIC_RELAXED);
	g->members++;
	/*
	 * Hang-up only in the event thread's set from now on (a direct.c
	 * sleeper's give-back leaves it so too: ev_channel_arm()). A
	 * notification that came before this is still pending on the channel
	 * and the group reports it (level-triggered).
	 */
	ev_channel_arm(s, fd, false);
}

int chgroup_sleep_begin(struct chgroup *g, const struct wsock *w, int n)
{
	struct epoll_event ev = { .events = 0, .data.ptr = tagged(g) };
	bool any = false;
	int i;

	for (i = 0; i < n && !any; i++)
		any = may_join(w[i].s);
	SHIM_ENTER();
	ev_lock_take();
	if (any)
		for (i = 0; i < n; i++)
			join(g, w[i].s);
	/* The first sleeper takes the group from the event thread. */
	if (g->sleepers++ == 0)
		ev_modify(g->pfd, &ev);
	ev_lock_drop();
	SHIM_LEAVE();
	return g->pfd;
}

void chgroup_sleep_end(struct chgroup *g, bool fired)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tagged(g) };

	SHIM_ENTER();
	ev_lock_take();
	if (fired)
		chgroup_event(g);
	/* The last one gives it back; what fired meanwhile is reported to
	 * the event thread then (level-triggered). */
	if (--g->sleepers == 0)
		ev_modify(g->pfd, &ev);
	maybe_free(g);
	ev_lock_drop();
	SHIM_LEAVE();
}

void chgroup_event(struct chgroup *g)
{
	struct epoll_event evs[64];
	int n, i;

	if (g->dead)
		return;		/* fetched before it was let go of */
	do {
		n = epoll_wait(g->pfd, evs, (int)XS_ARRAY_SIZE(evs), 0);
		for (i = 0; i < n; i++)
			ev_ring_event(evs[i].data.ptr);
	} while (n == (int)XS_ARRAY_SIZE(evs) && !g->dead);
}

void chgroup_leave(struct shim_sock *s)
{
	struct chgroup *g = s->grp;

	if (!g)
		return;
	epoll_ctl(g->pfd, EPOLL_CTL_DEL, xsp_evtchn_fd(s->conn->ev), NULL);
	__atomic_store_n(&s->grp, NULL, __ATOMIC_RELAXED);
	g->members--;
	maybe_free(g);
}

void chgroup_drop(struct chgroup *g, struct shim_sock *s)
{
	SHIM_ENTER();
	ev_lock_take();
	if (s->grp == g && !s->dead) {
		chgroup_leave(s);
		/* Unless a direct.c sleeper holds it (it gives it back). */
		if (!__atomic_load_n(&s->direct, __ATOMIC_ACQUIRE))
			ev_channel_arm(s, xsp_evtchn_fd(s->conn->ev), true);
	}
	ev_lock_drop();
	SHIM_LEAVE();
}

void chgroup_after_fork(void)
{
	/* The parent's: its event thread serves them (the epoll instances
	 * are shared); the child's copies of the fds and records go. */
	while (groups) {
		struct chgroup *g = groups;

		groups = g->next;
		close(g->pfd);
		free(g);
	}
	chgroup_free_zombies();
}
