/* SPDX-License-Identifier: MIT */
/*
 * Fork: one connection, several processes (docs/protocol.md, "Process
 * model").
 *
 * After fork() parent and child hold the same ring connections and
 * listeners, as they would hold the same TCP sockets. What each needs:
 *  - the ring's pages: side A's (shared, gntalloc) are inherited; side B's
 *    (mapped, gntdev) are not, so a child maps them again on first use
 *    (xs_conn_map_again()). Our indexes and the readiness state are in
 *    MAP_SHARED memory (struct xsr_own, struct shim_rstate): whichever
 *    process reads or writes next carries on where the last one stopped.
 *  - one process to serve the connection's events (ack the channel, turn
 *    events into readiness of end A, end the connection when the last
 *    holder closes it): the "server", recorded in shared memory. It is the
 *    process that made the connection (or called listen()) until it is
 *    gone. Every other process that uses it watches the server with a
 *    pidfd in its event thread; when the server exits (or is killed) the
 *    first watcher to swap its pid in takes over, the others watch it.
 *  - the event channel: its fds are inherited (on Xen the binding belongs
 *    to the open file the child shares), so the taker acks the same one.
 *  - the peer must not take a holder's exit for the connection's end: only
 *    the server's mapping carries side B's "alive" notification; a server
 *    that exits while others hold the connection disarms it first
 *    (holder_leave()) and the taker arms its own.
 *  - a server that closes its last fd of a ring others hold (a handler
 *    forked after accept()) resigns; the first holder to use the ring next
 *    claims the serving (holder_claim()), so that the handler's waits are
 *    woken directly; the old server stops serving it and lets go of its
 *    copy when the connection ends (docs/protocol.md, "Handing the
 *    serving to a handler").
 * The first use of an inherited socket in a child is the first shim_get()
 * of its fd outside the shim (struct shim_sock's @gen differs from
 * shim_gen): a child that never uses it costs nothing.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "preload/ctx.h"
#include "preload/evloop.h"
#include "preload/fdtable.h"
#include "preload/holder.h"
#include "preload/libc.h"
#include "preload/ready.h"

unsigned int shim_gen = 1;

/* A watch on the server of one socket; holds a reference to it. */
struct srv_watch {
	struct srv_watch *next;
	struct shim_sock *s;
	pid_t pid;
	int pidfd;
};

static struct srv_watch *watches;	/* under ev_lock */

static pid_t *server_of(struct shim_sock *s)
{
	return s->kind == SHIM_RING ? &s->rs->server : &s->lsh->server;
}

static int *watchers_of(struct shim_sock *s)
{
	return s->kind == SHIM_RING ? &s->rs->watchers : &s->lsh->watchers;
}

static int pidfd_open_pid(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
#else
	(void)pid;
	return -ENOSYS;
#endif
}

/* Under ev_lock: serve @s from this process from now on. 0 or -errno. */
static int take_over(struct shim_sock *s)
{
	struct xs_ctx *ctx;
	struct xs_listener *l;
	int rc;

	s->owner = getpid();
	if (s->kind == SHIM_RING) {
		if (!s->conn)
			return -ENOTCONN;
		/* Its context is a parent's copy: not parked for reuse here. */
		s->conn->reuse = false;
		xs_conn_alive_notify(s->conn, true);
		rc = ev_serve(s);
		if (rc < 0) {
			xs_log(XS_LOG_WARN, "ring %s: cannot serve it here: %s", s->conn->id,
			       strerror(-rc));
			xs_conn_alive_notify(s->conn, false);
			return rc;
		}
		xs_log(XS_LOG_INFO, "ring %s to dom%u: served by this process now",
		       s->conn->id, s->conn->peer);
		/* What arrived while nobody served it (or was taken by the
		 * server that died before it re-armed the channel). */
		xsp_evtchn_rearm(s->conn->ev);
		xs_conn_event(s->conn);
		sock_sync(s, -1, false, false);
		sock_note_event(s);
		return 0;
	}
	/* A listener: advertise and watch anew, with this process's store. */
	ctx = shim_ctx();
	rc = ctx ? xs_listener_open(ctx, (struct sockaddr *)&s->lst->addr, s->lst->addrlen,
				    s->lst->port, &l) : -ENOENT;
	if (rc < 0) {
		xs_log(XS_LOG_WARN, "port %u: cannot serve ring clients here: %s",
		       s->lst->port, strerror(-rc));
		s->owner = 0;
		return rc;
	}
	/* The parent's copy (not ours to close) is left as it is. */
	s->lst = l;
	rc = ev_serve(s);
	if (rc < 0) {
		xs_log(XS_LOG_WARN, "port %u: cannot serve ring clients here: %s", l->port,
		       strerror(-rc));
		return rc;
	}
	xs_log(XS_LOG_INFO, "port %u: ring clients served by this process now", l->port);
	return 0;
}

