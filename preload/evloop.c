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
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/env.h"
#include "common/fd.h"
#include "common/log.h"
#include "preload/evloop.h"
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/ready.h"
#include "preload/shim.h"

/*
 * A doorbell: our end of a loopback TCP connection to a listener, standing
 * for one client's request (recorded in the store under its local port,
 * see conn.h). Whichever process accept()s the other end claims the request
 * and builds the ring itself; we only wait for that end to be closed (the
 * acceptor replaces it with the ring), or give up at the deadline.
 */
struct doorbell {
	struct doorbell *next;
	struct shim_sock *l;		/* the listener it rings */
	int dfd;			/* the doorbell socket */
	uint16_t port;			/* its local port: the record's name */
	struct xs_request rq;		/* the request it stands for */
	int64_t deadline_ms;		/* withdraw it then if nobody accepted it */
	bool for_reuse;			/* or: it stands for the next use of a
					 * parked ring (no store record) */
	struct parked *reuse;		/* that ring, until taken up or dropped */
};

/*
 * A ring parked for reuse (conn.h, docs/protocol.md "Ring reuse"): its
 * application end is closed; the ring waits here, its channel still in
 * our epoll set, for the peer to park too, then for the next connection:
 * a connect() of ours to the same address (side B), or the client's open
 * of the next use, which we hand to accept() through a doorbell (side A).
 */
struct parked {
	struct parked *next;
	struct xs_conn *c;
	bool ringing;			/* A: a doorbell stands for its next use */
	bool dead;			/* taken or dropped: skip stale events */
	int direct;			/* A: accept() calls watching its channel */
	uint64_t gen;			/* tells it from a later one at its address */
};

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static int epfd = -1;
static int wake_pipe[2] = { -1, -1 };
static bool running;
static bool exiting;		/* evloop_flush() ran: the thread must stop */
static struct shim_sock *listeners;	/* via ev_next */
static struct shim_sock *zombies;	/* deregistered, freed after the batch */
static struct doorbell *doorbells;
static struct parked *parked;
static struct parked *parked_zombies;	/* freed after the event thread's batch */
static struct doorbell *bell_zombies;	/* the same */
static int nparked;
static uint64_t parked_gen;
static bool forked;		/* we forked: listeners may be shared, A parks no more */
static __thread bool ev_lock_mine;	/* this thread holds ev_lock */
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
/* A doorbell socket (struct doorbell, malloc()ed, so bit 1 is free). */
#define BELL_TAG 2u
/* A parked ring's channel (struct parked, malloc()ed: bit 2 is free). */
#define PARK_TAG 4u

static void ev_lock_take(void)
{
	pthread_mutex_lock(&ev_lock);
	ev_lock_mine = true;
}

static void ev_lock_drop(void)
{
	ev_lock_mine = false;
	pthread_mutex_unlock(&ev_lock);
}

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
static void sock_retire(struct shim_sock *s)
{
	if (s->dead)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, xsp_evtchn_fd(s->conn->ev), NULL);
	epoll_ctl(epfd, EPOLL_CTL_DEL, s->bfd, NULL);
	s->dead = true;
	s->ev_next = zombies;
	zombies = s;
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
	pthread_mutex_lock(&ev_lock);
}

