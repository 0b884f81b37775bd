/* SPDX-License-Identifier: MIT */
/*
 * The exec hand-over record checked and walked (handover_rec.h). No
 * dependency on the rest of the shim: the unit test links this file alone
 * (tests/unit/check_handover.c).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "preload/handover_rec.h"

static int bad(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static bool fd_ok(int32_t fd)
{
	return fd >= 0 && fd < XS_HO_FD_MAX;
}

/* The fds one entry names for the kernel objects (not the application's). */
static unsigned int own_fds(const struct xs_ho_ring *r, int32_t *v)
{
	unsigned int i, n = 0;

	v[n++] = r->bfd;
	for (i = 0; i < 4; i++) {
		if (r->ev_fd[i] >= 0)
			v[n++] = r->ev_fd[i];
	}
	for (i = 0; i < 2; i++) {
		if (r->sh_fd[i] >= 0)
			v[n++] = r->sh_fd[i];
	}
	return n;
}

static int check_ring(const struct xs_ho_ring *r, unsigned int k, size_t left, char *err,
		      size_t errlen)
{
	int32_t mine[8];
	unsigned int i, j, n;

	if (left < sizeof(*r))
		return bad(-EINVAL, err, errlen, "ring %u: truncated (%zu bytes left)", k, left);
	if (r->order > XS_HO_MAX_ORDER)
		return bad(-EINVAL, err, errlen, "ring %u: order %u above %u", k, r->order,
			   XS_HO_MAX_ORDER);
	if (r->ndata != 1u << r->order)
		return bad(-EINVAL, err, errlen, "ring %u: %u data refs for order %u", k,
			   r->ndata, r->order);
	if (r->len != sizeof(*r) + (size_t)r->ndata * sizeof(uint32_t) || r->len > left)
		return bad(-EINVAL, err, errlen, "ring %u: length %u does not match", k, r->len);
	if (r->side > 1)
		return bad(-EINVAL, err, errlen, "ring %u: side %u", k, r->side);
	if (r->peer >= 0x7FF0u)
		return bad(-EINVAL, err, errlen, "ring %u: peer domain %u", k, r->peer);
	if (r->family != AF_INET && r->family != AF_INET6)
		return bad(-EINVAL, err, errlen, "ring %u: address family %d", k, r->family);
	if (r->server <= 0)
		return bad(-EINVAL, err, errlen, "ring %u: server pid %d", k, r->server);
	if (!memchr(r->id, '\0', sizeof(r->id)))
		return bad(-EINVAL, err, errlen, "ring %u: id not terminated", k);
	for (i = 0; r->id[i]; i++) {
		char c = r->id[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return bad(-EINVAL, err, errlen, "ring %u: id not hex", k);
	}
	if (r->nfds == 0 || r->nfds > XS_HO_MAX_FDS)
		return bad(-EINVAL, err, errlen, "ring %u: %u fds", k, r->nfds);
	if (!fd_ok(r->bfd) || !fd_ok(r->arena_fd) || !fd_ok(r->ev_fd[0]))
		return bad(-EINVAL, err, errlen, "ring %u: missing or bad fd", k);
	for (i = 1; i < 4; i++) {
		if (r->ev_fd[i] != -1 && !fd_ok(r->ev_fd[i]))
			return bad(-EINVAL, err, errlen, "ring %u: bad channel fd", k);
	}
	for (i = 0; i < 2; i++) {
		if (r->side == 0 ? !fd_ok(r->sh_fd[i]) : r->sh_fd[i] != -1)
			return bad(-EINVAL, err, errlen, "ring %u: share fds do not fit side %c", k,
				   r->side ? 'B' : 'A');
	}
	if (r->rs_off % XS_HO_SLOT || r->own_off % XS_HO_SLOT || r->rs_off == r->own_off)
		return bad(-EINVAL, err, errlen, "ring %u: bad arena offsets", k);
	if (r->flags & ~XS_HO_FLAGS)
		return bad(-EINVAL, err, errlen, "ring %u: unknown flags %#x", k, r->flags);
	if (r->broken > 0 || r->broken < -4095)
		return bad(-EINVAL, err, errlen, "ring %u: bad error %d", k, r->broken);
	if (r->lport > 65535 || r->pport > 65535)
		return bad(-EINVAL, err, errlen, "ring %u: bad port", k);
	if (r->laddr_len > XS_HO_ADDR_MAX || r->paddr_len > XS_HO_ADDR_MAX)
		return bad(-EINVAL, err, errlen, "ring %u: address too long", k);
	if (r->nopts > XS_HO_MAX_OPTS)
		return bad(-EINVAL, err, errlen, "ring %u: %u options", k, r->nopts);
	n = own_fds(r, mine);
	for (i = 0; i < r->nfds; i++) {
		if (!fd_ok(r->fds[i]))
			return bad(-EINVAL, err, errlen, "ring %u: bad fd %d", k, r->fds[i]);
		for (j = 0; j < i; j++) {
			if (r->fds[j] == r->fds[i])
				return bad(-EINVAL, err, errlen, "ring %u: fd %d twice", k,
					   r->fds[i]);
		}
		for (j = 0; j < n; j++) {
			if (mine[j] == r->fds[i])
				return bad(-EINVAL, err, errlen,
					   "ring %u: fd %d is both the application's and ours", k,
					   r->fds[i]);
		}
		if (r->fds[i] == r->arena_fd)
			return bad(-EINVAL, err, errlen, "ring %u: fd %d is the arena", k,
				   r->fds[i]);
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++) {
			if (mine[i] == mine[j])
				return bad(-EINVAL, err, errlen, "ring %u: fd %d named twice", k,
					   mine[i]);
		}
		if (mine[i] == r->arena_fd)
			return bad(-EINVAL, err, errlen, "ring %u: fd %d is the arena", k, mine[i]);
	}
	return 0;
}