/*
 * Under ev_lock: @s's server is @pid, or was: watch it, or take over if it
 * is gone. Loops while another holder takes over and dies under our feet.
 * The caller holds one count of the ring's watchers (@w's, or taken by
 * watch_server()): kept while we watch, given back otherwise.
 */
static void watch_or_take(struct shim_sock *s, struct srv_watch *w, pid_t pid)
{
	pid_t me = getpid();
	int fd, rc;

	for (;;) {
		if (pid == me)
			goto drop;	/* (we took it over meanwhile) */
		fd = pid > 0 ? pidfd_open_pid(pid) : -ESRCH;
		if (fd >= 0)
			break;
		if (fd != -ESRCH) {
			xs_log(XS_LOG_WARN, "cannot watch process %d: %s", (int)pid,
			       strerror(-fd));
			goto drop;
		}
		/* Gone: the first to swap its pid in serves it. */
		if (__atomic_compare_exchange_n(server_of(s), &pid, me, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			take_over(s);
			goto drop;
		}
		/* @pid now holds who took it: watch that one. */
	}
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w) {
			close(fd);
			__atomic_sub_fetch(watchers_of(s), 1, __ATOMIC_SEQ_CST);
			return;
		}
		w->s = s;
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
		w->next = watches;
		watches = w;
	}
	w->pid = pid;
	w->pidfd = fd;
	rc = ev_watch(fd, EPOLLIN, (void *)((uintptr_t)w | SRV_TAG));
	if (rc < 0)
		xs_log(XS_LOG_WARN, "cannot watch process %d: %s", (int)pid, strerror(-rc));
	return;
drop:
	__atomic_sub_fetch(watchers_of(s), 1, __ATOMIC_SEQ_CST);
	if (w) {
		struct srv_watch **pp;

		for (pp = &watches; *pp; pp = &(*pp)->next) {
			if (*pp == w) {
				*pp = w->next;
				break;
			}
		}
		/* Not the last reference: the table holds one. */
		__atomic_sub_fetch(&w->s->refs, 1, __ATOMIC_RELAXED);
		free(w);
	}
}

/*
 * Under ev_lock: watch @s's server, or take over if it is gone. Counted
 * among its watchers before @server is read (sequentially consistent,
 * both): a holder claiming the ring meanwhile either sees our count and
 * backs off, or has swapped itself in before our read and is who we
 * watch (holder_claim()).
 */
static void watch_server(struct shim_sock *s)
{
	__atomic_add_fetch(watchers_of(s), 1, __ATOMIC_SEQ_CST);
	watch_or_take(s, NULL, __atomic_load_n(server_of(s), __ATOMIC_SEQ_CST));
}

