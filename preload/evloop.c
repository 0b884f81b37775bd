/* SPDX-License-Identifier: MIT */
/*
 * The event thread: one per process, started with the first ring socket.
 * It sleeps in epoll_wait on every ring's event channel and every
 * listener's store watch, and turns what happens there into readiness of
 * the application's own fds (tokens, plugs, doorbells: see shim.h).
 * It runs with the recursion guard set for its whole life.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/log.h"
#include "preload/shim.h"

struct doorbell {
	struct doorbell *next;
	struct shim_sock *l;		/* the listener it rings */
	struct sockaddr_storage local;	/* the doorbell socket's own address */
	socklen_t locallen;
	int dfd;			/* the doorbell socket */
	struct shim_sock *ring;		/* the connection waiting behind it */
	int afd;
};

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static int epfd = -1;
static int wake_pipe[2] = { -1, -1 };
static bool running;
static struct shim_sock *listeners;	/* via ev_next */
static struct shim_sock *zombies;	/* deregistered, freed after the batch */
static struct doorbell *doorbells;
static int sweep_wanted;	/* atomic: 1 once asked, until the sweep ran */
static int64_t sweep_at = -1;	/* event thread: when to sweep (ms) */

/* Marker for the wake pipe in epoll data. */
static char wake_marker;

/*
 * A ring socket is in the epoll set twice: its event channel (data.ptr =
 * the socket) and its end B (the pointer with bit 0 set), which hangs up
 * when the last process holding the application's end A closed it.
 */
#define B_TAG 1u

static void *tag_b(struct shim_sock *s)
{
	return (void *)((uintptr_t)s | B_TAG);
}

static int watch_b(struct shim_sock *s)
{
	struct epoll_event ev = { .events = EPOLLRDHUP, .data.ptr = tag_b(s) };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, s->bfd, &ev) < 0 ? -errno : 0;
}

/* Under ev_lock: stop watching a ring socket; it is freed after the batch. */
static void ring_retire(struct shim_sock *s)
{
	if (s->dead)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, xsp_evtchn_fd(s->conn->ev), NULL);
	epoll_ctl(epfd, EPOLL_CTL_DEL, s->bfd, NULL);
	s->dead = true;
	s->ev_next = zombies;
	zombies = s;
}

static void child_after_fork(void)
{
	/*
	 * The parent's event thread does not exist here and its epoll
	 * instance is shared with the parent: forget both. Connections the
	 * child inherited are not served by this child (docs/protocol.md).
	 */
	struct doorbell *d;

	/*
	 * Doorbells waiting for the parent's accept() are not ours: keep no
	 * copy of their fds, or the connection behind one would outlive the
	 * process that finally serves and closes it.
	 */
	for (d = doorbells; d; d = d->next) {
		close(d->dfd);
		close(d->afd);
	}
	pthread_mutex_init(&ev_lock, NULL);
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
	doorbells = NULL;
	sweep_wanted = 0;
	sweep_at = -1;
}

/* ---- the sweep (ready.c) ------------------------------------------------------------- */

/*
 * Rings nobody asks the peer about get asked about again after this long:
 * a program waiting for one in a call we do not intercept is woken by its
 * next byte at most this late (XSOCK_SWEEP_MS).
 */
static int sweep_ms(void)
{
	static int cached = -1;	/* any thread may compute it: same value */
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (v < 0) {
		const char *e = getenv("XSOCK_SWEEP_MS");
		long n = e && *e ? strtol(e, NULL, 10) : 20;

		v = (int)(n < 1 ? 1 : n > 60000 ? 60000 : n);
		__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	}
	return v;
}


static void wake_thread(void);

void evloop_want_sweep(void)
{
	if (__atomic_load_n(&sweep_wanted, __ATOMIC_RELAXED) ||
	    __atomic_exchange_n(&sweep_wanted, 1, __ATOMIC_ACQ_REL))
		return;
	/* Once per sweep period at most; ev_lock guards the wake pipe. */
	pthread_mutex_lock(&ev_lock);
	wake_thread();
	pthread_mutex_unlock(&ev_lock);
}

/* Event thread, under ev_lock: the sweep's deadline, -1 for none. */
static int64_t sweep_run(int64_t now)
{
	if (!__atomic_load_n(&sweep_wanted, __ATOMIC_ACQUIRE)) {
		sweep_at = -1;
		return -1;
	}
	if (sweep_at < 0)
		sweep_at = now + sweep_ms();
	if (now < sweep_at)
		return sweep_at;
	sweep_at = -1;
	__atomic_store_n(&sweep_wanted, 0, __ATOMIC_RELEASE);
	shim_for_each_ring(ring_sweep);
	return -1;
}

/* ---- doorbells ------------------------------------------------------------------------- */

