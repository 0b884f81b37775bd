/* SPDX-License-Identifier: MIT */
/*
 * exec, the new image's half: the rings the old image handed over
 * (handover.c) rebuilt, before main() runs, on the fds the program
 * inherited (docs/protocol.md, "What crosses exec").
 *
 * The record (XSOCK_EXEC_FD, a memfd) is checked as a whole first
 * (xs_ho_check()). For each ring: the state arena is mapped again and
 * struct shim_rstate and struct xsr_own are found in it, the event
 * channel and side A's shares are rebuilt from their inherited fds, side
 * B maps the peer's grants again; end A is found by its inode on every fd
 * the program has it on (the exec may have moved it: posix_spawn's file
 * actions, a shell's redirections), and the ring socket installed there.
 * Then the image serves it if the old image did (the same pid), or
 * watches the process that does (holder.c).
 *
 * A ring that cannot be rebuilt is closed for the program (its fds read
 * end of file), never left as a raw readiness socket; its kernel objects
 * are let go of, so the connection ends once no other process holds it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "conn/conn.h"
#include "preload/arena.h"
#include "preload/ctx.h"
#include "preload/fdtable.h"
#include "preload/handover.h"
#include "preload/handover_rec.h"
#include "preload/holder.h"
#include "preload/libc.h"
#include "preload/shim.h"

#define REC_MAX (8u << 20)

/* End A's fds in this image: every fd that is a socket with @r's inode. */
static int find_a(const struct xs_ho_ring *r, int *fds, int max)
{
	struct dirent *d;
	struct stat st;
	int n = 0, fd;
	DIR *dir = opendir("/proc/self/fd");

	if (!dir)
		return -errno;
	while ((d = readdir(dir)) != NULL && n < max) {
		char *end;

		fd = (int)strtol(d->d_name, &end, 10);
		if (*end || fd == dirfd(dir))
			continue;
		if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    (uint64_t)st.st_dev == r->a_dev && (uint64_t)st.st_ino == r->a_ino)
			fds[n++] = fd;
	}
	closedir(dir);
	return n;
}

/*
 * What of @r's inherited fds a rebuilt object took: once imported, a
 * channel's fds and a share's fd are the platform handle's (platform.h,
 * "exec"), closed when the handle is let go of, never by close_own().
 */
#define GONE_EV		1u	/* ev_fd[]: the channel's */
#define GONE_SH0	2u	/* sh_fd[0]: the interface page's share */
#define GONE_SH1	4u	/* sh_fd[1]: the data pages' share */

/* Close what of @r's fds this image still holds itself (not in @gone). */
static void close_own(const struct xs_ho_ring *r, unsigned int gone)
{
	int i;

	shim_real.close(r->bfd);
	for (i = 0; i < 4 && !(gone & GONE_EV); i++) {
		if (r->ev_fd[i] >= 0)
			shim_real.close(r->ev_fd[i]);
	}
	for (i = 0; i < 2; i++) {
		if (r->sh_fd[i] >= 0 && !(gone & (i ? GONE_SH1 : GONE_SH0)))
			shim_real.close(r->sh_fd[i]);
	}
}

/*
 * The connection of @r, rebuilt. On failure, what was imported is let go
 * of as any holder lets go (xsp_*_forget()) and *@gone says which of @r's
 * fds went with it.
 */
static int conn_rebuild(struct xs_ctx *ctx, const struct xs_ho_ring *r, const uint32_t *refs,
			struct xsr_own *own, struct xs_conn **out, unsigned int *gone)
{
	struct xsp_unmap_notify n;
	struct xsp_evtchn_exec x;
	struct xs_conn *c;
	void *intf, *data;
	int i, rc;

