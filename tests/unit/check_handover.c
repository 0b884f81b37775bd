/* SPDX-License-Identifier: MIT */
/*
 * The exec hand-over record's checker (preload/handover_rec.c): a valid
 * record is accepted and walked; every malformed or hostile one --
 * truncated, wrong magic or version, lying sizes, out-of-range counts,
 * orders, sides, fds, offsets, fds claimed twice -- is refused, with a
 * reason that says what is wrong.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "preload/handover_rec.h"
#include "testutil.h"

/* A record of @n valid rings of @order, in a malloc()ed buffer. */
struct rec {
	unsigned char *buf;
	size_t len;
};

static size_t entry_size(unsigned int order)
{
	size_t len = sizeof(struct xs_ho_ring) + ((size_t)1 << order) * sizeof(uint32_t);

	return (len + 7) & ~(size_t)7;
}

static struct xs_ho_ring *ring_at(struct rec *r, unsigned int k, unsigned int order)
{
	return (struct xs_ho_ring *)(r->buf + sizeof(struct xs_ho_header) +
				     k * entry_size(order));
}

static struct rec make(unsigned int n, unsigned int order)
{
	struct rec r;
	struct xs_ho_header *h;
	unsigned int k, i;

	r.len = sizeof(*h) + n * entry_size(order);
	r.buf = calloc(1, r.len);
	ck_assert_ptr_nonnull(r.buf);
	h = (struct xs_ho_header *)r.buf;
	h->magic = XS_HO_MAGIC;
	h->version = XS_HO_VERSION;
	h->nrings = n;
	h->size = (uint32_t)r.len;
	for (k = 0; k < n; k++) {
		struct xs_ho_ring *e = ring_at(&r, k, order);
		uint32_t *refs = (uint32_t *)(e + 1);
		int base = 100 + 20 * (int)k;

		e->len = (uint32_t)(sizeof(*e) + ((size_t)1 << order) * sizeof(uint32_t));
		e->side = k % 2;
		e->peer = 1;
		e->order = order;
		e->ndata = 1u << order;
		e->family = AF_INET;
		e->server = 1234;
		strcpy(e->id, "0123456789abcdef");
		e->nfds = 2;
		e->fds[0] = (int)k * 2;
		e->fds[1] = (int)k * 2 + 1;
		e->bfd = base;
		e->arena_fd = 90;
		e->rs_off = 256 * (2 * k);
		e->own_off = 256 * (2 * k + 1);
		e->ev_fd[0] = base + 1;
		e->ev_fd[1] = base + 2;
		e->ev_fd[2] = e->ev_fd[3] = -1;
		e->sh_fd[0] = e->side ? -1 : base + 3;
		e->sh_fd[1] = e->side ? -1 : base + 4;
		e->laddr_len = e->paddr_len = 16;
		for (i = 0; i < e->ndata; i++)
			refs[i] = 1000 + i;
	}
	return r;
}

static int check(struct rec *r, char *err, size_t errlen)
{
	return xs_ho_check(r->buf, r->len, err, errlen);
}

/* @r must be refused with @rc and a reason containing @what. */
static void refused(struct rec *r, int rc, const char *what)
{
	char err[160];

	ck_assert_int_eq(check(r, err, sizeof(err)), rc);
	ck_assert_msg(strstr(err, what), "reason '%s' does not say '%s'", err, what);
	free(r->buf);
}

START_TEST(valid_records)
{
	unsigned int orders[] = { 0, 5, 9 };
	unsigned int i, k, n = 3;

	for (i = 0; i < 3; i++) {
		struct rec r = make(n, orders[i]);
		const struct xs_ho_ring *e = NULL;
		const uint32_t *refs;
		char err[160] = "x";

		ck_assert_int_eq(check(&r, err, sizeof(err)), 0);
		ck_assert_str_eq(err, "");
		for (k = 0; (e = xs_ho_next(r.buf, e, &refs)); k++) {
			ck_assert_uint_eq(e->order, orders[i]);
			ck_assert_uint_eq(refs[0], 1000);
			ck_assert_uint_eq(refs[e->ndata - 1], 1000 + e->ndata - 1);
		}
		ck_assert_uint_eq(k, n);
		free(r.buf);
	}
}
END_TEST