static void resume_after_fork(void)
{
	/* The listeners we share with the child may hand a doorbell to its
	 * accept(): side A parks no more rings (docs/protocol.md). */
	__atomic_store_n(&forked, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ev_lock);
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
	 * The parent's doorbells are its own to expire: keep no copy of
	 * their sockets (the parent watches them for the acceptor's close).
	 */
	for (d = doorbells; d; d = d->next)
		close(d->dfd);
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
	/* The parent's parked rings are the parent's (its mappings stay
	 * here until exec or exit, as gntalloc's do). */
	parked = NULL;
	parked_zombies = NULL;
	bell_zombies = NULL;
	nparked = 0;
	sweep_wanted = 0;
	sweep_at = -1;
	exiting = false;
}

/* ---- the sweep (ready.c) ------------------------------------------------------------- */

/*
 * Rings nobody asks the peer about get asked about again after this long:
 * a program waiting for one in a call we do not intercept is woken by its
 * next byte at most this late (XSOCK_SWEEP_MS).
 */
static int sweep_ms(void)
{
	static int ms = -1;

	return xs_env_cached(&ms, "XSOCK_SWEEP_MS", 20, 1, 60000);
}


static void wake_thread(void);

void evloop_want_sweep(void)
{
	if (__atomic_load_n(&sweep_wanted, __ATOMIC_RELAXED) ||
	    __atomic_exchange_n(&sweep_wanted, 1, __ATOMIC_ACQ_REL))
		return;
	/* Once per sweep period at most; ev_lock guards the wake pipe. */
	ev_lock_take();
	wake_thread();
	ev_lock_drop();
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
	shim_for_each_ring(sock_sweep);
	return -1;
}

/* ---- doorbells ------------------------------------------------------------------------- */

/*
 * The address a doorbell for @lst connects to, and binds its own end to:
 * the listener's address, loopback for a wildcard. An accepted connection
 * from this address may be a doorbell; from anywhere else it cannot be.
 */
static void bell_addr(const struct xs_listener *lst, struct sockaddr_storage *to, socklen_t *len)
{
	memcpy(to, &lst->addr, sizeof(*to));
	*len = lst->addrlen;
	if (to->ss_family == AF_INET) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)to;

		if (in4->sin_addr.s_addr == htonl(INADDR_ANY))
			in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)to;

		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
			in6->sin6_addr = in6addr_loopback;
	}
}

uint16_t evloop_bell_port(const struct shim_sock *l, const struct sockaddr *sa, socklen_t salen)
{
	struct sockaddr_storage to;
	socklen_t tolen;

	bell_addr(l->lst, &to, &tolen);
	if (sa->sa_family != to.ss_family)
		return 0;
	if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *x = (const void *)&to, *y = (const void *)sa;

		return x->sin_addr.s_addr == y->sin_addr.s_addr ? ntohs(y->sin_port) : 0;
	}
	if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *x = (const void *)&to, *y = (const void *)sa;

		return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 ?
			       ntohs(y->sin6_port) : 0;
	}
	return 0;
}

static uint16_t sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

/*
 * Under ev_lock: ring a doorbell on listener @l for request @rq, or (@rq
 * NULL) for the next use of parked ring @pk, which needs no store record:
 * only an accept() of this process can take it up (evloop_reuse_claim()).
 */
static int bell_ring(struct shim_sock *l, const struct xs_request *rq, struct parked *pk)
{
	struct xs_listener *lst = l->lst;
	struct epoll_event ev = { .events = EPOLLRDHUP };
	struct sockaddr_storage to, from;
	socklen_t tolen;
	struct doorbell *d;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	bell_addr(lst, &to, &tolen);
	d->dfd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->dfd < 0) {
		rc = -errno;
		goto free_bell;
	}
	/* Our own port first: the record must exist before the connection
	 * can be accepted. */
	memcpy(&from, &to, sizeof(from));
	if (from.ss_family == AF_INET)
		((struct sockaddr_in *)&from)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&from)->sin6_port = 0;
	if (bind(d->dfd, (struct sockaddr *)&from, tolen) < 0) {
		rc = -errno;
		goto close_dfd;
	}
	d->port = sock_port(d->dfd);
	if (d->port == 0) {
		rc = -EADDRNOTAVAIL;
		goto close_dfd;
	}
	rc = rq ? xs_listener_bell(lst, rq, d->port) : 0;
	if (rc < 0)
		goto close_dfd;
	if (connect(d->dfd, (struct sockaddr *)&to, tolen) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto unbell;
	}
	/* The acceptor's close (or a refused connect) hangs it up. */
	ev.data.ptr = (void *)((uintptr_t)d | BELL_TAG);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, d->dfd, &ev) < 0) {
		rc = -errno;
		goto unbell;
	}
	d->l = l;
	if (rq) {
		d->rq = *rq;
		d->rq.next = NULL;
		xs_log(XS_LOG_DEBUG, "request %s from dom%u: doorbell port %u rung", rq->id,
		       rq->dom, d->port);
	} else {
		d->for_reuse = true;
		d->reuse = pk;
		pk->ringing = true;
		xs_log(XS_LOG_DEBUG, "ring %s: next use %u from dom%u: doorbell port %u rung",
		       pk->c->id, pk->c->use + 1, pk->c->peer, d->port);
	}
	d->deadline_ms = xs_now_ms() + lst->ctx->accept_timeout_ms;
	d->next = doorbells;
	doorbells = d;
	return 0;