/* Does any fd of @a (application or ours) appear in @b? */
static int32_t shared_fd(const struct xs_ho_ring *a, const struct xs_ho_ring *b)
{
	int32_t va[XS_HO_MAX_FDS + 8], vb[XS_HO_MAX_FDS + 8];
	unsigned int na, nb, i, j;

	na = own_fds(a, va);
	for (i = 0; i < a->nfds; i++)
		va[na++] = a->fds[i];
	nb = own_fds(b, vb);
	for (i = 0; i < b->nfds; i++)
		vb[nb++] = b->fds[i];
	for (i = 0; i < na; i++) {
		for (j = 0; j < nb; j++) {
			if (va[i] == vb[j])
				return va[i];
		}
	}
	return -1;
}

int xs_ho_check(const void *buf, size_t len, char *err, size_t errlen)
{
	const struct xs_ho_header *h = buf;
	const struct xs_ho_ring *r, *q;
	const unsigned char *p = buf;
	size_t off;
	unsigned int k, m;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!buf || len < sizeof(*h))
		return bad(-EINVAL, err, errlen, "record too short (%zu bytes)", len);
	if (h->magic != XS_HO_MAGIC)
		return bad(-EPROTO, err, errlen, "not a hand-over record (magic %#x)", h->magic);
	if (h->version != XS_HO_VERSION)
		return bad(-EPROTO, err, errlen, "record version %u, this shim reads %u",
			   h->version, XS_HO_VERSION);
	if (h->size != len)
		return bad(-EINVAL, err, errlen, "record says %u bytes, has %zu", h->size, len);
	if (h->nrings == 0 || h->nrings > XS_HO_MAX_RINGS)
		return bad(-EINVAL, err, errlen, "%u rings", h->nrings);
	off = sizeof(*h);
	for (k = 0; k < h->nrings; k++) {
		if (off % 8)
			return bad(-EINVAL, err, errlen, "ring %u: misaligned", k);
		r = (const struct xs_ho_ring *)(p + off);
		rc = check_ring(r, k, len - off, err, errlen);
		if (rc < 0)
			return rc;
		off += r->len;
		if (off % 8)
			off += 8 - off % 8;	/* entries are 8-aligned */
		if (off > len)
			return bad(-EINVAL, err, errlen, "ring %u: padding past the end", k);
	}
	if (off != len)
		return bad(-EINVAL, err, errlen, "%zu bytes after the last ring", len - off);
	/* No fd may be claimed by two rings (the arena excepted). */
	for (k = 0, r = NULL; (r = xs_ho_next(buf, r, NULL)); k++) {
		for (m = 0, q = NULL; (q = xs_ho_next(buf, q, NULL)) != r; m++) {
			int32_t fd = shared_fd(r, q);

			if (fd >= 0)
				return bad(-EINVAL, err, errlen, "rings %u and %u both name fd %d",
					   m, k, fd);
		}
	}
	return 0;
}

const struct xs_ho_ring *xs_ho_next(const void *buf, const struct xs_ho_ring *prev,
				    const uint32_t **refs)
{
	const struct xs_ho_header *h = buf;
	const unsigned char *p = buf;
	const struct xs_ho_ring *r;
	size_t off;

	if (!prev) {
		off = sizeof(*h);
	} else {
		off = (size_t)((const unsigned char *)prev - p) + prev->len;
		if (off % 8)
			off += 8 - off % 8;
	}
	if (off >= h->size)
		return NULL;
	r = (const struct xs_ho_ring *)(p + off);
	if (refs)
		*refs = (const uint32_t *)(r + 1);
	return r;
}