	c = calloc(1, sizeof(*c));	/* as xs_conn_alloc() makes one */
	if (!c)
		return -ENOMEM;
	c->ctx = ctx;
	c->peer = (xsp_domid_t)r->peer;
	c->side = r->side ? XSR_SIDE_B : XSR_SIDE_A;
	memcpy(c->id, r->id, sizeof(c->id));
	c->order = r->order;
	x.port = r->ev_port;
	x.flags = r->ev_flags;
	for (i = 0; i < 4; i++)
		x.fd[i] = r->ev_fd[i];
	rc = xsp_evtchn_import(ctx->plat, c->peer, &x, &c->ev);
	if (rc < 0)
		goto fail;
	if (c->side == XSR_SIDE_A) {
		n.offset = XSOCK_A_ALIVE_OFFSET;
		n.ev = c->ev;
		rc = xsp_share_import(ctx->plat, c->peer, 1, &r->intf_ref, r->sh_fd[0], &n,
				      &c->sh_intf);
		if (rc == 0)
			rc = xsp_share_import(ctx->plat, c->peer, r->ndata, refs, r->sh_fd[1], NULL,
					      &c->sh_data);
		if (rc < 0)
			goto fail;
		intf = xsp_share_addr(c->sh_intf);
		data = xsp_share_addr(c->sh_data);
	} else {
		/* Armed by the process that serves it (holder_adopt()). */
		rc = xsp_map(ctx->plat, c->peer, 1, &r->intf_ref, NULL, &c->mp_intf);
		if (rc == 0)
			rc = xsp_map(ctx->plat, c->peer, r->ndata, refs, NULL, &c->mp_data);
		if (rc < 0)
			goto fail;
		intf = xsp_map_addr(c->mp_intf);
		data = xsp_map_addr(c->mp_data);
	}
	rc = xsr_adopt(&c->ring, c->side, intf, data, c->order, xs_conn_kick, c, own);
	if (rc < 0)
		goto fail;
	c->ring.broken = r->broken;
	c->ring.tx_shut = r->flags & XS_HO_TX_SHUT;
	c->ring.closed = r->flags & XS_HO_CLOSED;
	c->ring.peer_gone = r->flags & XS_HO_PEER_GONE;
	c->ring.bytes_tx = r->bytes_tx;
	c->ring.bytes_rx = r->bytes_rx;
	c->lport = (uint16_t)r->lport;
	c->pport = (uint16_t)r->pport;
	c->laddr_len = r->laddr_len;
	c->paddr_len = r->paddr_len;
	memcpy(&c->laddr, r->laddr, r->laddr_len);
	memcpy(&c->paddr, r->paddr, r->paddr_len);
	c->state = XS_CONN_CONNECTED;
	*out = c;
	return 0;

fail:
	/*
	 * Let go of what this image made, as a holder that leaves (the
	 * platform undoes its own imports: mapping, handle, fds). Whoever
	 * else holds the connection carries on; if nobody does, it ends
	 * here, as it would have when the program closed it: it could never
	 * use it again. Side B's mappings have no notification armed.
	 */
	c->ring.own = NULL;
	if (c->ev)
		*gone |= GONE_EV;
	if (c->sh_intf)
		*gone |= GONE_SH0;
	if (c->sh_data)
		*gone |= GONE_SH1;
	xsp_share_forget(c->sh_intf);
	xsp_share_forget(c->sh_data);
	xsp_evtchn_forget(c->ev);
	xsp_unmap(c->mp_intf);
	xsp_unmap(c->mp_data);
	free(c);
	return rc;
}