unbell:
	if (rq)
		xs_listener_unbell(lst, d->port);
close_dfd:
	close(d->dfd);
free_bell:
	free(d);
	return rc;
}

/*
 * Under ev_lock: unlink and free @d; withdraw its record if nobody claimed
 * it, and then answer the client with @refuse_err unless it is 0.
 */
static void park_drop(struct parked *pk, const char *why);

static void bell_drop(struct doorbell **pp, const char *why, int refuse_err)
{
	struct doorbell *d = *pp;

	*pp = d->next;
	if (d->for_reuse) {
		/* Not taken up by an accept() of ours: the client's next use
		 * ends (it reads end of stream), as does the ring. */
		if (d->reuse)
			park_drop(d->reuse, why);
	} else if (xs_listener_unbell(d->l->lst, d->port) == 1) {
		xs_log(XS_LOG_INFO, "doorbell port %u withdrawn: %s", d->port, why);
		if (refuse_err)
			xs_listener_refuse(d->l->lst, &d->rq, refuse_err);
	}
	epoll_ctl(epfd, EPOLL_CTL_DEL, d->dfd, NULL);
	close(d->dfd);
	free(d);
}

/* Under ev_lock: the other end of doorbell @d was closed (claimed, or
 * accepted by something that does not know doorbells). */
static void bell_hangup(struct doorbell *d)
{
	struct doorbell **pp;

	for (pp = &doorbells; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			bell_drop(pp, "accepted without the shim", ECONNREFUSED);
			return;
		}
	}
}

/* Under ev_lock: withdraw doorbells nobody accepted in time (the server
 * is not accepting; its client gives up on its own, so no answer); the
 * earliest remaining deadline or -1. */
static int64_t bells_expire(void)
{
	struct doorbell **pp = &doorbells;
	int64_t now = xs_now_ms(), next = -1;

	while (*pp) {
		struct doorbell *d = *pp;

		if (now >= d->deadline_ms) {
			bell_drop(pp, "not accepted in time", 0);
			continue;
		}
		if (next < 0 || d->deadline_ms < next)
			next = d->deadline_ms;
		pp = &d->next;
	}
	return next;
}

/* Under ev_lock. */
static void doorbells_drop(struct shim_sock *l)
{
	struct doorbell **pp = &doorbells;

	while (*pp) {
		if (l && (*pp)->l != l) {
			pp = &(*pp)->next;
			continue;
		}
		bell_drop(pp, "listener closed", ECONNREFUSED);
	}
}

/* ---- ring reuse ------------------------------------------------------------------------ */

/*
 * Under ev_lock: take @pk out of the pool and out of the epoll set; its
 * ring is the caller's. @pk itself is freed after the event thread's
 * current batch, which may still name it.
 */
static struct xs_conn *park_unlink(struct parked *pk)
{
	struct parked **pp;
	struct doorbell *d;

	for (pp = &parked; *pp; pp = &(*pp)->next) {
		if (*pp == pk) {
			*pp = pk->next;
			nparked--;
			break;
		}
	}
	for (d = doorbells; d; d = d->next)
		if (d->reuse == pk)
			d->reuse = NULL;
	epoll_ctl(epfd, EPOLL_CTL_DEL, xsp_evtchn_fd(pk->c->ev), NULL);
	pk->dead = true;
	pk->next = parked_zombies;
	parked_zombies = pk;
	return pk->c;
}

/* Under ev_lock: have the event thread watch parked ring @pk's channel. */
static int park_watch(struct parked *pk)
{
	struct epoll_event ev = {
		.events = EPOLLIN,
		.data.ptr = (void *)((uintptr_t)pk | PARK_TAG),
	};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, xsp_evtchn_fd(pk->c->ev), &ev) < 0 ? -errno : 0;
}

/* Under ev_lock: close parked ring @pk for good. */
static void park_drop(struct parked *pk, const char *why)
{
	xs_log(XS_LOG_DEBUG, "parked ring %s to dom%u closed: %s", pk->c->id, pk->c->peer, why);
	xs_conn_close(park_unlink(pk));
}

static void free_parked_zombies(void)
{
	while (parked_zombies) {
		struct parked *pk = parked_zombies;

		parked_zombies = pk->next;
		free(pk);
	}
	while (bell_zombies) {
		struct doorbell *d = bell_zombies;

		bell_zombies = d->next;
		free(d);
	}
}

