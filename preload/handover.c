/* SPDX-License-Identifier: MIT */
/*
 * exec, the old image's half: ring connections written down for the new
 * one (docs/protocol.md, "What crosses exec"; handover_rec.h says what a
 * record holds, adopt.c reads it).
 *
 * The process memory goes with exec; kernel objects the new image inherits
 * stay: end A and end B of the socketpair, the event channel's fds, side
 * A's share files (their locks), and the state arena (a memfd holding
 * struct shim_rstate and struct xsr_own: arena.h). So before exec the
 * shim writes, into a memfd of its own, for each ring the program
 * inherits, which fds those objects are and what rebuilds the rest
 * (grant refs, port, addresses, options), clears FD_CLOEXEC on them, and
 * passes the memfd's number in XSOCK_EXEC_FD. Side B's pages are mapped
 * again by the new image from the grant refs; the exec'ing process that
 * serves such a ring disarms its mapping's unmap notification first (on
 * Xen exec's unmap would fire it), and the new image arms its own.
 *
 * The shim's fds are also kept through close_range() and closefrom() that
 * a program calls before exec (python's subprocess with close_fds closes
 * everything but the fds it passes): those fds are the shim's, not the
 * program's, and a ring fd the program closes that way is closed as by
 * close().
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "preload/arena.h"
#include "preload/defer.h"
#include "preload/fdtable.h"
#include "preload/handover.h"
#include "preload/handover_rec.h"
#include "preload/holder.h"
#include "preload/libc.h"
#include "preload/shim.h"

#define HO_MAX_SOCKS ((int)XS_HO_MAX_RINGS)
#define HO_MAX_FDS (8 * HO_MAX_SOCKS)

/* One ring socket the program inherits, and its fds. */
struct ho_group {
	struct shim_sock *s;
	int nfds;
	int fds[XS_HO_MAX_FDS];
};

/* Between handover_begin() and handover_end(), under ho_lock. */
static pthread_mutex_t ho_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ho_group groups[HO_MAX_SOCKS];
static int cleared[HO_MAX_FDS];		/* FD_CLOEXEC cleared: set it back */
static int ncleared;
static int hidden[HO_MAX_FDS];		/* application fds hidden from a spawn */
static int nhidden;
static int rec_fd = -1;
/* Rings whose "alive" notification was disarmed for the exec: re-armed
 * if it fails (a reference held on each). */
static struct shim_sock *disarmed[HO_MAX_SOCKS];
static int ndisarmed;
/* Rings whose server this image stopped watching for the exec (holder.h). */
static struct shim_sock *unwatched[HO_MAX_SOCKS];
static int nunwatched;

static void fd_inherit(int fd)
{
	if (fd < 0 || ncleared == HO_MAX_FDS)
		return;
	if (fcntl(fd, F_SETFD, 0) == 0)
		cleared[ncleared++] = fd;
}