/* One ring of the record: 0, or -errno and it is closed for the program. */
static int adopt_ring(struct xs_ctx *ctx, const struct xs_ho_ring *r, const uint32_t *refs)
{
	struct shim_rstate *rs;
	struct shim_sock *s;
	struct xsr_own *own;
	struct xs_conn *c;
	int fds[64], stdio[3], n, i, k, rc;
	unsigned int gone = 0;
	void *p;

	n = find_a(r, fds, 64);
	if (n <= 0) {
		close_own(r, 0);
		return 0;	/* the program does not have it: not ours to hold */
	}
	if (!ctx) {
		rc = -ENOENT;
		goto eof;
	}
	rc = arena_adopt(r->arena_fd, r->rs_off, &p);
	if (rc < 0)
		goto eof;
	rs = p;
	rc = arena_adopt(r->arena_fd, r->own_off, &p);
	if (rc < 0)
		goto eof;
	own = p;
	if (fcntl(r->bfd, F_SETFD, FD_CLOEXEC) < 0) {
		rc = -EBADF;
		goto eof;
	}
	rc = conn_rebuild(ctx, r, refs, own, &c, &gone);
	if (rc < 0)
		goto eof;
	s = shim_sock_alloc();
	if (!s) {
		/* Its channel and shares took their fds with them. */
		gone = GONE_EV | GONE_SH0 | GONE_SH1;
		xs_conn_let_go(c);
		rc = -ENOMEM;
		goto eof;
	}
	s->kind = SHIM_RING;
	s->conn = c;
	s->bfd = r->bfd;
	s->rs = rs;
	s->family = r->family;
	s->owner = r->server;
	s->gen = shim_gen;
	for (i = 0; i < (int)r->nopts; i++) {
		s->opts[i].level = r->opts[i][0];
		s->opts[i].name = r->opts[i][1];
		s->opts[i].value = r->opts[i][2];
	}
	s->nopts = r->nopts;
	for (i = 0; i < n; i++) {
		if (shim_install(fds[i], s) == 0)
			__atomic_add_fetch(&s->nfds, 1, __ATOMIC_RELAXED);
		else
			exec_eof_fd(fds[i]);	/* never a bare readiness socket */
	}
	xs_log(XS_LOG_INFO, "exec: ring %s to dom%u on fd %d taken over from the old image",
	       c->id, c->peer, fds[0]);
	holder_adopt(s);
	shim_put(s);
	/* stdio cannot be intercepted: the program's 0, 1, 2 get a relay. */
	for (i = 0, k = 0; i < n; i++) {
		if (fds[i] <= 2)
			stdio[k++] = fds[i];
	}
	if (k) {
		rc = relay_start(fds[0], stdio, k, c);
		if (rc < 0) {
			xs_log(XS_LOG_WARN, "exec: ring %s: no relay for stdio: %s", r->id,
			       strerror(-rc));
			for (i = 0; i < k; i++)
				exec_eof_fd(stdio[i]);
		}
	}
	return 0;

eof:
	xs_log(XS_LOG_WARN, "exec: ring %s cannot be rebuilt here: %s; closed", r->id,
	       strerror(-rc));
	for (i = 0; i < n; i++)
		exec_eof_fd(fds[i]);
	close_own(r, gone);
	return rc;
}

/* Read the record behind @fd (closed here) into a malloc()ed buffer. */
static int read_record(int fd, void **buf, size_t *len)
{
	char link[64], path[64];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -EBADF;
	link[n] = '\0';
	if (strncmp(link, "/memfd:xsock-exec", 17) != 0 || fstat(fd, &st) < 0 ||
	    st.st_size <= 0 || (uint64_t)st.st_size > REC_MAX)
		return -EBADF;
	*len = (size_t)st.st_size;
	*buf = malloc(*len);
	if (!*buf)
		return -ENOMEM;
	n = pread(fd, *buf, *len, 0);
	shim_real.close(fd);
	if (n != (ssize_t)*len) {
		free(*buf);
		return -EIO;
	}
	return 0;
}

void handover_adopt(void)
{
	const struct xs_ho_ring *r = NULL;
	const char *v = getenv(XS_HO_ENV);
	const uint32_t *refs;
	char err[160], *end;
	void *buf;
	size_t len;
	long fd;
	int rc;

	if (!v)
		return;
	fd = strtol(v, &end, 10);
	unsetenv(XS_HO_ENV);
	if (*end || fd < 0 || fd >= XS_HO_FD_MAX)
		return;
	SHIM_ENTER();
	rc = read_record((int)fd, &buf, &len);
	if (rc < 0) {
		xs_log(XS_LOG_WARN, "exec: no hand-over record on fd %ld: %s", fd, strerror(-rc));
		goto out;
	}
	rc = xs_ho_check(buf, len, err, sizeof(err));
	if (rc < 0) {
		xs_log(XS_LOG_WARN, "exec: hand-over record refused: %s", err);
		free(buf);
		goto out;
	}
	while ((r = xs_ho_next(buf, r, &refs)) != NULL)
		adopt_ring(shim_ctx(), r, refs);
	free(buf);
out:
	SHIM_LEAVE();
}

/* struct xsr_own in the arena too: it crosses exec with its ring. */
static struct xsr_own *own_get(void)
{
	return arena_get();
}

static void own_put(struct xsr_own *own, bool ended)
{
	arena_put(own, ended);
}

static const struct xsr_own_alloc own_alloc = { .get = own_get, .put = own_put };

_Static_assert(sizeof(struct xsr_own) <= ARENA_SLOT, "struct xsr_own fits a slot");

__attribute__((constructor)) static void adopt_constructor(void)
{
	shim_resolve();
	xsr_set_own_alloc(&own_alloc);
	handover_adopt();
}
