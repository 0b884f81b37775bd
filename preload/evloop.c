/* SPDX-License-Identifier: MIT */
/*
 * The event thread: one per process, started with the first ring socket.
 * It sleeps in epoll_wait on every ring's event channel and every
 * listener's store watch, and turns what happens there into readiness of
 * the application's own fds (tokens, plugs, doorbells: see shim.h).
 * It runs with the recursion guard set for its whole life.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/env.h"
#include "common/fd.h"
#include "preload/arena.h"
#include "preload/chgroup.h"
#include "preload/defer.h"
#include "preload/domwatch.h"
#include "preload/doorbell.h"
#include "preload/evloop.h"
#include "preload/fdtable.h"
#include "preload/holder.h"
#include "preload/libc.h"
#include "preload/offers.h"
#include "preload/pool.h"
#include "preload/ready.h"
#include "preload/shim.h"
#include "preload/signals.h"
#include "preload/sweep.h"

/* Taken with shim_lock() (defer.h): a close() from a signal handler must
 * know when its thread holds it. */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static int epfd = -1;
static int wake_pipe[2] = { -1, -1 };
static bool running;
static bool exiting;		/* evloop_flush() ran: the thread must stop */
static struct shim_sock *listeners;	/* via ev_next */
static struct shim_sock *zombies;	/* deregistered, freed after the batch */
static int nzombies;
static int64_t sleep_until = -1;	/* when the thread wakes by itself (ms), -1 never */
static struct shim_sock *served;	/* rings watched here, via ring_next */
static bool forked;		/* we forked: listeners may be shared, A parks no more */
static __thread bool ev_lock_mine;	/* this thread holds ev_lock */

/* Marker for the wake pipe in epoll data. */
static char wake_marker;

/* ---- the lock and the epoll set (also doorbell.c's and pool.c's) ------------------- */

void ev_lock_take(void)
{
	shim_lock(&ev_lock);
	ev_lock_mine = true;
}

void ev_lock_drop(void)
{
	ev_lock_mine = false;
	shim_unlock(&ev_lock);
}

bool ev_lock_held(void)
{
	return ev_lock_mine;
}

bool ev_running(void)
{
	return running && !exiting;
}