START_TEST(header)
{
	struct rec r = make(1, 0);

	ck_assert_int_eq(xs_ho_check(r.buf, 3, NULL, 0), -EINVAL);	/* no reason buffer: fine */
	ck_assert_int_eq(xs_ho_check(NULL, 0, NULL, 0), -EINVAL);
	free(r.buf);
	r = make(1, 0);
	r.len = 8;
	refused(&r, -EINVAL, "too short");
	r = make(1, 0);
	((struct xs_ho_header *)r.buf)->magic ^= 1;
	refused(&r, -EPROTO, "magic");
	r = make(1, 0);
	((struct xs_ho_header *)r.buf)->version = 2;
	refused(&r, -EPROTO, "version 2");
	r = make(1, 0);
	((struct xs_ho_header *)r.buf)->size += 8;
	refused(&r, -EINVAL, "says");
	r = make(1, 0);
	((struct xs_ho_header *)r.buf)->nrings = 0;
	refused(&r, -EINVAL, "0 rings");
	r = make(1, 0);
	((struct xs_ho_header *)r.buf)->nrings = 1u << 30;
	refused(&r, -EINVAL, "rings");
	r = make(2, 0);
	((struct xs_ho_header *)r.buf)->nrings = 1;	/* a ring too many in the bytes */
	refused(&r, -EINVAL, "after the last ring");
	r = make(2, 0);
	((struct xs_ho_header *)r.buf)->nrings = 3;	/* a ring too few */
	refused(&r, -EINVAL, "ring 2: truncated");
}
END_TEST

/* One field of ring 0 (or 1) spoiled by @fn, refused with @what. */
typedef void (*spoil_fn)(struct xs_ho_ring *e);

static void spoiled(unsigned int k, spoil_fn fn, const char *what)
{
	struct rec r = make(2, 1);

	fn(ring_at(&r, k, 1));
	refused(&r, -EINVAL, what);
}

static void order_big(struct xs_ho_ring *e) { e->order = 10; }
static void ndata_lie(struct xs_ho_ring *e) { e->ndata = 4; }
static void len_lie(struct xs_ho_ring *e) { e->len += 4; }
static void len_huge(struct xs_ho_ring *e) { e->len = 0xFFFFFFF0u; }
static void side_bad(struct xs_ho_ring *e) { e->side = 2; }
static void peer_bad(struct xs_ho_ring *e) { e->peer = 0x7FF0; }
static void family_bad(struct xs_ho_ring *e) { e->family = AF_UNIX; }
static void server_bad(struct xs_ho_ring *e) { e->server = 0; }
static void id_open(struct xs_ho_ring *e) { memset(e->id, 'a', sizeof(e->id)); }
static void id_bad(struct xs_ho_ring *e) { strcpy(e->id, "../../etc"); }
static void nfds_zero(struct xs_ho_ring *e) { e->nfds = 0; }
static void nfds_big(struct xs_ho_ring *e) { e->nfds = XS_HO_MAX_FDS + 1; }
static void fd_negative(struct xs_ho_ring *e) { e->fds[1] = -5; }
static void fd_huge(struct xs_ho_ring *e) { e->fds[0] = XS_HO_FD_MAX; }
static void fd_twice(struct xs_ho_ring *e) { e->fds[1] = e->fds[0]; }
static void fd_is_bfd(struct xs_ho_ring *e) { e->fds[1] = e->bfd; }
static void fd_is_arena(struct xs_ho_ring *e) { e->fds[1] = e->arena_fd; }
static void bfd_bad(struct xs_ho_ring *e) { e->bfd = -1; }
static void ev_missing(struct xs_ho_ring *e) { e->ev_fd[0] = -1; }
static void ev_extra_bad(struct xs_ho_ring *e) { e->ev_fd[3] = -7; }
static void ev_is_bfd(struct xs_ho_ring *e) { e->ev_fd[0] = e->bfd; }
static void share_on_b(struct xs_ho_ring *e) { e->sh_fd[0] = 300; }
static void share_missing(struct xs_ho_ring *e) { e->sh_fd[1] = -1; }
static void off_unaligned(struct xs_ho_ring *e) { e->rs_off = 100; }
static void off_same(struct xs_ho_ring *e) { e->own_off = e->rs_off; }
static void flags_bad(struct xs_ho_ring *e) { e->flags = 0x100; }
static void broken_bad(struct xs_ho_ring *e) { e->broken = 5; }
static void port_bad(struct xs_ho_ring *e) { e->pport = 70000; }
static void addr_long(struct xs_ho_ring *e) { e->paddr_len = XS_HO_ADDR_MAX + 1; }
static void opts_many(struct xs_ho_ring *e) { e->nopts = XS_HO_MAX_OPTS + 1; }