static int ring_doorbell(struct shim_sock *l, struct xs_conn *c)
{
	struct xs_listener *lst = l->lst;
	struct sockaddr_storage to;
	socklen_t tolen = lst->addrlen;
	struct doorbell *d;
	struct shim_sock *s;
	int afd, rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	rc = shim_ring_new(c, lst->addr.ss_family, &s, &afd);
	if (rc < 0) {
		free(d);
		return rc;
	}
	/* Ring the listener on its own address; the wildcard means loopback. */
	memcpy(&to, &lst->addr, sizeof(to));
	if (to.ss_family == AF_INET) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&to;

		if (in4->sin_addr.s_addr == htonl(INADDR_ANY))
			in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&to;

		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
			in6->sin6_addr = in6addr_loopback;
	}
	d->dfd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->dfd < 0) {
		rc = -errno;
		goto free_ring;
	}
	if (connect(d->dfd, (struct sockaddr *)&to, tolen) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto close_dfd;
	}
	d->locallen = sizeof(d->local);
	if (getsockname(d->dfd, (struct sockaddr *)&d->local, &d->locallen) < 0) {
		rc = -errno;
		goto close_dfd;
	}
	d->l = l;
	d->ring = s;
	d->afd = afd;
	/* Its event channel now belongs to the ring socket. */
	s->watched = true;
	s->refs++;
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

		epoll_ctl(epfd, EPOLL_CTL_MOD, xsp_evtchn_fd(c->ev), &ev);
	}
	watch_b(s);
	xs_log(XS_LOG_DEBUG, "ring %s from dom%u: doorbell port %u rung", c->id, c->peer,
	       ntohs(((struct sockaddr_in *)&d->local)->sin_port));
	d->next = doorbells;
	doorbells = d;
	/* The client's first byte must reach us (passive from creation). */
	ring_sync(s, false, false);
	return 0;

close_dfd:
	close(d->dfd);
free_ring:
	close(afd);
	s->conn = NULL;		/* the caller still owns @c */
	shim_put(s);
	free(d);
	return rc;
}

static bool sa_equal(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (b->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

struct shim_sock *evloop_doorbell_claim(struct shim_sock *l, const struct sockaddr *sa,
					socklen_t salen, int *afd)
{
	struct doorbell **pp, *d;
	struct shim_sock *s = NULL;

	*afd = -1;
	pthread_mutex_lock(&ev_lock);
	for (pp = &doorbells; (d = *pp) != NULL; pp = &d->next) {
		if (d->l != l || !sa_equal(&d->local, sa))
			continue;
		*pp = d->next;
		xs_log(XS_LOG_DEBUG, "ring %s: doorbell port %u answered by accept()",
		       d->ring->conn->id, ntohs(((struct sockaddr_in *)&d->local)->sin_port));
		s = d->ring;	/* the doorbell's reference goes to the caller */
		*afd = d->afd;
		close(d->dfd);
		free(d);
		break;
	}
	pthread_mutex_unlock(&ev_lock);
	(void)salen;
	return s;
}

/* Under ev_lock. */
static void doorbells_drop(struct shim_sock *l)
{
	struct doorbell **pp = &doorbells, *d;

	while ((d = *pp) != NULL) {
		if (l && d->l != l) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		close(d->dfd);
		close(d->afd);
		d->ring->dead = true;
		d->ring->ev_next = zombies;
		zombies = d->ring;	/* freed after the batch; the event
					 * thread's reference goes with it */
		d->ring->refs--;	/* the doorbell's reference */
		free(d);
	}
}

void evloop_listener_gone(struct shim_sock *l)
{
	pthread_mutex_lock(&ev_lock);
	doorbells_drop(l);
	pthread_mutex_unlock(&ev_lock);
}

/* ---- listeners --------------------------------------------------------------------------- */

/* Register the channels of new offers so their first event wakes us. */
static void watch_pending(struct shim_sock *l)
{
	struct xs_conn *c;

	for (c = l->lst->pending; c; c = c->next) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };

		epoll_ctl(epfd, EPOLL_CTL_ADD, xsp_evtchn_fd(c->ev), &ev);
	}
}

static int64_t serve_listener(struct shim_sock *l)
{
	struct xs_conn *c;
	int64_t next = -1;

	xs_listener_process(l->lst);
	watch_pending(l);
	while (xs_listener_take(l->lst, &c, &next) == 1) {
		int rc = ring_doorbell(l, c);

		if (rc < 0) {
			xs_log(XS_LOG_WARN, "doorbell for dom%u: %s", c->peer, strerror(-rc));
			epoll_ctl(epfd, EPOLL_CTL_DEL, xsp_evtchn_fd(c->ev), NULL);
			xs_conn_close(c);
		}
	}
	return next;
}

/* ---- the thread ------------------------------------------------------------------------------ */

static void free_zombies(void)
{
	while (zombies) {
		struct shim_sock *s = zombies;

		zombies = s->ev_next;
		shim_put(s);
	}
}

