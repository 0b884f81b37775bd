/* SPDX-License-Identifier: MIT */
/*
 * Direct wake-ups: a thread about to sleep waiting for a few rings sleeps
 * on their event channels itself, not only on end A.
 *
 * Without this, a peer's notification wakes our event thread, which
 * acknowledges it and puts a token in end A, which wakes the sleeping
 * thread: two wake-ups one after the other, each a trip through the
 * scheduler (from an idle CPU, tens of microseconds on a virtual machine),
 * where TCP loopback makes one. With it, the notification wakes the
 * sleeper, which does the event thread's work for that ring itself.
 *
 * So that the event thread is not woken as well, the sleeper takes the
 * channel out of the event thread's interest (EPOLL_CTL_MOD with no
 * events: epoll still reports the channel's hang-up) while it sleeps, and
 * the last sleeper gives it back. Every interleaving is safe: a channel
 * that fires while watched by both is acknowledged by whoever reads it
 * first (acknowledging an empty channel is harmless), and one that fires
 * after the sleeper stopped looking is still readable when the event
 * thread watches it again (level-triggered), so it is served then.
 *
 * Only rings this process's event thread serves (a forked child's
 * inherited rings are served by its parent, and their channel is not in
 * this process's epoll set), only established ones (an offer is settled by
 * the event thread), and only small sets: the two epoll_ctl calls per ring
 * and per sleep cost more than the wake-ups they save once a wait holds
 * many rings (a server with many clients).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "common/env.h"
#include "conn/conn.h"
#include "preload/chgroup.h"
#include "preload/direct.h"
#include "preload/evloop.h"
#include "preload/libc.h"
#include "preload/ready.h"

static int direct_take(struct shim_sock *s)
{
	int fd;

	if (!__atomic_load_n(&s->direct_ok, __ATOMIC_RELAXED) || !s->conn ||
	    xs_conn_offered(s->conn) || __atomic_load_n(&s->conn->ring.peer_gone, __ATOMIC_RELAXED))
		return -1;
	fd = xsp_evtchn_fd(s->conn->ev);
	if (fd < 0)
		return -1;
	/*
	 * The first sleeper takes the channel from the event thread, the last
	 * gives it back. The two epoll_ctl() calls of two threads may run in
	 * either order: at worst both watch for a while (never neither: the
	 * last call made, once every sleeper has left, is a give-back).
	 */
	if (__atomic_fetch_add(&s->direct, 1, __ATOMIC_ACQ_REL) == 0)
		ev_channel_arm(s, fd, false);
	return fd;
}

static void direct_give(struct shim_sock *s, int fd)
{
	if (__atomic_sub_fetch(&s->direct, 1, __ATOMIC_ACQ_REL) == 0)
		ev_channel_arm(s, fd, true);
}

/* What the event thread does with a ring's notification (evloop.c). */
static void direct_event(struct wsock *w)
{
	struct shim_sock *s = w->s;
	struct shim_rstate *rs = s->rs;
	int others;

	SHIM_ENTER();
	if (xs_conn_event(s->conn) == 0) {
		SHIM_LEAVE();
		return;		/* acknowledged by another thread already */
	}
	SHIM_LEAVE();
	/*
	 * End A shows the ring to whoever waits on it in the kernel: other
	 * threads asleep (counted with us in sleep_rd/sleep_wr, and we have
	 * left already) or a program waiting where we do not intercept
	 * (passive). This thread looks at the ring itself next.
	 */
	others = __atomic_load_n(&rs->sleep_rd, __ATOMIC_RELAXED) +
		 __atomic_load_n(&rs->sleep_wr, __ATOMIC_RELAXED);
	if (others > 0 || __atomic_load_n(&rs->passive_rd, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&rs->passive_wr, __ATOMIC_RELAXED))
		sock_sync(s, -1, false, false);
	/* For a wait that sleeps on the next notification (io.c). */
	sock_note_event(s);
}

/* XSOCK_DIRECT=0 turns direct wake-ups off (to compare; default on). */
static bool direct_on(void)
{
	static int on = -1;

	return xs_env_cached(&on, "XSOCK_DIRECT", 1, 0, 1);
}

int wsocks_direct_begin(struct wsock *w, int n, struct pollfd *pfd)
{
	int i, k = 0;

	for (i = 0; i < n; i++)
		w[i].chfd = -1;
	if (n > DIRECT_MAX || !direct_on())
		return 0;
	for (i = 0; i < n; i++) {
		w[i].chfd = direct_take(w[i].s);
		if (w[i].chfd < 0)
			continue;
		pfd[k].fd = w[i].chfd;
		pfd[k].events = POLLIN;
		pfd[k].revents = 0;
		k++;
	}
	return k;
}

void wsocks_direct_end(struct wsock *w, int n, const struct pollfd *pfd)
{
	int i, k = 0;

	for (i = 0; i < n; i++) {
		if (w[i].chfd < 0)
			continue;
		if (pfd && pfd[k].revents)
			direct_event(&w[i]);
		k++;
		direct_give(w[i].s, w[i].chfd);
		w[i].chfd = -1;
	}
}

static void wsocks_sleep_cancelled(void *arg)
{
	struct wsleep *ws = arg;

	if (!ws->uncounted) {
		wsocks_sleep_end(ws->w, ws->n, false);
		wsocks_direct_end(ws->w, ws->n, NULL);
	}
	if (ws->grp) {
		chgroup_sleep_end(ws->grp, false);
		chgroup_unpin(ws->grp);
	}
	/* The references: wsocks_put() would have dropped them. */
	if (ws->refs)
		wsocks_put(ws->w, ws->n, ws->local);
	free(ws->buf);
}

/* Apart, so that the setjmp() of pthread_cleanup_push() clobbers nothing
 * of the caller's. */
int wsleep_ppoll(struct wsleep *ws, struct pollfd *p, nfds_t n, const struct timespec *ts,
		 const sigset_t *mask)
{
	int rc;

	pthread_cleanup_push(wsocks_sleep_cancelled, ws);
	rc = shim_real.ppoll(p, n, ts, mask);
	pthread_cleanup_pop(0);
	return rc < 0 ? -errno : rc;
}

int wsleep_epoll(struct wsleep *ws, int epfd, struct epoll_event *evs, int max, int timeout,
		 const sigset_t *mask)
{
	int rc;

	pthread_cleanup_push(wsocks_sleep_cancelled, ws);
	rc = shim_real.epoll_pwait(epfd, evs, max, timeout, mask);
	pthread_cleanup_pop(0);
	return rc < 0 ? -errno : rc;
}