START_TEST(entries)
{
	spoiled(0, order_big, "order 10");
	spoiled(1, ndata_lie, "data refs");
	spoiled(0, len_lie, "length");
	spoiled(1, len_huge, "length");
	spoiled(0, side_bad, "side 2");
	spoiled(0, peer_bad, "peer domain");
	spoiled(0, family_bad, "address family");
	spoiled(0, server_bad, "server pid");
	spoiled(0, id_open, "not terminated");
	spoiled(0, id_bad, "not hex");
	spoiled(0, nfds_zero, "0 fds");
	spoiled(0, nfds_big, "17 fds");
	spoiled(0, fd_negative, "bad fd -5");
	spoiled(1, fd_huge, "bad fd");
	spoiled(0, fd_twice, "twice");
	spoiled(0, fd_is_bfd, "both the application's and ours");
	spoiled(0, fd_is_arena, "is the arena");
	spoiled(0, bfd_bad, "missing or bad fd");
	spoiled(0, ev_missing, "missing or bad fd");
	spoiled(0, ev_extra_bad, "bad channel fd");
	spoiled(0, ev_is_bfd, "named twice");
	spoiled(1, share_on_b, "side B");
	spoiled(0, share_missing, "side A");
	spoiled(0, off_unaligned, "arena offsets");
	spoiled(0, off_same, "arena offsets");
	spoiled(0, flags_bad, "unknown flags");
	spoiled(0, broken_bad, "bad error");
	spoiled(0, port_bad, "bad port");
	spoiled(0, addr_long, "address too long");
	spoiled(0, opts_many, "options");
}
END_TEST

/* Two rings naming one fd: a forged record could make us adopt one file twice. */
START_TEST(fds_shared_between_rings)
{
	struct rec r = make(2, 0);

	ring_at(&r, 1, 0)->fds[0] = ring_at(&r, 0, 0)->fds[1];
	refused(&r, -EINVAL, "rings 0 and 1 both name fd 1");
	r = make(2, 0);
	ring_at(&r, 1, 0)->bfd = ring_at(&r, 0, 0)->ev_fd[0];
	refused(&r, -EINVAL, "both name fd");
}
END_TEST

/* Every truncation of a valid record is refused, none read past the end. */
START_TEST(every_truncation)
{
	struct rec r = make(2, 2);
	size_t len;

	for (len = 0; len < r.len; len++) {
		unsigned char *copy = malloc(len ? len : 1);

		memcpy(copy, r.buf, len);
		if (len >= sizeof(struct xs_ho_header))
			((struct xs_ho_header *)copy)->size = (uint32_t)len;
		ck_assert_int_ne(xs_ho_check(copy, len, NULL, 0), 0);
		free(copy);
	}
	free(r.buf);
}
END_TEST

/* Random bytes after a valid header: never accepted by accident, never a crash. */
START_TEST(random_garbage)
{
	unsigned int seed = 7, i, j;

	for (i = 0; i < 2000; i++) {
		struct rec r = make(1 + i % 3, i % 4);

		for (j = 0; j < 8; j++) {
			size_t at = sizeof(struct xs_ho_header) + (size_t)rand_r(&seed) %
				    (r.len - sizeof(struct xs_ho_header));

			r.buf[at] ^= (unsigned char)(1 + rand_r(&seed) % 255);
		}
		/* (A flip in a field nobody checks -- a ref, a counter -- may pass.) */
		(void)xs_ho_check(r.buf, r.len, NULL, 0);
		free(r.buf);
	}
}
END_TEST

static Suite *handover_suite(void)
{
	Suite *s = suite_create("handover");
	TCase *tc = tcase_create("record");

	tcase_add_test(tc, valid_records);
	tcase_add_test(tc, header);
	tcase_add_test(tc, entries);
	tcase_add_test(tc, fds_shared_between_rings);
	tcase_add_test(tc, every_truncation);
	tcase_add_test(tc, random_garbage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(handover_suite());
}