static void *evloop_main(void *arg)
{
	struct epoll_event evs[64];
	int timeout = -1;

	(void)arg;
	SHIM_ENTER();
	for (;;) {
		int64_t next = -1, now;
		int n, i;

		n = epoll_wait(epfd, evs, (int)XS_ARRAY_SIZE(evs), timeout);
		if (n < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&ev_lock);
		for (i = 0; i < n; i++) {
			struct shim_sock *s = evs[i].data.ptr;

			if ((void *)s == (void *)&wake_marker) {
				char buf[64];

				/* A pipe: read(), not recv(). */
				while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
					;
				continue;
			}
			if ((uintptr_t)s & B_TAG) {
				/* Nobody holds the application's end any more:
				 * the connection is closed for good. */
				s = (struct shim_sock *)((uintptr_t)s & ~(uintptr_t)B_TAG);
				ring_retire(s);
				continue;
			}
			if (s->dead)
				continue;
			if (s->kind == SHIM_RING) {
				xs_conn_event(s->conn);
				ring_sync(s, false, false);
				/*
				 * A channel whose peer is gone polls hang-up
				 * forever: stop watching it, or we would spin.
				 * The ring's state is final and A reflects it.
				 */
				if (__atomic_load_n(&s->conn->ring.peer_gone, __ATOMIC_RELAXED))
					epoll_ctl(epfd, EPOLL_CTL_DEL, xsp_evtchn_fd(s->conn->ev),
						  NULL);
			}
		}
		/* Listeners: cheap to look at all of them (they are few), and
		 * this also expires offers whose client never came. */
		for (struct shim_sock *l = listeners; l; l = l->ev_next) {
			int64_t d = serve_listener(l);

			if (d >= 0 && (next < 0 || d < next))
				next = d;
		}
		free_zombies();
		now = xs_now_ms();
		{
			int64_t d = sweep_run(now);

			if (d >= 0 && (next < 0 || d < next))
				next = d;
		}
		pthread_mutex_unlock(&ev_lock);
		timeout = next < 0 ? -1 : (int)XS_MAX(0, XS_MIN(next - now, 60000));
	}
	return NULL;
}

void evloop_flush(void)
{
	pthread_mutex_lock(&ev_lock);
	doorbells_drop(NULL);
	free_zombies();
	pthread_mutex_unlock(&ev_lock);
}

/* Under ev_lock. */
static int evloop_start(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &wake_marker };
	pthread_attr_t attr;
	pthread_t thr;
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
	epoll_ctl(epfd, EPOLL_CTL_ADD, wake_pipe[0], &ev);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	/* The application's signals are not ours to take. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&thr, &attr, evloop_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc < 0)
		goto close_pipe;
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

static void wake_thread(void)
{
	if (wake_pipe[1] >= 0 && write(wake_pipe[1], "w", 1) < 0) {
		/* full: it is awake anyway */
	}
}

int evloop_add(struct shim_sock *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	int rc, fd;

	SHIM_ENTER();
	pthread_mutex_lock(&ev_lock);
	rc = evloop_start();
	if (rc < 0)
		goto unlock;
	fd = s->kind == SHIM_RING ? xsp_evtchn_fd(s->conn->ev) : xs_listener_fd(s->lst);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rc = -errno;
		goto unlock;
	}
	if (s->kind == SHIM_RING) {
		rc = watch_b(s);
		if (rc < 0) {
			epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
			goto unlock;
		}
	}
	s->watched = true;
	s->refs++;
	if (s->kind == SHIM_LISTENER) {
		s->ev_next = listeners;
		listeners = s;
	}
	wake_thread();
unlock:
	pthread_mutex_unlock(&ev_lock);
	SHIM_LEAVE();
	if (s->kind == SHIM_RING && rc == 0)
		ring_sync(s, false, true);
	return rc;
}

void evloop_del(struct shim_sock *s)
{
	struct shim_sock **pp;
	struct xs_conn *c;

	SHIM_ENTER();
	pthread_mutex_lock(&ev_lock);
	if (!s->watched || s->dead)
		goto unlock;
	if (s->kind == SHIM_RING) {
		ring_retire(s);
		goto wake;
	}
	epoll_ctl(epfd, EPOLL_CTL_DEL, xs_listener_fd(s->lst), NULL);
	for (c = s->lst->pending; c; c = c->next)
		epoll_ctl(epfd, EPOLL_CTL_DEL, xsp_evtchn_fd(c->ev), NULL);
	for (pp = &listeners; *pp; pp = &(*pp)->ev_next) {
		if (*pp == s) {
			*pp = s->ev_next;
			break;
		}
	}
	doorbells_drop(s);
	s->dead = true;
	s->ev_next = zombies;
	zombies = s;
wake:
	wake_thread();
unlock:
	pthread_mutex_unlock(&ev_lock);
	SHIM_LEAVE();
}

__attribute__((constructor)) static void evloop_constructor(void)
{
	pthread_atfork(NULL, NULL, child_after_fork);
}