void holder_server_gone(struct srv_watch *w)
{
	pid_t pid = w->pid;

	ev_unwatch(w->pidfd);
	close(w->pidfd);
	w->pidfd = -1;
	/*
	 * The pidfd polls readable once the process has exited, reaped or
	 * not (pidfd_open() still works on a zombie: do not ask it again).
	 * The first watcher to swap its pid in serves; the others watch the
	 * one that did.
	 */
	if (__atomic_compare_exchange_n(server_of(w->s), &pid, getpid(), false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		take_over(w->s);
	watch_or_take(w->s, w, pid == w->pid ? getpid() : pid);
}

void holder_touch(struct shim_sock *s)
{
	struct xs_ctx *ctx;
	int rc;

	SHIM_ENTER();
	ev_lock_take();
	if (__atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) == shim_gen)
		goto unlock;
	if (s->kind == SHIM_RING && s->conn && s->rs) {
		ctx = shim_ctx();
		rc = ctx ? xs_conn_map_again(s->conn, ctx->plat) : -ENOENT;
		if (rc < 0) {
			xs_log(XS_LOG_WARN, "ring %s: cannot map it in this process: %s",
			       s->conn->id, strerror(-rc));
			s->conn->ring.broken = -ECONNRESET;
		}
	}
	rc = ev_start();
	if (rc == 0 && ((s->kind == SHIM_RING && s->rs) || (s->kind == SHIM_LISTENER && s->lsh)))
		watch_server(s);
	/* Release: what was done above before another thread's use. */
	__atomic_store_n(&s->gen, shim_gen, __ATOMIC_RELEASE);
unlock:
	ev_lock_drop();
	SHIM_LEAVE();
}

void holder_adopt(struct shim_sock *s)
{
	pid_t pid;
	int rc;

	SHIM_ENTER();
	ev_lock_take();
	rc = ev_start();
	if (rc < 0) {
		xs_log(XS_LOG_WARN, "ring %s: no event thread here: %s", s->conn->id,
		       strerror(-rc));
		goto unlock;
	}
	/* Acquire: pairs with the old image's (or the server's) release store. */
	pid = __atomic_load_n(&s->rs->server, __ATOMIC_ACQUIRE);
	if (pid == getpid())
		take_over(s);	/* the image before us served it: so do we */
	else
		watch_server(s);
unlock:
	ev_lock_drop();
	SHIM_LEAVE();
}

void holder_exit_touch(struct shim_sock *s)
{
	pid_t pid;

	if (s->gen == shim_gen || !s->conn || !s->rs)
		return;
	pid = __atomic_load_n(&s->rs->server, __ATOMIC_ACQUIRE);
	if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH))
		return;	/* it serves on; our exit changes nothing */
	holder_touch(s);
}

/* Under ev_lock: our watch of @s's server, or NULL. */
static struct srv_watch **watch_of(struct shim_sock *s)
{
	struct srv_watch **pp;

	for (pp = &watches; *pp; pp = &(*pp)->next)
		if ((*pp)->s == s)
			return pp;
	return NULL;
}

/* Under ev_lock: stop watching @s's server. Whether a watch (and the
 * reference it held, now the caller's to drop) was there. */
static bool unwatch_server(struct shim_sock *s)
{
	struct srv_watch **pp = watch_of(s), *w;

	if (!pp)
		return false;
	w = *pp;
	*pp = w->next;
	if (w->pidfd >= 0) {
		ev_unwatch(w->pidfd);
		close(w->pidfd);
	}
	free(w);
	__atomic_sub_fetch(watchers_of(s), 1, __ATOMIC_SEQ_CST);
	return true;
}

bool holder_unwatch(struct shim_sock *s)
{
	bool had;

	SHIM_ENTER();
	ev_lock_take();
	had = unwatch_server(s);
	ev_lock_drop();
	SHIM_LEAVE();
	return had;
}

void holder_forget(struct shim_sock *s)
{
	if (holder_unwatch(s))
		shim_put(s);	/* the watch's reference */
}

void holder_rewatch(struct shim_sock *s)
{
	SHIM_ENTER();
	ev_lock_take();
	if (ev_start() == 0)
		watch_server(s);
	ev_lock_drop();
	SHIM_LEAVE();
	shim_put(s);	/* the reference holder_unwatch() handed over */
}