int ev_watch(int fd, uint32_t events, void *data)
{
	struct epoll_event ev = { .events = events, .data.ptr = data };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int ev_unwatch(int fd)
{
	return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

void ev_channel_arm(struct shim_sock *s, int fd, bool on)
{
	/*
	 * With no events, epoll still reports hang-up (a peer gone). A
	 * channel in a group (chgroup.c) is watched here for that only.
	 */
	struct epoll_event ev = {
		.events = on && !__atomic_load_n(&s->grp, __ATOMIC_RELAXED) ? EPOLLIN : 0,
		.data.ptr = s,
	};

	/* ENOENT: retired meanwhile (the fd stays open while we hold @s). */
	(void)epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

void ev_modify(int fd, struct epoll_event *ev)
{
	(void)epoll_ctl(epfd, EPOLL_CTL_MOD, fd, ev);
}

/* ---- ring sockets and fork ------------------------------------------------------------- */

static void *tag_b(struct shim_sock *s)
{
	return (void *)((uintptr_t)s | B_TAG);
}

static int watch_b(struct shim_sock *s)
{
	struct epoll_event ev = { .events = EPOLLRDHUP, .data.ptr = tag_b(s) };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, s->bfd, &ev) < 0 ? -errno : 0;
}

/* Under ev_lock: @s is served here from now on / no more. */
static void served_add(struct shim_sock *s)
{
	s->ring_prev = NULL;
	s->ring_next = served;
	if (served)
		served->ring_prev = s;
	served = s;
}

static void served_del(struct shim_sock *s)
{
	if (s->ring_prev)
		s->ring_prev->ring_next = s->ring_next;
	else if (served == s)
		served = s->ring_next;
	if (s->ring_next)
		s->ring_next->ring_prev = s->ring_prev;
	s->ring_prev = s->ring_next = NULL;
}

/* Under ev_lock: stop watching a ring socket; it is freed after the batch. */
static void sock_retire(struct shim_sock *s)
{
	if (s->dead)
		return;
	if (holder_claimed_away(s)) {
		/*
		 * Not ours to end: let go of our copy only (shim_ring_free()),
		 * and first disarm our mapping's "alive" notification, whose
		 * firing the peer would take for the end (the claimer armed
		 * its own).
		 */
		holder_leave(s);
		s->owner = 0;
	}
	served_del(s);
	__atomic_store_n(&s->direct_ok, 0, __ATOMIC_RELAXED);
	domwatch_unref(s->conn);
	chgroup_leave(s);
	epoll_ctl(epfd, EPOLL_CTL_DEL, xsp_evtchn_fd(s->conn->ev), NULL);
	epoll_ctl(epfd, EPOLL_CTL_DEL, s->bfd, NULL);
	s->dead = true;
	s->ev_next = zombies;
	zombies = s;
	nzombies++;
}

/*
 * Under ev_lock, outside the event thread: ring socket @s was retired.
 * Only its record must wait for the thread's next batch (an event the
 * thread fetched before the retirement may name it); its end B and its
 * readiness page go now, so that a process that closes connections while
 * the thread sleeps holds no fds for them. The thread is woken only to
 * keep the records waiting few.
 */
static void retire_here(struct shim_sock *s)
{
	sock_retire(s);
	if (s->bfd >= 0) {
		shim_real.close(s->bfd);
		s->bfd = -1;
	}
	sock_ready_free(s);
	if (nzombies >= EV_ZOMBIES_MAX)
		ev_wake();
}

/*
 * fork() in another thread while the event thread works would give the
 * child whatever that work held at the instant of the fork: a malloc arena
 * or a sanitizer allocator's lock (the child then hangs in its first
 * allocation), a half-written store file. The event thread works only
 * under ev_lock, so holding ev_lock across fork() means it is asleep in
 * epoll_wait or waiting for the lock: both are safe to copy.
 */
static void quiesce_before_fork(void)
{
	shim_lock(&ev_lock);
}

static void resume_after_fork(void)
{
	/* The listeners we share with the child may hand a doorbell to its
	 * accept(): side A parks no more rings (docs/protocol.md). */
	__atomic_store_n(&forked, true, __ATOMIC_RELAXED);
	shim_unlock(&ev_lock);
}

/* Forked child: the parent's event thread's reference is not ours. */
static void unwatch_inherited(struct shim_sock *s)
{
	if (!s->watched)
		return;
	s->watched = false;
	s->dead = false;
	s->direct_ok = 0;
	s->direct = 0;		/* the parent's sleepers */
	s->grp = NULL;		/* the parent's group */
	s->ring_prev = s->ring_next = NULL;
	__atomic_sub_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

static void child_after_fork(void)
{
	/*
	 * The parent's event thread does not exist here and its epoll
	 * instance is shared with the parent: forget both. Connections the
	 * child inherited are served by the parent while it lives; the child
	 * makes each usable on first use (holder.c).
	 */
	shim_gen++;
	shim_for_each_sock_child(unwatch_inherited);
	chgroup_after_fork();
	holder_after_fork();
	domwatch_after_fork();
	arena_after_fork();
	bells_after_fork();
	shim_lock_child(&ev_lock);
	if (epfd >= 0)
		close(epfd);
	if (wake_pipe[0] >= 0) {
		close(wake_pipe[0]);
		close(wake_pipe[1]);
	}
	epfd = -1;
	wake_pipe[0] = wake_pipe[1] = -1;
	running = false;
	listeners = NULL;
	zombies = NULL;
	nzombies = 0;
	sleep_until = -1;
	served = NULL;
	offers_after_fork();
	pool_after_fork();
	sweep_after_fork();
	exiting = false;
}

/* ---- connections nobody holds any more ------------------------------------------------ */

void evloop_conn_end(struct xs_conn *c)
{
	/* Also called under ev_lock: the thread freeing a zombie, the flush. */
	bool mine = ev_lock_held();

	SHIM_ENTER();
	if (!mine)
		ev_lock_take();
	offers_end_locked(c);
	if (!mine)
		ev_lock_drop();
	SHIM_LEAVE();
}

/* ---- listeners and closes -------------------------------------------------------------- */

/* Under ev_lock: the listener of ours that serves @port, if any. */
struct shim_sock *ev_listener_of(uint16_t port)
{
	struct shim_sock *l;
	pid_t me = getpid();

	for (l = listeners; l; l = l->ev_next)
		if (!l->dead && l->owner == me && l->lst->port == port)
			return l;
	return NULL;
}

bool evloop_forked(void)
{
	return __atomic_load_n(&forked, __ATOMIC_RELAXED);
}

bool evloop_close_begin(struct shim_sock *s)
{
	bool ok = false;

	SHIM_ENTER();
	ev_lock_take();
	/*
	 * Only when nothing else of ours holds it (the event thread, the
	 * table entry, the caller): a thread still in a call on it would
	 * find its connection gone. Stop watching end B first, or its
	 * hang-up would wake the event thread for nothing.
	 */
	if (s->watched && !s->dead && shim_refs(s) == 3 &&
	    epoll_ctl(epfd, EPOLL_CTL_DEL, s->bfd, NULL) == 0)
		ok = true;
	ev_lock_drop();
	SHIM_LEAVE();
	return ok;
}

void evloop_close_end(struct shim_sock *s, bool hung_up)
{
	struct xs_conn *c;

	SHIM_ENTER();
	ev_lock_take();
	if (s->dead)
		goto unlock;
	if (!hung_up || shim_refs(s) != 2) {
		/* Another process holds the connection: watch end B again. */
		watch_b(s);
		/*
		 * Held in another process only (no fd here names it, whatever
		 * calls in flight still hold, such as our event thread's
		 * handling of a notification): offer it the serving. Counting
		 * references instead missed it whenever the event thread was
		 * busy with the ring at this moment, and nothing offered it
		 * again (test_handoff's exec'd handler, 1 run in 3 here).
		 */
		if (!hung_up && __atomic_load_n(&s->nfds, __ATOMIC_ACQUIRE) == 0)
			holder_resign(s);
		goto unlock;
	}
	retire_here(s);
	c = s->conn;
	s->conn = NULL;
	offers_end_locked(c);
unlock:
	ev_lock_drop();
	SHIM_LEAVE();
}

/* ---- dead domains ------------------------------------------------------------------------- */

/*
 * Event thread, under ev_lock: domain @dom is dead (domwatch.c). Its
 * rings served here end as a dead peer's, waiters wake; offers it never
 * attached to and rings parked for it go now.
 */
static void domain_dead(xsp_domid_t dom)
{
	struct shim_sock *s;

	/* Waiters first: letting go of the pages is slow on Xen (TCG: ~1 s). */
	for (s = served; s; s = s->ring_next) {
		if (s->dead || !s->conn || s->conn->peer != dom)
			continue;
		xs_conn_domain_dead(s->conn);
		sock_sync(s, -1, false, false);
		sock_note_event(s);
		/* A settled offer is looked at by offers_run(). */
		if (xs_conn_offered(s->conn))
			offers_note();
	}
	for (s = served; s; s = s->ring_next) {
		if (!s->dead && s->conn && s->conn->peer == dom)
			xs_conn_dead_pages(s->conn);
	}
	offers_domain_dead(dom);
	pool_drop_peer(dom, "its domain is dead");
}

/* ---- the thread ------------------------------------------------------------------------------ */

static void free_zombies(void)
{
	nzombies = 0;
	while (zombies) {
		struct shim_sock *s = zombies;

		zombies = s->ev_next;
		shim_put(s);
	}
}

void ev_ring_event(struct shim_sock *s)
{
	if (s->dead)
		return;
	xs_conn_event(s->conn);
	sock_sync(s, -1, false, false);
	/* For a wait that sleeps on the next one (io.c). */
	sock_note_event(s);
	/*
	 * A channel whose peer is gone polls hang-up forever: stop watching
	 * it, or we would spin. The ring's state is final and A reflects it.
	 */
	if (__atomic_load_n(&s->conn->ring.peer_gone, __ATOMIC_RELAXED)) {
		chgroup_leave(s);
		epoll_ctl(epfd, EPOLL_CTL_DEL, xsp_evtchn_fd(s->conn->ev), NULL);
	}
	/*
	 * Claimed by the holder that serves it now: its first notification
	 * since tells us. Stop serving it, but keep our hold (end B, our
	 * copy) until the connection ends everywhere (end B hangs up): a
	 * claimer that dies without closing it leaves us the last holder,
	 * whose letting go ends side A's shares.
	 */
	if (holder_claimed_away(s)) {
		chgroup_leave(s);
		epoll_ctl(epfd, EPOLL_CTL_DEL, xsp_evtchn_fd(s->conn->ev), NULL);
		holder_leave(s);
	}
}

static void *evloop_main(void *arg)
{
	struct epoll_event evs[64];
	int timeout = -1;

	/* The thread library's (and a sanitizer's) start-up is done. */
	sem_post(arg);
	SHIM_ENTER();
	for (;;) {
		int64_t next = -1, now;
		int n, i;

		n = epoll_wait(epfd, evs, (int)XS_ARRAY_SIZE(evs), timeout);
		if (n < 0 && errno != EINTR)
			break;
		ev_lock_take();
		if (exiting) {
			/* evloop_flush() freed what @evs may point to: stop. */
			ev_lock_drop();
			break;
		}
		/* Awake: a deadline added during this batch, after what looks
		 * at it below ran, wakes the next loop (ev_wake_by()). */
		sleep_until = -1;
		for (i = 0; i < n; i++) {
			struct shim_sock *s = evs[i].data.ptr;

			if ((void *)s == (void *)&wake_marker) {
				char buf[64];

				/* A pipe: read(), not recv(). */
				while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
					;
				continue;
			}
			if (domwatch_is_marker(s)) {
				domwatch_event(domain_dead);
				continue;
			}
			/* Before the other tags: it has all their bits. */
			if (GRP_TAGGED(s)) {
				chgroup_event((struct chgroup *)((uintptr_t)s &
								 ~(uintptr_t)GRP_TAG));
				continue;
			}
			if ((uintptr_t)s & SRV_TAG) {
				holder_server_gone((struct srv_watch *)((uintptr_t)s &
									~(uintptr_t)SRV_TAG));
				continue;
			}
			if ((uintptr_t)s & PARK_TAG) {
				pool_event((struct parked *)((uintptr_t)s & ~(uintptr_t)PARK_TAG));
				continue;
			}
			if ((uintptr_t)s & BELL_TAG) {
				bell_hangup((struct doorbell *)((uintptr_t)s &
								~(uintptr_t)BELL_TAG));
				continue;
			}
			if ((uintptr_t)s & B_TAG) {
				/* Nobody holds the application's end any more:
				 * the connection is closed for good. */
				s = (struct shim_sock *)((uintptr_t)s & ~(uintptr_t)B_TAG);
				sock_retire(s);
				continue;
			}
			if (s->kind == SHIM_RING)
				ev_ring_event(s);
			else if (!s->dead)
				s->ev_due = true;	/* its store watch fired */
		}
		/*
		 * Listeners whose watch fired, or whose refusals are due to be
		 * removed (xs_listener_deadline()); all of them now and then.
		 */
		now = xs_now_ms();
		for (struct shim_sock *l = listeners; l; l = l->ev_next) {
			int64_t due = xs_listener_deadline(l->lst);

			if (l->ev_due || n == 0 || (due >= 0 && now >= due)) {
				l->ev_due = false;
				bells_serve(l);
			}
		}
		next = bells_expire();
		for (struct shim_sock *l = listeners; l; l = l->ev_next) {
			int64_t due = xs_listener_deadline(l->lst);

			if (due >= 0 && (next < 0 || due < next))
				next = due;
		}
		free_zombies();
		chgroup_free_zombies();
		pool_free_zombies();
		bells_free_zombies();
		now = xs_now_ms();
		{
			int64_t d = pool_expire(now);

			if (d >= 0 && (next < 0 || d < next))
				next = d;
		}
		{
			int64_t d = sweep_run(now);

			if (d >= 0 && (next < 0 || d < next))
				next = d;
		}
		{
			int64_t d = domwatch_expire(now);

			if (d >= 0 && (next < 0 || d < next))
				next = d;
		}
		{
			int64_t d = offers_run(now);

			if (d >= 0 && (next < 0 || d < next))
				next = d;
		}
		sleep_until = next < 0 ? -1 : XS_MIN(next, now + 60000);
		ev_lock_drop();
		timeout = next < 0 ? -1 : (int)XS_MAX(0, XS_MIN(next - now, 60000));
	}
	return NULL;
}

void evloop_flush(void)
{
	ev_lock_take();
	/*
	 * The process is exiting and the event thread still runs: events it
	 * fetched before the rings were deregistered may name the sockets
	 * freed below. From here on it touches nothing.
	 */
	exiting = true;
	bells_drop(NULL);
	/*
	 * Rings the application closed just before exiting may not have
	 * been seen by the event thread yet: their end B hangs up (level
	 * triggered, so still reported here). End them now, as the thread
	 * would have, or their grants and channels would outlive us until
	 * some later process collects them.
	 */
	if (epfd >= 0) {
		struct epoll_event evs[64];
		int n, i, rounds = 0;

		/* Other ready fds stay ready (level triggered): bounded. */
		do {
			n = epoll_wait(epfd, evs, (int)XS_ARRAY_SIZE(evs), 0);
			for (i = 0; i < n; i++) {
				uintptr_t t = (uintptr_t)evs[i].data.ptr;

				if ((void *)evs[i].data.ptr != (void *)&wake_marker &&
				    !(t & (BELL_TAG | SRV_TAG | PARK_TAG)) && (t & B_TAG))
					sock_retire((struct shim_sock *)(t & ~(uintptr_t)B_TAG));
			}
		} while (n == (int)XS_ARRAY_SIZE(evs) && ++rounds < 64);
	}
	/*
	 * Rings we serve that others still hold (forked children: our end B
	 * has not hung up), whether or not the application here still has an
	 * fd of them: they are not ours to end, and our exit must not look
	 * like their end to the peer (holder.c).
	 */
	for (struct shim_sock *r = served; r; r = r->ring_next)
		holder_leave(r);
	free_zombies();
	/* Lingering and parked rings end with us; their peers see them go. */
	offers_end_all();
	pool_drop_all("process exiting");
	pool_free_zombies();
	bells_free_zombies();
	ev_lock_drop();
}

int ev_start(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &wake_marker };
	pthread_attr_t attr;
	pthread_t thr;
	sem_t started;
	sigset_t all, old;
	int rc;

	if (running)
		return 0;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		goto close_epfd;
	}
	/* The process's lifetime: out of the application's way. */
	epfd = xs_fd_out_of_way(epfd);
	wake_pipe[0] = xs_fd_out_of_way(wake_pipe[0]);
	wake_pipe[1] = xs_fd_out_of_way(wake_pipe[1]);
	epoll_ctl(epfd, EPOLL_CTL_ADD, wake_pipe[0], &ev);
	/* For blocking calls' direct wake-ups (signals.c): an fd of the
	 * process's life too, opened with the others. */
	sig_fd_open();
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	/* The application's signals are not ours to take. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	sem_init(&started, 0, 0);
	rc = -pthread_create(&thr, &attr, evloop_main, &started);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc < 0)
		goto close_pipe;
	/* Seen as such in top -H, ps -L and /proc/PID/task/TID/comm. */
	pthread_setname_np(thr, "xsock-ev");
	/*
	 * Return once the new thread runs our code: its start-up allocates
	 * outside ev_lock (AddressSanitizer's does), so a fork() the
	 * application makes right after listen() could otherwise copy an
	 * allocator lock the thread holds and the child would hang.
	 */
	while (sem_wait(&started) < 0 && errno == EINTR)
		;
	sem_destroy(&started);
	running = true;
	return 0;

close_pipe:
	close(wake_pipe[0]);
	close(wake_pipe[1]);
close_epfd:
	close(epfd);
	epfd = -1;
	return rc;
}

void ev_wake(void)
{
	if (wake_pipe[1] >= 0 && write(wake_pipe[1], "w", 1) < 0) {
		/* full: it is awake anyway */
	}
}

void ev_wake_by(int64_t due)
{
	/*
	 * sleep_until is written under ev_lock at the end of each batch, so
	 * it is the deadline of the sleep the thread is in, or about to
	 * start; a thread between epoll_wait() and ev_lock computes a new
	 * one after its batch anyway; during its batch it is -1 (the thread
	 * itself adding a deadline late in the batch: woken to look again).
	 */
	if (sleep_until < 0 || due < sleep_until)
		ev_wake();
}

/* Under ev_lock: watch @s (its channel and end B, or its store watch). */
static int add_locked(struct shim_sock *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	int rc, fd;

	rc = ev_start();
	if (rc < 0)
		return rc;
	fd = s->kind == SHIM_RING ? xsp_evtchn_fd(s->conn->ev) : xs_listener_fd(s->lst);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	if (s->kind == SHIM_RING) {
		rc = watch_b(s);
		if (rc < 0) {
			epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
			return rc;
		}
		/* Release: the ring's state before other holders see us serve. */
		__atomic_store_n(&s->rs->server, getpid(), __ATOMIC_RELEASE);
		served_add(s);
		domwatch_ref(s->conn);
		__atomic_store_n(&s->direct_ok, 1, __ATOMIC_RELAXED);
	} else if (s->lsh) {
		__atomic_store_n(&s->lsh->server, getpid(), __ATOMIC_RELEASE);
	}
	s->watched = true;
	s->dead = false;
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	if (s->kind == SHIM_RING && xs_conn_offered(s->conn)) {
		offers_note();
		ev_wake();	/* its lateness is looked at by the thread */
	}
	if (s->kind == SHIM_LISTENER) {
		s->ev_next = listeners;
		listeners = s;
		s->ev_due = true;	/* requests already waiting */
		ev_wake();
	}
	/* A ring's fds need no wake-up: epoll reports them when they fire. */
	return 0;
}

int ev_serve(struct shim_sock *s)
{
	return add_locked(s);
}

int evloop_add(struct shim_sock *s)
{
	int rc;

	SHIM_ENTER();
	ev_lock_take();
	rc = add_locked(s);
	ev_lock_drop();
	SHIM_LEAVE();
	if (s->kind == SHIM_RING && rc == 0)
		sock_sync(s, -1, false, true);
	return rc;
}

void evloop_del(struct shim_sock *s)
{
	struct shim_sock **pp;

	SHIM_ENTER();
	ev_lock_take();
	if (!s->watched || s->dead)
		goto unlock;
	if (s->kind == SHIM_RING) {
		sock_retire(s);
		goto wake;
	}
	epoll_ctl(epfd, EPOLL_CTL_DEL, xs_listener_fd(s->lst), NULL);
	for (pp = &listeners; *pp; pp = &(*pp)->ev_next) {
		if (*pp == s) {
			*pp = s->ev_next;
			break;
		}
	}
	bells_drop(s);
	s->dead = true;
	/* Rings parked for the port's next clients: nobody accepts them. */
	if (!ev_listener_of(s->lst->port))
		pool_drop_port(s->lst->port, "listener closed");
	s->ev_next = zombies;
	zombies = s;
wake:
	ev_wake();
unlock:
	ev_lock_drop();
	SHIM_LEAVE();
}

__attribute__((constructor)) static void evloop_constructor(void)
{
	pthread_atfork(quiesce_before_fork, resume_after_fork, child_after_fork);
}