/* Under ev_lock: the listener of ours that serves @port, if any. */
static struct shim_sock *listener_of(uint16_t port)
{
	struct shim_sock *l;
	pid_t me = getpid();

	for (l = listeners; l; l = l->ev_next)
		if (!l->dead && l->owner == me && l->lst->port == port)
			return l;
	return NULL;
}

/* Under ev_lock: something happened on parked ring @pk's channel. */
static void park_event(struct parked *pk)
{
	struct xs_conn *c = pk->c;
	uint16_t sport;
	int rc;

	if (pk->dead)
		return;
	xs_conn_event(c);
	rc = xs_conn_park_step(c);
	if (rc < 0) {
		park_drop(pk, rc == -ECONNRESET ? "peer closed it" : strerror(-rc));
		return;
	}
	if (rc == 0 || c->side == XSR_SIDE_B || pk->ringing)
		return;
	/* Side A, idle: has the client opened the next use? */
	rc = xsr_peer_opened(&c->ring, c->use + 1, &sport);
	if (rc < 0) {
		park_drop(pk, "bad next use");
	} else if (rc == 1) {
		struct shim_sock *l = listener_of(c->lport);

		if (!l || forked) {
			park_drop(pk, "not listening here any more");
			return;
		}
		/* An accept() of ours waits on its channel: it takes it. */
		if (pk->direct)
			return;
		rc = bell_ring(l, NULL, pk);
		if (rc < 0)
			park_drop(pk, strerror(-rc));
	}
}

/*
 * Under ev_lock, after every batch of events: finish parking rings whose
 * peer has closed too (it does not wake us for that), close client rings
 * parked for XSOCK_REUSE_IDLE_MS (idle, or still waiting for the server
 * to park), and server rings once we forked. The earliest deadline or -1.
 */
static int64_t parked_expire(int64_t now)
{
	struct parked *pk = parked, *next;
	int64_t first = -1;

	for (; pk; pk = next) {
		struct xs_conn *c = pk->c;

		next = pk->next;
		if (c->side == XSR_SIDE_A) {
			if (forked && !pk->ringing) {
				park_drop(pk, "process forked");
				continue;
			}
			/* The client does not wake us when it closes: look. */
			if (c->state == XS_CONN_PARKING && xs_conn_park_step(c) < 0)
				park_drop(pk, "peer closed it");
			continue;
		}
		if (c->state == XS_CONN_PARKING && xs_conn_park_step(c) < 0) {
			park_drop(pk, "peer closed it");
			continue;
		}
		if (now - c->idle_since_ms >= c->ctx->reuse_idle_ms) {
			park_drop(pk, "idle");
			continue;
		}
		if (first < 0 || c->idle_since_ms + c->ctx->reuse_idle_ms < first)
			first = c->idle_since_ms + c->ctx->reuse_idle_ms;
	}
	return first;
}

bool evloop_forked(void)
{
	return __atomic_load_n(&forked, __ATOMIC_RELAXED);
}

bool evloop_park(struct xs_conn *c)
{
	bool mine = ev_lock_mine, ok = false;
	struct parked *pk;

	if (!c->reuse || c->state != XS_CONN_CONNECTED)
		return false;
	if (!mine)
		ev_lock_take();
	if (!running || exiting || nparked >= c->ctx->reuse_max)
		goto unlock;
	/* The server parks only while the next use can come back to one of
	 * its own accept() calls. */
	if (c->side == XSR_SIDE_A && (forked || !listener_of(c->lport)))
		goto unlock;
	pk = calloc(1, sizeof(*pk));
	if (!pk)
		goto unlock;
	pk->c = c;
	pk->gen = ++parked_gen;
	if (park_watch(pk) < 0) {
		free(pk);
		goto unlock;
	}
	pk->next = parked;
	parked = pk;
	nparked++;
	xs_conn_park_begin(c);
	ok = true;
	/* The peer may have closed and parked already. */
	park_event(pk);
	wake_thread();
unlock:
	if (!mine)
		ev_lock_drop();
	return ok;
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
		goto unlock;
	}
	sock_retire(s);
	c = s->conn;
	s->conn = NULL;
	if (!evloop_park(c))
		xs_conn_close(c);
unlock:
	ev_lock_drop();
	SHIM_LEAVE();
}