void holder_resign(struct shim_sock *s)
{
	if (s->kind != SHIM_RING || s->resigned || !s->rs || !s->conn)
		return;
	s->resigned = true;
	/* Release: what we did to the ring before a claimer serves it. */
	__atomic_store_n(&s->rs->resigned, getpid(), __ATOMIC_RELEASE);
}

bool holder_claimed_away(const struct shim_sock *s)
{
	pid_t me;

	if (!s->resigned || !s->rs)
		return false;
	/*
	 * The claimer swaps itself in as @server, then clears @resigned once
	 * it serves (or swaps us back in if it backs off). Acquire: pairs
	 * with its release of @resigned.
	 */
	me = getpid();
	return __atomic_load_n(&s->rs->resigned, __ATOMIC_ACQUIRE) != me &&
	       __atomic_load_n(&s->rs->server, __ATOMIC_ACQUIRE) != me;
}

void holder_claim(struct shim_sock *s)
{
	pid_t was, srv, me;
	int others, rc;

	SHIM_ENTER();
	ev_lock_take();
	/* Acquire: pairs with the resigning server's release store. */
	was = __atomic_load_n(&s->rs->resigned, __ATOMIC_ACQUIRE);
	me = getpid();
	if (!was || was == me || s->claim_off || !s->conn || s->conn->ring.broken ||
	    __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) != shim_gen)
		goto unlock;
	/*
	 * Not while the connection is an offer its client has not attached
	 * to yet (a non-blocking accept() just before the fork): the old
	 * server settles it, with the client's life page that only it has
	 * mapped; our copy is never told, so such a ring stays where it is.
	 */
	if (xs_conn_offered(s->conn)) {
		s->claim_off = true;
		goto unlock;
	}
	srv = was;
	if (!__atomic_compare_exchange_n(&s->rs->server, &srv, me, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST)) {
		/* Stale: another holder claimed it first, or the resigner
		 * died and a holder that watched it took over. */
		__atomic_compare_exchange_n(&s->rs->resigned, &was, 0, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
		goto unlock;
	}
	/*
	 * Another process watching the old server would not see us die:
	 * leave the serving where it is (watch_server() counts a watcher
	 * before it reads @server, so one that read the old pid is counted
	 * by now). The old server lets go only once @resigned is cleared
	 * below, so it has not meanwhile.
	 */
	others = __atomic_load_n(&s->rs->watchers, __ATOMIC_SEQ_CST) - (watch_of(s) ? 1 : 0);
	rc = others > 0 ? -EBUSY : take_over(s);
	if (rc < 0) {
		s->owner = was;
		__atomic_store_n(&s->rs->server, was, __ATOMIC_RELEASE);
		s->claim_off = true;
		goto unlock;
	}
	/* Release: our serving (take_over()) before the old server lets go. */
	__atomic_store_n(&s->rs->resigned, 0, __ATOMIC_RELEASE);
	/* Its pidfd watch: we serve it now. Not the last reference: the
	 * caller's and the event thread's remain. */
	if (unwatch_server(s))
		__atomic_sub_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	xs_log(XS_LOG_INFO, "ring %s: claimed from process %d, which closed it", s->conn->id,
	       (int)was);
unlock:
	ev_lock_drop();
	SHIM_LEAVE();
}

void holder_leave(struct shim_sock *s)
{
	if (s->kind == SHIM_RING && s->conn)
		xs_conn_alive_notify(s->conn, false);
}

void holder_after_fork(void)
{
	struct srv_watch *w, *next;

	for (w = watches; w; w = next) {
		next = w->next;
		if (w->pidfd >= 0)
			close(w->pidfd);
		__atomic_sub_fetch(&w->s->refs, 1, __ATOMIC_RELAXED);
		free(w);
	}
	watches = NULL;
}