/* The ring's record, in @r and @refs (room for 1 << XS_HO_MAX_ORDER). */
static int ring_entry(struct ho_group *g, struct xs_ho_ring *r, uint32_t *refs)
{
	struct shim_sock *s = g->s;
	struct xs_conn *c = s->conn;
	struct xsp_evtchn_exec x;
	const xsp_gref_t *gr;
	struct stat st;
	uint64_t off;
	int i, fd, rc;

	memset(r, 0, sizeof(*r));
	if (!c || !s->rs || !c->ring.own || c->sh_life || c->order > XS_HO_MAX_ORDER)
		return -EAGAIN;
	if (xs_conn_offered(c)) {
		/*
		 * Accepted before its client attached (a non-blocking accept:
		 * ncat, nginx), and execs at once. The process serving it
		 * settles the offer; this copy of the record is not told, but
		 * the interface page (side A's, ours) says when the client
		 * attached. Wait for that, as long as the offer may wait.
		 */
		while (!xsr_peer_attached(&c->ring) && xs_now_ms() < c->offer_until_ms)
			usleep(500);
		if (!xsr_peer_attached(&c->ring))
			return -ETIMEDOUT;
	} else if (c->state != XS_CONN_CONNECTED) {
		return -EAGAIN;
	}
	rc = xsp_evtchn_export(c->ev, &x);
	if (rc < 0)
		return rc;
	r->side = c->side == XSR_SIDE_A ? 0 : 1;
	r->peer = c->peer;
	r->order = c->order;
	r->ndata = 1u << c->order;
	r->len = sizeof(*r) + r->ndata * sizeof(uint32_t);
	r->family = s->family;
	/* Acquire: pairs with the release store of whoever serves it (evloop.c). */
	r->server = __atomic_load_n(&s->rs->server, __ATOMIC_ACQUIRE);
	if (r->server <= 0)
		return -ESRCH;
	memcpy(r->id, c->id, sizeof(r->id) - 1);
	r->nfds = (uint32_t)g->nfds;
	memcpy(r->fds, g->fds, sizeof(int) * (size_t)g->nfds);
	r->bfd = s->bfd;
	if (arena_locate(s->rs, &fd, &r->rs_off) < 0 || arena_locate(c->ring.own, &r->arena_fd,
								     &off) < 0 || fd != r->arena_fd)
		return -ENOENT;
	r->own_off = off;
	r->ev_port = x.port;
	r->ev_flags = x.flags;
	for (i = 0; i < 4; i++)
		r->ev_fd[i] = x.fd[i];
	r->sh_fd[0] = r->sh_fd[1] = -1;
	if (c->side == XSR_SIDE_A) {
		if (!c->sh_intf || !c->sh_data || xsp_share_npages(c->sh_data) != r->ndata)
			return -EINVAL;
		if ((rc = xsp_share_export(c->sh_intf, &r->sh_fd[0])) < 0 ||
		    (rc = xsp_share_export(c->sh_data, &r->sh_fd[1])) < 0)
			return rc;
		r->intf_ref = xsp_share_refs(c->sh_intf)[0];
		gr = xsp_share_refs(c->sh_data);
	} else {
		if (!c->mp_intf || !c->mp_data || c->mp_data->npages != r->ndata)
			return -EINVAL;
		r->intf_ref = c->mp_intf->refs[0];
		gr = c->mp_data->refs;
	}
	for (i = 0; i < (int)r->ndata; i++)
		refs[i] = gr[i];
	r->broken = c->ring.broken;
	r->flags = (c->ring.tx_shut ? XS_HO_TX_SHUT : 0) | (c->ring.closed ? XS_HO_CLOSED : 0) |
		   (c->ring.peer_gone ? XS_HO_PEER_GONE : 0);
	r->lport = c->lport;
	r->pport = c->pport;
	r->laddr_len = c->laddr_len <= XS_HO_ADDR_MAX ? c->laddr_len : 0;
	r->paddr_len = c->paddr_len <= XS_HO_ADDR_MAX ? c->paddr_len : 0;
	memcpy(r->laddr, &c->laddr, r->laddr_len);
	memcpy(r->paddr, &c->paddr, r->paddr_len);
	r->nopts = s->nopts <= XS_HO_MAX_OPTS ? s->nopts : XS_HO_MAX_OPTS;
	for (i = 0; i < (int)r->nopts; i++) {
		r->opts[i][0] = s->opts[i].level;
		r->opts[i][1] = s->opts[i].name;
		r->opts[i][2] = s->opts[i].value;
	}
	r->bytes_tx = c->ring.bytes_tx;
	r->bytes_rx = c->ring.bytes_rx;
	/* End A's inode: the new image finds A on whatever fd numbers it is. */
	if (fstat(g->fds[0], &st) < 0)
		return -errno;
	r->a_dev = (uint64_t)st.st_dev;
	r->a_ino = (uint64_t)st.st_ino;
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = shim_real.write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Append @r and @refs to the record (made on first use). */
static int record_add(struct xs_ho_header *h, const struct xs_ho_ring *r, const uint32_t *refs)
{
	static const char zero[8];
	size_t pad = (8 - r->len % 8) % 8;
	int rc;

	if (rec_fd < 0) {
		rec_fd = memfd_create("xsock-exec", 0);
		if (rec_fd < 0)
			return -errno;
		h->size = sizeof(*h);
		if ((rc = write_all(rec_fd, h, sizeof(*h))) < 0)
			return rc;
	}
	if ((rc = write_all(rec_fd, r, sizeof(*r))) < 0 ||
	    (rc = write_all(rec_fd, refs, r->ndata * sizeof(uint32_t))) < 0 ||
	    (rc = write_all(rec_fd, zero, pad)) < 0)
		return rc;
	h->nrings++;
	h->size += r->len + (uint32_t)pad;
	return 0;
}

/* Make the kernel objects of entry @r inheritable. */
static void entry_inherit(const struct xs_ho_ring *r)
{
	int i;

	fd_inherit(r->bfd);
	for (i = 0; i < 4; i++)
		fd_inherit(r->ev_fd[i]);
	fd_inherit(r->sh_fd[0]);
	fd_inherit(r->sh_fd[1]);
	arena_mark(r->arena_fd);
}

/*
 * Before an exec: ring @s, handed over, is side B (mapped) and served by
 * this process, whose mapping carries the "alive" unmap notification
 * (docs/protocol.md, "Process model"). exec unmaps it, and on Xen the
 * notification would fire: the peer would take the connection for ended.
 * Disarm it; the new image (the same pid, so it serves) arms its own on
 * the mapping it makes (holder_adopt()). 1 when disarmed (the caller keeps
 * its reference for handover_end()), else 0.
 */
static int disarm_for_exec(struct shim_sock *s, const struct xs_ho_ring *r)
{
	int rc;

	if (r->side != 1 || r->server != getpid() || ndisarmed == HO_MAX_SOCKS)
		return 0;
	rc = xs_conn_alive_notify(s->conn, false);
	if (rc < 0) {
		xs_log(XS_LOG_WARN, "exec: ring %s: cannot disarm its unmap notification: %s",
		       r->id, strerror(-rc));
		return 0;
	}
	disarmed[ndisarmed++] = s;
	return 1;
}

/* A ring that does not cross: closed for the program (see handover.h). */
static void no_crossing(struct ho_group *g, bool spawn)
{
	int i;

	for (i = 0; i < g->nfds; i++) {
		if (!spawn) {
			exec_eof_fd(g->fds[i]);
		} else if (nhidden < HO_MAX_FDS && !(fcntl(g->fds[i], F_GETFD) & FD_CLOEXEC) &&
			   fcntl(g->fds[i], F_SETFD, FD_CLOEXEC) == 0) {
			hidden[nhidden++] = g->fds[i];
		}
	}
}

/*
 * Under ho_lock: the ring sockets the program inherits, grouped. For a
 * spawn that follows (@all), close-on-exec ones too: posix_spawn's file
 * actions may dup2 them onto fds the program inherits (the new image
 * finds end A by its inode, wherever it is, or lets the ring go).
 */
static int collect(bool all)
{
	/* Acquire: the entries below the mark are published (fdtable.c). */
	int fd, fl, i, n = 0, hi = __atomic_load_n(&shim_tab_hi, __ATOMIC_ACQUIRE);

	for (fd = 0; fd < hi; fd++) {
		struct shim_sock *s;

		if (!shim_maybe_ours(fd))
			continue;
		s = shim_peek(fd);
		if (!s)
			continue;
		fl = fcntl(fd, F_GETFD);
		if (s->kind != SHIM_RING || fl < 0 || (!all && (fl & FD_CLOEXEC))) {
			shim_put(s);
			continue;
		}
		for (i = 0; i < n && groups[i].s != s; i++)
			;
		if (i < n) {
			shim_put(s);	/* the group holds one */
			if (groups[i].nfds < (int)XS_HO_MAX_FDS)
				groups[i].fds[groups[i].nfds++] = fd;
			continue;
		}
		if (n == HO_MAX_SOCKS) {
			/* Beyond what one record holds: closed for the program. */
			struct ho_group g = { .s = s, .nfds = 1, .fds = { fd } };

			no_crossing(&g, false);
			shim_put(s);
			continue;
		}
		groups[n].s = s;
		groups[n].nfds = 1;
		groups[n].fds[0] = fd;
		n++;
	}
	return n;
}

int handover_begin(bool follows, bool spawn)
{
	struct xs_ho_header h = { .magic = XS_HO_MAGIC, .version = XS_HO_VERSION };
	static uint32_t refs[1u << XS_HO_MAX_ORDER];
	static struct xs_ho_ring r;
	int i, n, rc;

	shim_lock(&ho_lock);
	ncleared = nhidden = ndisarmed = nunwatched = 0;
	rec_fd = -1;
	if (shim_guard)
		return -1;	/* the shim's own exec: nothing of the program's */
	SHIM_ENTER();
	n = collect(follows && spawn);
	for (i = 0; i < n; i++) {
		struct ho_group *g = &groups[i];

		/* Our watch of its server ends with this image. */
		if (!spawn && nunwatched < HO_MAX_SOCKS && holder_unwatch(g->s))
			unwatched[nunwatched++] = g->s;

		rc = follows ? ring_entry(g, &r, refs) : -EPERM;
		if (rc == 0)
			rc = record_add(&h, &r, refs);
		if (rc == 0) {
			entry_inherit(&r);
			xs_log(XS_LOG_INFO, "exec: ring %s on fd %d handed over", r.id, g->fds[0]);
			if (!spawn && disarm_for_exec(g->s, &r)) {
				g->s = NULL;	/* its reference: disarmed[] */
				continue;
			}
		} else {
			if (follows)
				xs_log(XS_LOG_INFO, "exec: ring on fd %d cannot cross: %s",
				       g->fds[0], strerror(-rc));
			no_crossing(g, spawn);
			if (!spawn)
				xs_log(XS_LOG_INFO, "exec: ring fd %d handed over closed",
				       g->fds[0]);
		}
		shim_put(g->s);
		g->s = NULL;
	}
	if (rec_fd >= 0) {
		if (pwrite(rec_fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
			/* The new image finds a record that fails its check. */
			xs_log(XS_LOG_WARN, "exec: cannot write the hand-over record");
		}
		arena_set_cloexec(false);
	}
	SHIM_LEAVE();
	return rec_fd;
}

void handover_end(void)
{
	int i;

	SHIM_ENTER();
	for (i = 0; i < ncleared; i++)
		fcntl(cleared[i], F_SETFD, FD_CLOEXEC);
	for (i = 0; i < nhidden; i++)
		fcntl(hidden[i], F_SETFD, 0);
	ncleared = nhidden = 0;
	/* The exec failed: this process still serves them, with its mapping. */
	for (i = 0; i < ndisarmed; i++) {
		xs_conn_alive_notify(disarmed[i]->conn, true);
		shim_put(disarmed[i]);
	}
	ndisarmed = 0;
	for (i = 0; i < nunwatched; i++)
		holder_rewatch(unwatched[i]);
	nunwatched = 0;
	arena_set_cloexec(true);
	/* Forgotten before it is closed: a fork meanwhile (another thread)
	 * must not see a number that may be reused (ho_child_after_fork()). */
	i = rec_fd;
	rec_fd = -1;
	if (i >= 0)
		shim_real.close(i);
	SHIM_LEAVE();
	shim_unlock(&ho_lock);
}

/*
 * fork() while another thread is between handover_begin() and
 * handover_end() (a posix_spawn(), or a system() that waits for its
 * command): the child gets ho_lock held by a thread it does not have, and
 * would hang in its own exec or close_range() (python's subprocess calls
 * both in the child). It makes the lock anew and undoes, on its copies,
 * what that hand-over noted it did for the other program: FD_CLOEXEC back
 * on the shim's fds it cleared and on the arenas, off again on the
 * application fds it hid, and the record's fd is closed (handover_end()
 * forgets it before it closes it: a number noted here is still the
 * record's). (glibc's system(), popen() and posix_spawn() start their own
 * child without fork handlers: a hand-over's child never runs this.)
 * What the other thread did but had not noted yet at the instant of the
 * fork stays (docs/protocol.md, "Known limits"). References held for
 * disarmed or unwatched rings stay with the child's copies of those
 * records, as does the record's name in environ if a system() had put it
 * there: an exec through us drops it.
 */
static void ho_child_after_fork(void)
{
	bool busy = pthread_mutex_trylock(&ho_lock) != 0;
	int i;

	pthread_mutex_init(&ho_lock, NULL);
	if (!busy)
		return;
	for (i = 0; i < ncleared; i++)
		fcntl(cleared[i], F_SETFD, FD_CLOEXEC);
	for (i = 0; i < nhidden; i++)
		fcntl(hidden[i], F_SETFD, 0);
	arena_child_cloexec();
	if (rec_fd >= 0)
		shim_real.close(rec_fd);
	ncleared = nhidden = ndisarmed = nunwatched = 0;
	rec_fd = -1;
}

__attribute__((constructor)) static void handover_constructor(void)
{
	pthread_atfork(NULL, NULL, ho_child_after_fork);
}

/* ---- close_range, closefrom: the shim's fds are not the program's ---------------------- */

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Under ho_lock: the fds the shim keeps for the rings in the table, sorted. */
static int shim_fds(int *v, int max)
{
	/* Acquire: as in collect(). */
	int fd, i, n, hi = __atomic_load_n(&shim_tab_hi, __ATOMIC_ACQUIRE);

	n = arena_fds(v, max);
	for (fd = 0; fd < hi && n + 8 <= max; fd++) {
		struct xsp_evtchn_exec x;
		struct shim_sock *s;
		struct xs_conn *c;

		if (!shim_maybe_ours(fd) || !(s = shim_peek(fd)))
			continue;
		c = s->conn;
		if (s->kind == SHIM_RING && c) {
			v[n++] = s->bfd;
			if (xsp_evtchn_export(c->ev, &x) == 0) {
				for (i = 0; i < XSP_EXEC_FDS; i++) {
					if (x.fd[i] >= 0)
						v[n++] = x.fd[i];
				}
			} else {
				v[n++] = xsp_evtchn_fd(c->ev);
			}
			if (c->sh_intf && xsp_share_export(c->sh_intf, &i) == 0)
				v[n++] = i;
			if (c->sh_data && xsp_share_export(c->sh_data, &i) == 0)
				v[n++] = i;
		}
		shim_put(s);
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_int);
	return n;
}

XS_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	static int keep[HO_MAX_FDS];
	unsigned int fd, from;
	int i, n, rc = 0, hi;

	shim_resolve();
	if (!shim_real.close_range) {
		errno = ENOSYS;
		return -1;
	}
	if (shim_guard || (flags & CLOSE_RANGE_CLOEXEC) || first > last)
		return shim_real.close_range(first, last, flags);
	/* The program's ring fds: closed as by close(). */
	/* Acquire: as in collect(). */
	hi = __atomic_load_n(&shim_tab_hi, __ATOMIC_ACQUIRE);
	for (fd = first; fd <= last && fd < (unsigned int)hi; fd++) {
		if (shim_maybe_ours((int)fd))
			close((int)fd);
	}
	shim_lock(&ho_lock);
	SHIM_ENTER();
	n = shim_fds(keep, HO_MAX_FDS);
	from = first;
	for (i = 0; i < n && rc == 0; i++) {
		unsigned int k = (unsigned int)keep[i];

		if (keep[i] < 0 || k < from || k > last)
			continue;
		if (k > from)
			rc = shim_real.close_range(from, k - 1, flags);
		from = k + 1;
	}
	/* (@from wrapped to 0 past ~0u: nothing left) */
	if (rc == 0 && from <= last && !(from == 0 && first > 0))
		rc = shim_real.close_range(from, last, flags);
	SHIM_LEAVE();
	shim_unlock(&ho_lock);
	return rc;
}

XS_EXPORT void closefrom(int lowfd)
{
	if (lowfd < 0)
		lowfd = 0;
	close_range((unsigned int)lowfd, ~0u, 0);
}