struct xs_conn *evloop_pool_take(xsp_domid_t dom, const struct sockaddr *dst, socklen_t dstlen)
{
	struct parked **pp, *best = NULL;
	struct xs_conn *c = NULL;

	SHIM_ENTER();
	ev_lock_take();
	for (pp = &parked; *pp; pp = &(*pp)->next) {
		struct xs_conn *x = (*pp)->c;

		if (x->side != XSR_SIDE_B || x->peer != dom || x->paddr_len != dstlen ||
		    memcmp(&x->paddr, dst, dstlen) != 0)
			continue;
		/* The server does not wake us when it parks: look. */
		if (x->state != XS_CONN_IDLE && xs_conn_park_step(x) != 1)
			continue;
		/* The biggest ring first: bulk transfers need it. */
		if (!best || x->order > best->c->order)
			best = *pp;
	}
	if (best)
		c = park_unlink(best);
	ev_lock_drop();
	SHIM_LEAVE();
	return c;
}

/* Under ev_lock: is @pk a server ring of listener @l's port? */
static bool parked_for(const struct parked *pk, const struct shim_sock *l)
{
	return !pk->dead && pk->c->side == XSR_SIDE_A && pk->c->lport == l->lst->port;
}

int evloop_direct_begin(const struct shim_sock *l, struct pollfd *fds, struct evloop_watch *w,
			int max)
{
	struct parked *pk;
	int n = 0;

	SHIM_ENTER();
	ev_lock_take();
	for (pk = parked; pk && n < max; pk = pk->next) {
		if (!parked_for(pk, l) || pk->ringing)
			continue;
		/* Its events are the caller's now: no wake-up here for them. */
		if (pk->direct++ == 0)
			epoll_ctl(epfd, EPOLL_CTL_DEL, xsp_evtchn_fd(pk->c->ev), NULL);
		w[n].pk = pk;
		w[n].gen = pk->gen;
		fds[n].fd = xsp_evtchn_fd(pk->c->ev);
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		n++;
	}
	ev_lock_drop();
	SHIM_LEAVE();
	return n;
}

void evloop_direct_end(const struct shim_sock *l, const struct evloop_watch *w, int n)
{
	struct parked *pk, *next;
	int i;

	SHIM_ENTER();
	ev_lock_take();
	for (pk = parked; pk; pk = next) {
		next = pk->next;
		for (i = 0; i < n; i++) {
			if (w[i].pk != pk || w[i].gen != pk->gen)
				continue;
			if (--pk->direct == 0) {
				/* Back to the event thread, with whatever came
				 * meanwhile (a use opened and not taken, a
				 * peer gone). */
				if (park_watch(pk) < 0)
					park_drop(pk, "cannot watch it");
				else
					park_event(pk);
			}
			break;
		}
	}
	ev_lock_drop();
	SHIM_LEAVE();
}

struct xs_conn *evloop_direct_take(const struct shim_sock *l)
{
	struct xs_conn *c = NULL;
	struct parked *pk;
	uint16_t sport;

	SHIM_ENTER();
	ev_lock_take();
	for (pk = parked; pk; pk = pk->next) {
		if (!parked_for(pk, l) || pk->ringing || pk->c->state != XS_CONN_IDLE ||
		    xsr_peer_opened(&pk->c->ring, pk->c->use + 1, &sport) != 1)
			continue;
		/* The event it sent is ours to take, not the event thread's. */
		xs_conn_event(pk->c);
		c = park_unlink(pk);
		break;
	}
	ev_lock_drop();
	SHIM_LEAVE();
	return c;
}

struct xs_conn *evloop_reuse_claim(const struct shim_sock *l, uint16_t bell)
{
	struct doorbell *d;
	struct xs_conn *c = NULL;

	SHIM_ENTER();
	ev_lock_take();
	struct doorbell **pp;

	for (pp = &doorbells; *pp; pp = &(*pp)->next) {
		d = *pp;
		if (d->l != l || d->port != bell || !d->reuse)
			continue;
		c = park_unlink(d->reuse);
		/* Done: end it here, not when the event thread sees it hang
		 * up (one wake-up less per connection). Freed after the
		 * thread's batch, which may name it. */
		*pp = d->next;
		epoll_ctl(epfd, EPOLL_CTL_DEL, d->dfd, NULL);
		close(d->dfd);
		d->next = bell_zombies;
		bell_zombies = d;
		break;
	}
	ev_lock_drop();
	SHIM_LEAVE();
	return c;
}

/* ---- listeners --------------------------------------------------------------------------- */

static void serve_listener(struct shim_sock *l)
{
	struct xs_request *rq;

	xs_listener_process(l->lst);
	while (xs_listener_take(l->lst, &rq) == 1) {
		int rc = bell_ring(l, rq, NULL);

		if (rc < 0) {
			xs_log(XS_LOG_WARN, "doorbell for dom%u: %s", rq->dom, strerror(-rc));
			/* Out of fds or memory: the client may fall back. */
			xs_listener_refuse(l->lst, rq,
					   rc == -EMFILE || rc == -ENFILE ? EMFILE :
					   rc == -ENOMEM || rc == -ENOBUFS ? ENOMEM : ECONNREFUSED);
		}
		free(rq);
	}
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
		for (i = 0; i < n; i++) {
			struct shim_sock *s = evs[i].data.ptr;

			if ((void *)s == (void *)&wake_marker) {
				char buf[64];

				/* A pipe: read(), not recv(). */
				while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
					;
				continue;
			}
			if ((uintptr_t)s & PARK_TAG) {
				park_event((struct parked *)((uintptr_t)s &
							     ~(uintptr_t)PARK_TAG));
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
			if (s->dead)
				continue;
			if (s->kind == SHIM_RING) {
				xs_conn_event(s->conn);
				sock_sync(s, false, false);
				/*
				 * A channel whose peer is gone polls hang-up
				 * forever: stop watching it, or we would spin.
				 * The ring's state is final and A reflects it.
				 */
				if (__atomic_load_n(&s->conn->ring.peer_gone, __ATOMIC_RELAXED))
					epoll_ctl(epfd, EPOLL_CTL_DEL, xsp_evtchn_fd(s->conn->ev),
						  NULL);
			} else {
				s->ev_due = true;	/* its store watch fired */
			}
		}
		/* Listeners whose watch fired; all of them now and then. */
		for (struct shim_sock *l = listeners; l; l = l->ev_next) {
			if (l->ev_due || n == 0) {
				l->ev_due = false;
				serve_listener(l);
			}
		}
		next = bells_expire();
		free_zombies();
		free_parked_zombies();
		now = xs_now_ms();
		{
			int64_t d = parked_expire(now);

			if (d >= 0 && (next < 0 || d < next))
				next = d;
		}
		{
			int64_t d = sweep_run(now);

			if (d >= 0 && (next < 0 || d < next))
				next = d;
		}
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
	doorbells_drop(NULL);
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
				    !(t & BELL_TAG) && (t & B_TAG))
					sock_retire((struct shim_sock *)(t & ~(uintptr_t)B_TAG));
			}
		} while (n == (int)XS_ARRAY_SIZE(evs) && ++rounds < 64);
	}
	free_zombies();
	/* Parked rings end with us; their peers see them go now. */
	while (parked)
		park_drop(parked, "process exiting");
	free_parked_zombies();
	ev_lock_drop();
}

/* Under ev_lock. */
static int evloop_start(void)
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
	ev_lock_take();
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
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	if (s->kind == SHIM_LISTENER) {
		s->ev_next = listeners;
		listeners = s;
		s->ev_due = true;	/* requests already waiting */
		wake_thread();
	}
	/* A ring's fds need no wake-up: epoll reports them when they fire. */
unlock:
	ev_lock_drop();
	SHIM_LEAVE();
	if (s->kind == SHIM_RING && rc == 0)
		sock_sync(s, false, true);
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
	doorbells_drop(s);
	s->dead = true;
	/* Rings parked for the port's next clients: nobody accepts them. */
	if (!listener_of(s->lst->port)) {
		struct parked *pk, *next;

		for (pk = parked; pk; pk = next) {
			next = pk->next;
			if (pk->c->side == XSR_SIDE_A && pk->c->lport == s->lst->port)
				park_drop(pk, "listener closed");
		}
	}
	s->ev_next = zombies;
	zombies = s;
wake:
	wake_thread();
unlock:
	ev_lock_drop();
	SHIM_LEAVE();
}

__attribute__((constructor)) static void evloop_constructor(void)
{
	pthread_atfork(quiesce_before_fork, resume_after_fork, child_after_fork);
}
