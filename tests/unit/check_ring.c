/* SPDX-License-Identifier: MIT */
/*
 * Single-process tests of the data ring: one interface page and one data
 * area (fenced by PROT_NONE guard pages, so any access outside the ring
 * faults), two endpoints attached as side A and side B.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/mman.h>

#include "testutil.h"
#include "common/compiler.h"
#include "ring/ring.h"

#define PG XSOCK_RING_PAGE_SIZE

struct pair {
	uint8_t *intf_map;		/* guard | intf | guard */
	uint8_t *data_map;		/* guard | data | guard */
	size_t data_map_len;
	void *intf;
	uint8_t *data;
	unsigned int order;
	uint32_t size;
	struct xsr a, b;
	int kicks_a, kicks_b;		/* kick callbacks made BY a / b */
};

static int count_kick(void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static void *guarded(size_t len, size_t *map_len)
{
	uint8_t *m;

	*map_len = len + 2 * PG;
	m = mmap(NULL, *map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(mprotect(m, PG, PROT_NONE), 0);
	ck_assert_int_eq(mprotect(m + PG + len, PG, PROT_NONE), 0);
	return m;
}

static void pair_init(struct pair *p, unsigned int order)
{
	uint32_t refs[1u << XSOCK_RING_MAX_ORDER];
	uint32_t got[1u << XSOCK_RING_MAX_ORDER];
	unsigned int i, o = 99;
	size_t ml;

	memset(p, 0, sizeof(*p));
	p->order = order;
	p->intf_map = guarded(PG, &ml);
	p->intf = p->intf_map + PG;
	p->data_map = guarded((size_t)PG << order, &p->data_map_len);
	p->data = p->data_map + PG;
	for (i = 0; i < (1u << order); i++)
		refs[i] = 1000 + i;
	ck_assert_int_eq(xsr_format(p->intf, order, refs), 0);
	ck_assert_int_eq(xsr_read_layout(p->intf, XSOCK_RING_MAX_ORDER, &o, got), 0);
	ck_assert_uint_eq(o, order);
	ck_assert_int_eq(memcmp(refs, got, sizeof(uint32_t) << order), 0);
	ck_assert_int_eq(xsr_attach(&p->a, XSR_SIDE_A, p->intf, p->data, order,
				    count_kick, &p->kicks_a), 0);
	/* A learns that B attached from B's flag, not from an event alone. */
	ck_assert(!xsr_peer_attached(&p->a));
	ck_assert_int_eq(xsr_attach(&p->b, XSR_SIDE_B, p->intf, p->data, order,
				    count_kick, &p->kicks_b), 0);
	ck_assert(xsr_peer_attached(&p->a));
	ck_assert_uint_eq(XSOCK_INTF_EXT(p->intf)->b_attached, 1);
	p->size = xsr_half_size(order);
	ck_assert_uint_eq(p->a.size, p->size);
}

static void pair_fini(struct pair *p)
{
	xsr_detach(&p->a);
	xsr_detach(&p->b);
	munmap(p->intf_map, 3 * PG);
	munmap(p->data_map, p->data_map_len);
}

static struct xsock_data_intf *I(struct pair *p)
{
	return p->intf;
}

static struct xsock_intf_ext *E(struct pair *p)
{
	return XSOCK_INTF_EXT(p->intf);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t xorshift(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FNV_INIT 0xcbf29ce484222325ull

static void fill(uint8_t *buf, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* ---- layout ------------------------------------------------------------------ */

/*
 * Side B's pages mapped again elsewhere (a forked child: xsp_map_again()):
 * after xsr_rebase() the stream carries on from where it was, in both
 * directions, and the old addresses are never touched again.
 */
/*
 * A dead peer domain told to one holder of an endpoint (the process that
 * serves it) is seen by every holder: they share struct xsr_own (here: a
 * second view adopting the same one, as a forked child's copy does).
 */
START_TEST(test_peer_gone_seen_by_every_holder)
{
	unsigned int order = 1;
	size_t dlen = (size_t)PG << order;
	uint32_t refs[2] = { 1, 2 };
	uint8_t out[1000], in[1000];
	struct xsr a, b, b2;
	uint8_t *v;
	int k = 0;

	v = mmap(NULL, PG + dlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(v, MAP_FAILED);
	ck_assert_int_eq(xsr_format(v, order, refs), 0);
	ck_assert_int_eq(xsr_attach(&a, XSR_SIDE_A, v, v + PG, order, count_kick, &k), 0);
	ck_assert_int_eq(xsr_attach(&b, XSR_SIDE_B, v, v + PG, order, count_kick, &k), 0);
	ck_assert_int_eq(xsr_adopt(&b2, XSR_SIDE_B, v, v + PG, order, count_kick, &k, b.own), 0);
	fill(out, sizeof(out), 9);
	ck_assert_int_eq(xsr_write(&a, out, 1000), 1000);
	ck_assert_int_eq(xsr_read(&b2, in, 10, XSR_PEEK), 10);	/* not gone yet */
	xsr_peer_gone(&b);
	/* The other holder: what arrived, then end of stream; writes EPIPE. */
	ck_assert_int_eq(xsr_write(&b2, out, 10), -EPIPE);
	ck_assert_int_eq(xsr_read(&b2, in, sizeof(in), 0), 1000);
	ck_assert_int_eq(memcmp(in, out, 1000), 0);
	ck_assert_int_eq(xsr_read(&b2, in, sizeof(in), 0), 0);
	ck_assert(xsr_poll(&b2) & XSR_HUP);
	xsr_detach(&b2);
	xsr_detach(&a);
	xsr_detach(&b);
	munmap(v, PG + dlen);
}
END_TEST

START_TEST(test_rebase_keeps_stream)
{
	unsigned int order = 1;
	size_t dlen = (size_t)PG << order;
	uint32_t refs[2] = { 1, 2 };
	uint8_t out[3000], in[3000];
	uint8_t *v1, *v2, *v3;
	struct xsr a, b;
	int fd = memfd_create("ring", 0);
	int k = 0;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)(PG + dlen)), 0);
	v1 = mmap(NULL, PG + dlen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	v2 = mmap(NULL, PG + dlen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(v1, MAP_FAILED);
	ck_assert_ptr_ne(v2, MAP_FAILED);
	ck_assert_int_eq(xsr_format(v1, order, refs), 0);
	ck_assert_int_eq(xsr_attach(&a, XSR_SIDE_A, v1, v1 + PG, order, count_kick, &k), 0);
	ck_assert_int_eq(xsr_attach(&b, XSR_SIDE_B, v1, v1 + PG, order, count_kick, &k), 0);
	fill(out, sizeof(out), 5);
	ck_assert_int_eq(xsr_write(&a, out, 1000), 1000);
	ck_assert_int_eq(xsr_read(&b, in, 400, 0), 400);
	ck_assert_int_eq(xsr_write(&b, out, 100), 100);
	/* B moves; the old view goes away (a fault if still used). */
	xsr_rebase(&b, v2, v2 + PG);
	v3 = mmap(NULL, PG + dlen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(v3, MAP_FAILED);
	ck_assert_int_eq(munmap(v1, PG + dlen), 0);	/* v3 is elsewhere */
	v1 = v3;
	xsr_rebase(&a, v1, v1 + PG);	/* (A's view was unmapped too) */
	ck_assert_int_eq(xsr_read(&b, in + 400, 600, 0), 600);
	ck_assert_int_eq(memcmp(in, out, 1000), 0);
	ck_assert_int_eq(xsr_write(&a, out + 1000, 2000), 2000);
	ck_assert_int_eq(xsr_read(&b, in + 1000, 2000, 0), 2000);
	ck_assert_int_eq(memcmp(in, out, 3000), 0);
	ck_assert_int_eq(xsr_write(&b, out + 100, 50), 50);
	ck_assert_int_eq(xsr_read(&a, in, 150, 0), 150);
	ck_assert_int_eq(memcmp(in, out, 150), 0);
	xsr_detach(&a);
	xsr_detach(&b);
	munmap(v1, PG + dlen);
	munmap(v2, PG + dlen);
	close(fd);
}
END_TEST

START_TEST(test_format_layout)
{
	struct pair p;

	pair_init(&p, 3);
	ck_assert_uint_eq(I(&p)->ring_order, 3);
	ck_assert_uint_eq(I(&p)->ref[7], 1007);
	ck_assert_uint_eq(E(&p)->magic, XSOCK_INTF_MAGIC);
	ck_assert_uint_eq(E(&p)->version, 1);
	ck_assert_uint_eq(E(&p)->a_alive, 1);
	ck_assert_uint_eq(E(&p)->b_alive, 1);
	ck_assert_uint_eq(E(&p)->a_closed, 0);
	ck_assert_uint_eq(p.size, 4 * PG);
	/* A produces into out (second half), B into in (first half). */
	ck_assert_ptr_eq(p.a.tx, p.data + p.size);
	ck_assert_ptr_eq(p.b.tx, p.data);
	ck_assert_int_eq(xsr_format(p.intf, XSOCK_RING_MAX_ORDER + 1, NULL), -EINVAL);
	pair_fini(&p);
}
END_TEST

START_TEST(test_layout_bad_order)
{
	struct pair p;
	unsigned int o = 77;
	uint32_t refs[1u << XSOCK_RING_MAX_ORDER];

	pair_init(&p, 2);
	ck_assert_int_eq(xsr_read_layout(p.intf, 1, &o, refs), -EPROTO);
	ck_assert_uint_eq(o, 77);
	I(&p)->ring_order = XSOCK_RING_MAX_ORDER + 1;
	ck_assert_int_eq(xsr_read_layout(p.intf, 31, &o, refs), -EPROTO);
	I(&p)->ring_order = 0xffffffffu;
	ck_assert_int_eq(xsr_read_layout(p.intf, 31, &o, refs), -EPROTO);
	/* An attached endpoint uses its trusted copy: the shared field is ignored. */
	ck_assert_int_eq(xsr_write(&p.a, "abc", 3), 3);
	ck_assert_int_eq(xsr_read(&p.b, (char[4]){ 0 }, 4, 0), 3);
	ck_assert_uint_eq(p.b.size, xsr_half_size(2));
	ck_assert_int_eq(xsr_attach(&p.a, XSR_SIDE_A, p.intf, p.data, XSOCK_RING_MAX_ORDER + 1,
				    NULL, NULL), -EINVAL);
	pair_fini(&p);
}
END_TEST

START_TEST(test_bad_magic)
{
	struct pair p;
	struct xsr c;
	unsigned int o;
	char buf[8];

	pair_init(&p, 0);
	E(&p)->magic = 0xdeadbeef;
	ck_assert_int_eq(xsr_read_layout(p.intf, XSOCK_RING_MAX_ORDER, &o, NULL), -EPROTO);
	E(&p)->magic = XSOCK_INTF_MAGIC;
	E(&p)->version = 2;
	ck_assert_int_eq(xsr_read_layout(p.intf, XSOCK_RING_MAX_ORDER, &o, NULL), -EPROTO);
	E(&p)->version = 1;
	E(&p)->magic = 0;
	ck_assert_int_eq(xsr_attach(&c, XSR_SIDE_B, p.intf, p.data, 0, NULL, NULL), 0);
	ck_assert_int_eq(xsr_read(&c, buf, sizeof(buf), 0), -EPROTO);
	ck_assert_int_eq(xsr_read(&c, buf, sizeof(buf), 0), -ECONNRESET);
	ck_assert_int_eq(xsr_write(&c, buf, sizeof(buf)), -ECONNRESET);
	ck_assert_uint_ne(xsr_poll(&c) & XSR_ERR, 0);
	xsr_detach(&c);
	xsr_detach(&c);		/* idempotent */
	pair_fini(&p);
}
END_TEST

START_TEST(test_attach_einval)
{
	struct pair p;
	struct xsr c;

	pair_init(&p, 0);
	ck_assert_int_eq(xsr_attach(&c, XSR_SIDE_A, NULL, p.data, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(xsr_attach(&c, XSR_SIDE_A, p.intf, NULL, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(xsr_attach(&c, (enum xsr_side)7, p.intf, p.data, 0, NULL, NULL),
			 -EINVAL);
	pair_fini(&p);
}
END_TEST

/* ---- basic data path ----------------------------------------------------------------- */

START_TEST(test_empty)
{
	struct pair p;
	char buf[16];

	pair_init(&p, 0);
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), 0), -EAGAIN);
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), -EAGAIN);
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), XSR_PEEK), -EAGAIN);
	ck_assert_int_eq(xsr_rx_ready(&p.a), 0);
	ck_assert_int_eq(xsr_tx_space(&p.a), p.size);
	ck_assert_uint_eq(xsr_poll(&p.a), XSR_WRITABLE);
	ck_assert_uint_eq(xsr_poll(&p.b), XSR_WRITABLE);
	/* len 0 */
	ck_assert_int_eq(xsr_read(&p.a, buf, 0, 0), 0);
	ck_assert_int_eq(xsr_write(&p.a, buf, 0), 0);
	ck_assert_int_eq(xsr_writev(&p.a, NULL, 0), 0);
	ck_assert_int_eq(xsr_writev(&p.a, NULL, -1), -EINVAL);
	ck_assert_uint_eq(I(&p)->out_prod, 0);
	pair_fini(&p);
}
END_TEST

START_TEST(test_fill_exactly_full)
{
	struct pair p;
	uint8_t *src, *dst;

	pair_init(&p, 1);
	src = malloc(p.size);
	dst = malloc(p.size + 10);
	fill(src, p.size, 3);
	ck_assert_int_eq(xsr_write(&p.a, src, p.size - 1), p.size - 1);
	ck_assert_int_eq(xsr_tx_space(&p.a), 1);
	ck_assert_int_eq(xsr_write(&p.a, src + p.size - 1, 1), 1);
	ck_assert_int_eq(xsr_tx_space(&p.a), 0);
	ck_assert_int_eq(xsr_write(&p.a, src, 1), -EAGAIN);
	ck_assert_uint_eq(xsr_poll(&p.a) & XSR_WRITABLE, 0);
	ck_assert_uint_eq(xsr_poll(&p.b) & XSR_READABLE, XSR_READABLE);
	ck_assert_int_eq(xsr_rx_ready(&p.b), p.size);
	ck_assert_int_eq(xsr_read(&p.b, dst, p.size + 10, 0), p.size);
	ck_assert_int_eq(memcmp(src, dst, p.size), 0);
	ck_assert_int_eq(xsr_read(&p.b, dst, 1, 0), -EAGAIN);
	ck_assert_int_eq(xsr_tx_space(&p.a), p.size);
	ck_assert_uint_eq(p.a.bytes_tx, p.size);
	ck_assert_uint_eq(p.b.bytes_rx, p.size);
	free(src);
	free(dst);
	pair_fini(&p);
}
END_TEST

START_TEST(test_partial_write)
{
	struct pair p;
	uint8_t *src, *dst;

	pair_init(&p, 0);
	src = malloc(3 * p.size);
	dst = malloc(3 * p.size);
	fill(src, 3 * p.size, 9);
	ck_assert_int_eq(xsr_write(&p.b, src, 3 * p.size), p.size);
	ck_assert_int_eq(xsr_read(&p.a, dst, 100, 0), 100);
	ck_assert_int_eq(xsr_write(&p.b, src + p.size, 3 * p.size), 100);
	ck_assert_int_eq(xsr_read(&p.a, dst + 100, 3 * p.size, 0), p.size);
	ck_assert_int_eq(memcmp(src, dst, p.size + 100), 0);
	free(src);
	free(dst);
	pair_fini(&p);
}
END_TEST

START_TEST(test_wrap_around)
{
	struct pair p;
	uint8_t src[4096], dst[4096];
	uint32_t q;

	pair_init(&p, 0);
	q = p.size / 4;
	fill(src, sizeof(src), 1);
	ck_assert_int_eq(xsr_write(&p.a, src, 3 * q), 3 * q);
	ck_assert_int_eq(xsr_read(&p.b, dst, 3 * q, 0), 3 * q);
	/* The next 2q bytes straddle the end of the half. */
	ck_assert_int_eq(xsr_write(&p.a, src + 100, 2 * q), 2 * q);
	ck_assert_int_eq(memcmp(p.a.tx + 3 * q, src + 100, q), 0);
	ck_assert_int_eq(memcmp(p.a.tx, src + 100 + q, q), 0);
	ck_assert_int_eq(xsr_read(&p.b, dst, 2 * q, 0), 2 * q);
	ck_assert_int_eq(memcmp(dst, src + 100, 2 * q), 0);
	ck_assert_uint_eq(I(&p)->out_prod, 5 * q);
	ck_assert_uint_eq(I(&p)->out_cons, 5 * q);
	pair_fini(&p);
}
END_TEST

/* Every transfer length 1..3*size, random chunking both ways, hash compared. */
START_TEST(test_all_sizes_random_chunks)
{
	struct pair p;
	uint8_t *src, *dst;
	uint32_t len;
	uint64_t total = 0;

	pair_init(&p, 0);
	src = malloc(3 * p.size + 1);
	dst = malloc(3 * p.size + 1);
	for (len = 1; len <= 3 * p.size + 1; len++) {
		uint32_t w = 0, rd = 0;
		uint64_t hs, hd = FNV_INIT;

		for (uint32_t i = 0; i < len; i++)
			src[i] = (uint8_t)xorshift();
		hs = fnv1a(FNV_INIT, src, len);
		while (rd < len) {
			if (w < len && (xorshift() & 1)) {
				uint32_t c = 1 + xorshift() % (len - w);
				ssize_t n = xsr_write(&p.a, src + w, c);

				if (n == -EAGAIN)
					continue;
				ck_assert_int_gt(n, 0);
				ck_assert_int_le(n, c);
				w += n;
			} else {
				uint32_t c = 1 + xorshift() % (p.size + 16);
				ssize_t n = xsr_read(&p.b, dst, c, 0);

				if (n == -EAGAIN) {
					ck_assert_uint_eq(w, rd);
					continue;
				}
				ck_assert_int_gt(n, 0);
				ck_assert_int_le(n, c);
				hd = fnv1a(hd, dst, n);
				rd += n;
			}
		}
		ck_assert_uint_eq(hs, hd);
		total += len;
	}
	ck_assert_uint_eq(p.a.bytes_tx, total);
	ck_assert_uint_eq(p.b.bytes_rx, total);
	ck_assert_uint_eq(I(&p)->out_prod, (uint32_t)total);
	free(src);
	free(dst);
	pair_fini(&p);
}
END_TEST

/* Free-running 32-bit indexes wrap past 2^32 without harm. */
START_TEST(test_index_wrap_32bit)
{
	struct pair p;
	uint8_t src[3000], dst[3000];
	uint64_t hs = FNV_INIT, hd = FNV_INIT;
	int i;

	pair_init(&p, 0);
	/* Start both ends just below 2^32 (white box: set both views). */
	p.a.own->tx_prod = p.a.own->tx_cons_seen = 0xfffff000u;
	p.b.own->rx_cons = p.b.own->rx_prod_seen = 0xfffff000u;
	I(&p)->out_prod = I(&p)->out_cons = 0xfffff000u;
	for (i = 0; i < 20; i++) {
		uint32_t c = 1 + xorshift() % sizeof(src);
		ssize_t n;

		fill(src, c, (uint8_t)i);
		n = xsr_write(&p.a, src, c);
		ck_assert_int_gt(n, 0);
		hs = fnv1a(hs, src, n);
		ck_assert_int_eq(xsr_read(&p.b, dst, sizeof(dst), 0), n);
		hd = fnv1a(hd, dst, n);
	}
	ck_assert_uint_eq(hs, hd);
	ck_assert_uint_lt(I(&p)->out_prod, 0x10000u);	/* it did wrap */
	pair_fini(&p);
}
END_TEST

START_TEST(test_peek)
{
	struct pair p;
	char buf[32];

	pair_init(&p, 0);
	ck_assert_int_eq(xsr_write(&p.b, "hello world", 11), 11);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(xsr_read(&p.a, buf, 5, XSR_PEEK), 5);
	ck_assert_str_eq(buf, "hello");
	ck_assert_uint_eq(I(&p)->in_cons, 0);
	ck_assert_uint_eq(p.a.bytes_rx, 0);
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), XSR_PEEK), 11);
	ck_assert_int_eq(xsr_rx_ready(&p.a), 11);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), 0), 11);
	ck_assert_str_eq(buf, "hello world");
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), XSR_PEEK), -EAGAIN);
	pair_fini(&p);
}
END_TEST

START_TEST(test_readv_writev)
{
	struct pair p;
	uint8_t src[3000], dst[3000];
	struct iovec wv[4], rv[3];
	int round;

	pair_init(&p, 0);
	for (round = 0; round < 5; round++) {
		fill(src, sizeof(src), (uint8_t)round);
		memset(dst, 0, sizeof(dst));
		wv[0] = (struct iovec){ src, 10 };
		wv[1] = (struct iovec){ src + 10, 0 };
		wv[2] = (struct iovec){ src + 10, 700 };
		wv[3] = (struct iovec){ src + 710, 2290 };
		/* 3000 > size: a short count of exactly the free space. */
		ck_assert_int_eq(xsr_writev(&p.a, wv, 4), p.size);
		rv[0] = (struct iovec){ dst, 1 };
		rv[1] = (struct iovec){ dst + 1, 1500 };
		rv[2] = (struct iovec){ dst + 1501, 1499 };
		ck_assert_int_eq(xsr_readv(&p.b, rv, 3, XSR_PEEK), p.size);
		ck_assert_int_eq(memcmp(src, dst, p.size), 0);
		memset(dst, 0, sizeof(dst));
		ck_assert_int_eq(xsr_readv(&p.b, rv, 3, 0), p.size);
		ck_assert_int_eq(memcmp(src, dst, p.size), 0);
		/* Shift the start so the next round wraps. */
		ck_assert_int_eq(xsr_write(&p.a, src, 333), 333);
		ck_assert_int_eq(xsr_read(&p.b, dst, 333, 0), 333);
	}
	pair_fini(&p);
}
END_TEST

/* ---- end of stream, close, death, errors ----------------------------------------------- */

START_TEST(test_shutdown_eof_after_drain)
{
	struct pair p;
	char buf[64];

	pair_init(&p, 0);
	ck_assert_int_eq(xsr_write(&p.a, "0123456789", 10), 10);
	ck_assert_int_eq(xsr_shutdown_tx(&p.a), 0);
	ck_assert_int_eq(I(&p)->out_error, ENOTCONN);
	ck_assert_int_eq(I(&p)->in_error, 0);
	ck_assert_int_eq(p.a.kicks, 1);
	ck_assert_int_eq(xsr_shutdown_tx(&p.a), 0);	/* idempotent */
	ck_assert_int_eq(p.a.kicks, 1);
	ck_assert_int_eq(xsr_write(&p.a, "x", 1), -EPIPE);
	ck_assert_uint_eq(xsr_poll(&p.b) & (XSR_READABLE | XSR_RDHUP | XSR_HUP),
			  XSR_READABLE | XSR_RDHUP);
	ck_assert_int_eq(xsr_read(&p.b, buf, 4, 0), 4);
	ck_assert_int_eq(xsr_read(&p.b, buf + 4, sizeof(buf), 0), 6);
	ck_assert_int_eq(memcmp(buf, "0123456789", 10), 0);
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), 0);
	/* Half-close: the other direction still works. */
	ck_assert_int_eq(xsr_write(&p.b, "back", 4), 4);
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), 0), 4);
	ck_assert_int_eq(xsr_shutdown_tx(&p.b), 0);
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), 0), 0);
	pair_fini(&p);
}
END_TEST

/*
 * xsr_poll_for(): only the bits asked for, and the reader's cached view
 * answers "readable" without the shared prod -- which the test moves
 * behind the reader's back to tell the views apart.
 */
START_TEST(test_poll_for)
{
	const unsigned int rw = XSR_READABLE | XSR_WRITABLE;
	struct pair p;
	char buf[64];
	uint32_t prod;

	pair_init(&p, 0);
	/* Writability only when asked; readability of an empty ring. */
	ck_assert_uint_eq(xsr_poll_for(&p.b, XSR_READABLE), 0);
	ck_assert_uint_eq(xsr_poll_for(&p.b, rw), XSR_WRITABLE);
	ck_assert_uint_eq(xsr_poll_for(&p.b, 0), 0);
	/* Written, not yet seen by B's reader: the shared prod says so. */
	ck_assert_int_eq(xsr_write(&p.a, "0123456789", 10), 10);
	ck_assert_uint_eq(xsr_poll_for(&p.b, XSR_READABLE), XSR_READABLE);
	/* B reads 4 (its cache now says 6 more); the shared prod is then
	 * pulled back to B's cons: the cache still says readable, and the
	 * read hands out the cached bytes. */
	ck_assert_int_eq(xsr_read(&p.b, buf, 4, 0), 4);
	prod = I(&p)->out_prod;
	I(&p)->out_prod = I(&p)->out_cons;
	ck_assert_uint_eq(xsr_poll_for(&p.b, XSR_READABLE), XSR_READABLE);
	I(&p)->out_prod = prod;
	/* End of stream with bytes left: RDHUP when asked, the cache too. */
	ck_assert_int_eq(xsr_shutdown_tx(&p.a), 0);
	ck_assert_uint_eq(xsr_poll_for(&p.b, XSR_READABLE | XSR_RDHUP) &
			  (XSR_READABLE | XSR_RDHUP), XSR_READABLE | XSR_RDHUP);
	ck_assert_uint_eq(xsr_poll_for(&p.b, XSR_READABLE) & XSR_RDHUP, 0);
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), 6);
	ck_assert_int_eq(memcmp(buf, "456789", 6), 0);
	/* Drained: the cache has nothing, the shared view gives EOF. */
	ck_assert_uint_eq(xsr_poll_for(&p.b, XSR_READABLE) & (XSR_READABLE | XSR_RDHUP),
			  XSR_READABLE | XSR_RDHUP);
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), 0);
	/* A peer error with bytes cached: reported by the read (as the
	 * cached read path does), or at once when RDHUP is asked for. */
	pair_fini(&p);
	pair_init(&p, 0);
	ck_assert_int_eq(xsr_write(&p.a, "abcdef", 6), 6);
	ck_assert_int_eq(xsr_read(&p.b, buf, 2, 0), 2);
	I(&p)->out_error = EIO;
	ck_assert_uint_eq(xsr_poll_for(&p.b, XSR_READABLE), XSR_READABLE);
	ck_assert_uint_eq(xsr_poll_for(&p.b, XSR_READABLE | XSR_RDHUP),
			  XSR_READABLE | XSR_WRITABLE | XSR_ERR);
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), -ECONNRESET);
	pair_fini(&p);
}
END_TEST

/*
 * Issue 19, attack 1: a peer that scribbles on the indexes we publish
 * (our consumer index := its producer index - 1, our producer index :=
 * its consumer index) misleads no observer of ours: readiness comes from
 * our own indexes, so "readable" / "writable" never meets -EAGAIN.
 */
START_TEST(test_poll_own_indexes)
{
	struct pair p;
	char buf[64];
	unsigned int i;

	pair_init(&p, 0);
	/* Empty ring, B's published cons one byte behind A's prod. */
	for (i = 0; i < 3; i++) {
		XS_WRITE_ONCE(I(&p)->out_cons, I(&p)->out_prod - 1);
		ck_assert_uint_eq(xsr_poll(&p.b) & XSR_READABLE, 0);
		ck_assert_uint_eq(xsr_poll_for(&p.b, XSR_READABLE | XSR_RDHUP), 0);
		ck_assert_int_eq(xsr_rx_ready(&p.b), 0);
		ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), -EAGAIN);
		/* Real data after that: readable, and read. */
		ck_assert_int_eq(xsr_write(&p.a, "xy", 2), 2);
		ck_assert_uint_eq(xsr_poll(&p.b) & XSR_READABLE, XSR_READABLE);
		ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), 2);
	}
	/* Full ring, A's published prod pulled back to B's cons. */
	memset(buf, 'z', sizeof(buf));
	while (xsr_write(&p.a, buf, sizeof(buf)) > 0)
		;
	XS_WRITE_ONCE(I(&p)->out_prod, I(&p)->out_cons);
	ck_assert_uint_eq(xsr_poll(&p.a) & XSR_WRITABLE, 0);
	ck_assert_int_eq(xsr_tx_space(&p.a), 0);
	ck_assert_int_eq(xsr_write(&p.a, buf, 1), -EAGAIN);
	pair_fini(&p);
}
END_TEST

START_TEST(test_close_epipe)
{
	struct pair p;
	char buf[16];

	pair_init(&p, 0);
	ck_assert_int_eq(xsr_write(&p.b, "bye", 3), 3);
	ck_assert_int_eq(xsr_write(&p.a, "unread", 6), 6);
	/* A waits for the ring: the close wakes it. */
	E(&p)->a_waiting = 0x80000100u;
	xsr_close(&p.b);
	E(&p)->a_waiting = 0;
	ck_assert_uint_eq(E(&p)->b_closed, 1);
	ck_assert_uint_eq(E(&p)->a_closed, 0);
	ck_assert_int_eq(I(&p)->in_error, ENOTCONN);
	ck_assert_int_eq(p.b.kicks, 1);
	ck_assert_int_eq(xsr_write(&p.a, "x", 1), -EPIPE);
	ck_assert_int_eq(xsr_tx_space(&p.a), -EPIPE);
	ck_assert_uint_eq(xsr_poll(&p.a) & (XSR_HUP | XSR_WRITABLE | XSR_RDHUP),
			  XSR_HUP | XSR_WRITABLE | XSR_RDHUP);
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), 0), 3);
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(xsr_write(&p.b, "x", 1), -EPIPE);
	/* A closes second, B closed and does not wait: no event. */
	xsr_close(&p.a);
	ck_assert_int_eq(p.a.kicks, 0);
	pair_fini(&p);

	/* Nobody waits and the peer is open: no event for a close. */
	pair_init(&p, 0);
	xsr_close(&p.a);
	ck_assert_int_eq(p.a.kicks, 0);
	ck_assert_uint_eq(xsr_poll(&p.b) & XSR_HUP, XSR_HUP);
	pair_fini(&p);
}
END_TEST

START_TEST(test_peer_alive_cleared)
{
	struct pair p;
	char buf[16];

	pair_init(&p, 0);
	ck_assert_int_eq(xsr_write(&p.b, "last words", 10), 10);
	E(&p)->b_alive = 0;	/* the unmap notification of a dying B */
	ck_assert_int_eq(xsr_write(&p.a, "x", 1), -EPIPE);
	ck_assert_uint_eq(xsr_poll(&p.a) & (XSR_HUP | XSR_READABLE), XSR_HUP | XSR_READABLE);
	ck_assert_int_eq(xsr_read(&p.a, buf, 4, 0), 4);
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), 0), 6);
	ck_assert_int_eq(memcmp(buf, " words", 6), 0);
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), 0), 0);
	/* The same from B's point of view when A dies. */
	E(&p)->a_alive = 0;
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(xsr_write(&p.b, "x", 1), -EPIPE);
	pair_fini(&p);
}
END_TEST

START_TEST(test_peer_gone_call)
{
	struct pair p;
	char buf[16];

	pair_init(&p, 0);
	ck_assert_int_eq(xsr_write(&p.a, "abc", 3), 3);
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), 3);
	ck_assert_int_eq(xsr_write(&p.a, "def", 3), 3);
	xsr_peer_gone(&p.b);
	ck_assert_int_eq(xsr_write(&p.b, "x", 1), -EPIPE);
	ck_assert_uint_ne(xsr_poll(&p.b) & XSR_HUP, 0);
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), 3);
	ck_assert_int_eq(memcmp(buf, "def", 3), 0);
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(xsr_rx_ready(&p.b), 0);
	pair_fini(&p);
}
END_TEST

START_TEST(test_peer_error_reset)
{
	struct pair p;
	char buf[16];

	pair_init(&p, 0);
	ck_assert_int_eq(xsr_write(&p.b, "abc", 3), 3);
	XS_WRITE_ONCE(I(&p)->in_error, ECONNRESET);	/* B's producer error */
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), 0), -ECONNRESET);
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), 0), -ECONNRESET);
	ck_assert_int_eq(xsr_write(&p.a, "x", 1), -ECONNRESET);
	ck_assert_uint_ne(xsr_poll(&p.a) & XSR_ERR, 0);
	/* Any odd value (even EAGAIN, which the spec forbids) is a reset too. */
	XS_WRITE_ONCE(I(&p)->out_error, EAGAIN);
	ck_assert_int_eq(xsr_write(&p.a, "x", 1), -ECONNRESET);	/* already broken */
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), -ECONNRESET);
	pair_fini(&p);
}
END_TEST

/* ---- notification ------------------------------------------------------------------ */

START_TEST(test_kick_suppressed)
{
	struct pair p;
	char buf[256];
	int i;

	pair_init(&p, 0);
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(xsr_write(&p.a, buf, 100), 100);
		ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), 100);
		ck_assert_int_eq(xsr_write(&p.b, buf, 10), 10);
		ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), 0), 10);
	}
	ck_assert_uint_eq(p.a.kicks, 0);
	ck_assert_uint_eq(p.b.kicks, 0);
	ck_assert_int_eq(p.kicks_a + p.kicks_b, 0);
	pair_fini(&p);
}
END_TEST

START_TEST(test_kick_when_waiting)
{
	struct pair p;
	char buf[64];

	pair_init(&p, 0);
	/* B waits for data: nothing there, so it may sleep. */
	ck_assert(!xsr_prepare_wait(&p.b, XSR_READABLE));
	ck_assert_uint_ne(E(&p)->b_waiting, 0);
	ck_assert_int_eq(xsr_write(&p.a, "ping", 4), 4);
	ck_assert_uint_eq(p.a.kicks, 1);
	ck_assert_int_eq(p.kicks_a, 1);
	xsr_end_wait(&p.b);
	ck_assert_uint_eq(E(&p)->b_waiting, 0);
	ck_assert_int_eq(xsr_write(&p.a, "ping", 4), 4);
	ck_assert_uint_eq(p.a.kicks, 1);
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), 8);
	ck_assert_uint_eq(p.b.kicks, 0);
	pair_fini(&p);
}
END_TEST

START_TEST(test_kick_writer_waiting_for_space)
{
	struct pair p;
	uint8_t *buf;

	pair_init(&p, 0);
	buf = calloc(1, p.size);
	ck_assert_int_eq(xsr_write(&p.a, buf, p.size), p.size);
	ck_assert(!xsr_prepare_wait(&p.a, XSR_WRITABLE));
	/* One byte freed is not worth a wake-up; half the ring is. */
	ck_assert_int_eq(xsr_read(&p.b, buf, 1, 0), 1);
	ck_assert_uint_eq(p.b.kicks, 0);
	ck_assert_int_eq(xsr_read(&p.b, buf, p.size / 2 - 2, 0), p.size / 2 - 2);
	ck_assert_uint_eq(p.b.kicks, 0);
	ck_assert_int_eq(xsr_read(&p.b, buf, 1, 0), 1);
	ck_assert_uint_eq(p.b.kicks, 1);
	ck_assert_int_eq(p.kicks_b, 1);
	ck_assert(xsr_prepare_wait(&p.a, XSR_WRITABLE));	/* space now */
	xsr_end_wait(&p.a);
	free(buf);
	pair_fini(&p);

	/* A reader asleep for data is not woken by the peer consuming. */
	pair_init(&p, 0);
	ck_assert_int_eq(xsr_write(&p.b, "x", 1), 1);
	ck_assert(!xsr_prepare_wait(&p.b, XSR_READABLE));
	ck_assert_int_eq(xsr_read(&p.a, (char[4]){ 0 }, 4, 0), 1);
	ck_assert_uint_eq(p.a.kicks, 0);
	ck_assert_int_eq(xsr_write(&p.a, "y", 1), 1);
	ck_assert_uint_eq(p.a.kicks, 1);
	ck_assert_int_eq(p.kicks_a, 1);
	xsr_end_wait(&p.b);
	pair_fini(&p);
}
END_TEST

START_TEST(test_kick_foreign_flag)
{
	struct pair p;
	char buf[8];

	pair_init(&p, 0);
	/* A peer storing a plain 1 is woken on every index move. */
	E(&p)->b_waiting = 1;
	ck_assert_int_eq(xsr_write(&p.a, "ab", 2), 2);
	ck_assert_int_eq(xsr_write(&p.b, "cd", 2), 2);
	ck_assert_int_eq(xsr_read(&p.a, buf, sizeof(buf), 0), 2);
	ck_assert_uint_eq(p.a.kicks, 2);
	pair_fini(&p);
}
END_TEST

static void *wait_readable_thread(void *arg)
{
	struct xsr *r = arg;

	return (void *)(intptr_t)xsr_prepare_wait(r, XSR_READABLE);
}

/* The reader and the writer thread of one endpoint sleep at once: the
 * writer waking up must not cancel the reader's request to be woken. */
START_TEST(test_wait_reader_and_writer_threads)
{
	struct pair p;
	pthread_t t;
	void *ret;
	uint8_t *buf;

	pair_init(&p, 0);
	buf = calloc(1, p.size);
	ck_assert_int_eq(xsr_write(&p.a, buf, p.size), p.size);
	ck_assert_int_eq(pthread_create(&t, NULL, wait_readable_thread, &p.a), 0);
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	ck_assert_ptr_null(ret);			/* the reader thread "sleeps" */
	ck_assert(!xsr_prepare_wait(&p.a, XSR_WRITABLE));	/* so does the writer */
	ck_assert_int_eq(xsr_read(&p.b, buf, 10, 0), 10);	/* a little: no kick yet */
	ck_assert_uint_eq(p.b.kicks, 0);
	ck_assert_int_eq(xsr_read(&p.b, buf, p.size / 2, 0), p.size / 2); /* half: kick */
	ck_assert_uint_eq(p.b.kicks, 1);
	xsr_end_wait(&p.a);				/* the writer wakes */
	ck_assert_uint_ne(E(&p)->a_waiting, 0);		/* the reader still waits */
	ck_assert_int_eq(xsr_read(&p.b, buf, 10, 0), 10);
	ck_assert_uint_eq(p.b.kicks, 1);		/* space: not what it waits for */
	ck_assert_int_eq(xsr_write(&p.b, "x", 1), 1);	/* data: kick */
	ck_assert_uint_eq(p.b.kicks, 2);
	free(buf);
	pair_fini(&p);
}
END_TEST

START_TEST(test_prepare_wait_ready)
{
	struct pair p;

	pair_init(&p, 0);
	ck_assert_int_eq(xsr_write(&p.a, "x", 1), 1);
	ck_assert(xsr_prepare_wait(&p.b, XSR_READABLE));
	xsr_end_wait(&p.b);
	ck_assert(xsr_prepare_wait(&p.a, XSR_WRITABLE));
	xsr_end_wait(&p.a);
	ck_assert(!xsr_prepare_wait(&p.a, XSR_READABLE));
	xsr_end_wait(&p.a);
	/* EOF is a reason not to sleep. */
	ck_assert_int_eq(xsr_shutdown_tx(&p.b), 0);
	ck_assert(xsr_prepare_wait(&p.a, XSR_READABLE));
	xsr_end_wait(&p.a);
	ck_assert_uint_eq(E(&p)->a_waiting, 0);
	pair_fini(&p);
}
END_TEST

/* ---- hostile peer ----------------------------------------------------------------- */

static void expect_broken_read(struct xsr *r)
{
	char buf[64];

	ck_assert_int_eq(xsr_read(r, buf, sizeof(buf), 0), -EPROTO);
	ck_assert_int_eq(xsr_read(r, buf, sizeof(buf), 0), -ECONNRESET);
	ck_assert_int_eq(xsr_write(r, buf, sizeof(buf)), -ECONNRESET);
	ck_assert_int_eq(xsr_rx_ready(r), -ECONNRESET);
	ck_assert_uint_ne(xsr_poll(r) & XSR_ERR, 0);
	ck_assert(xsr_prepare_wait(r, XSR_READABLE));
	xsr_end_wait(r);
}

START_TEST(test_hostile_prod_beyond_size)
{
	struct pair p;

	pair_init(&p, 0);
	XS_WRITE_ONCE(I(&p)->out_prod, p.size + 1);
	expect_broken_read(&p.b);
	pair_fini(&p);
}
END_TEST

START_TEST(test_hostile_prod_huge)
{
	struct pair p;

	pair_init(&p, 0);
	XS_WRITE_ONCE(I(&p)->in_prod, 0x80000000u);
	expect_broken_read(&p.a);
	pair_fini(&p);
}
END_TEST

START_TEST(test_hostile_prod_backwards)
{
	struct pair p;
	char buf[8];

	pair_init(&p, 0);
	ck_assert_int_eq(xsr_write(&p.a, "abcdef", 6), 6);
	ck_assert_int_eq(xsr_read(&p.b, buf, 2, 0), 2);
	XS_WRITE_ONCE(I(&p)->out_prod, 4);	/* still >= cons, but behind what B saw */
	expect_broken_read(&p.b);
	pair_fini(&p);
}
END_TEST

START_TEST(test_hostile_prod_behind_cons)
{
	struct pair p;
	char buf[8];

	pair_init(&p, 0);
	ck_assert_int_eq(xsr_write(&p.a, "abcdef", 6), 6);
	ck_assert_int_eq(xsr_read(&p.b, buf, 6, 0), 6);
	XS_WRITE_ONCE(I(&p)->out_prod, 3);
	expect_broken_read(&p.b);
	pair_fini(&p);
}
END_TEST

START_TEST(test_hostile_cons_beyond_prod)
{
	struct pair p;
	uint8_t *buf;

	pair_init(&p, 0);
	buf = calloc(1, p.size);
	ck_assert_int_eq(xsr_write(&p.a, buf, p.size), p.size);
	XS_WRITE_ONCE(I(&p)->out_cons, p.size + 5);
	ck_assert_int_eq(xsr_write(&p.a, buf, 1), -EPROTO);
	ck_assert_int_eq(xsr_write(&p.a, buf, 1), -ECONNRESET);
	ck_assert_int_eq(xsr_read(&p.a, buf, 1, 0), -ECONNRESET);
	ck_assert_int_eq(xsr_tx_space(&p.a), -ECONNRESET);
	free(buf);
	pair_fini(&p);
}
END_TEST

START_TEST(test_hostile_cons_backwards)
{
	struct pair p;
	uint8_t *buf;

	pair_init(&p, 0);
	buf = calloc(1, p.size);
	ck_assert_int_eq(xsr_write(&p.a, buf, p.size), p.size);
	ck_assert_int_eq(xsr_read(&p.b, buf, 100, 0), 100);
	ck_assert_int_eq(xsr_tx_space(&p.a), 100);
	/* The writer takes note of cons = 100 ... */
	ck_assert_int_eq(xsr_write(&p.a, buf, 10), 10);
	XS_WRITE_ONCE(I(&p)->out_cons, 50);
	/* ... so when it next looks, the step back to 50 is corruption. (The
	 * observers only see a window, not a history.) */
	ck_assert_int_eq(xsr_write(&p.a, buf, 200), -EPROTO);
	ck_assert_int_eq(xsr_write(&p.a, buf, 1), -ECONNRESET);
	ck_assert_int_eq(xsr_tx_space(&p.a), -ECONNRESET);
	free(buf);
	pair_fini(&p);
}
END_TEST

START_TEST(test_hostile_detected_by_poll)
{
	struct pair p;
	char buf[8];

	pair_init(&p, 0);
	XS_WRITE_ONCE(I(&p)->out_prod, 0xfffffff0u);
	ck_assert_uint_eq(xsr_poll(&p.b), XSR_READABLE | XSR_WRITABLE | XSR_ERR);
	/* The first operation still reports -EPROTO. */
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), -EPROTO);
	ck_assert_int_eq(xsr_read(&p.b, buf, sizeof(buf), 0), -ECONNRESET);
	pair_fini(&p);
}
END_TEST

/* Random garbage in every shared field between operations: never crash
 * (guard pages), never return more than asked, errors are sticky. */
START_TEST(test_hostile_random_fields)
{
	struct pair p;
	uint8_t buf[5000];
	int round, i;

	for (round = 0; round < 200; round++) {
		pair_init(&p, round % 3);
		for (i = 0; i < 50; i++) {
			uint64_t x = xorshift();
			uint32_t len = (uint32_t)(x >> 40) % sizeof(buf);
			ssize_t n;

			switch (x % 11) {
			case 0: XS_WRITE_ONCE(I(&p)->out_prod, (uint32_t)xorshift()); break;
			case 1: XS_WRITE_ONCE(I(&p)->out_cons, (uint32_t)xorshift()); break;
			case 2: XS_WRITE_ONCE(I(&p)->in_prod, (uint32_t)(x >> 8) % 64); break;
			case 3: XS_WRITE_ONCE(I(&p)->in_error, (int32_t)(x >> 8) % 3 ? 0 : ENOTCONN);
				break;
			case 4: XS_WRITE_ONCE(I(&p)->ring_order, (uint32_t)xorshift()); break;
			case 5: E(&p)->a_alive = (uint8_t)(x >> 9) & 1; break;
			default: break;
			}
			if (x & 0x100) {
				n = xsr_write(&p.b, buf, len);
				ck_assert(n == -EAGAIN || n == -EPIPE || n == -EPROTO ||
					  n == -ECONNRESET || (n >= 0 && n <= len));
			} else {
				n = xsr_read(&p.b, buf, len, (x & 0x200) ? XSR_PEEK : 0);
				ck_assert(n == -EAGAIN || n == -EPROTO || n == -ECONNRESET ||
					  (n >= 0 && n <= len && n <= p.size));
			}
			if (n == -EPROTO || n == -ECONNRESET) {
				ck_assert_int_eq(xsr_read(&p.b, buf, 1, 0), -ECONNRESET);
				break;
			}
			(void)xsr_poll(&p.b);
		}
		pair_fini(&p);
	}
}
END_TEST


/* ---- reuse ---------------------------------------------------------------------- */

/* Close both ends of use @use and park them (A first, as parking requires). */
static void park_both(struct pair *p, uint32_t use)
{
	xsr_close(&p->a);
	/* A waits for B's close. */
	ck_assert_int_eq(xsr_park(&p->a, use), 0);
	xsr_close(&p->b);
	/* B waits for A's park. */
	ck_assert_int_eq(xsr_park(&p->b, use), 0);
	ck_assert_int_eq(xsr_park(&p->a, use), 1);
	ck_assert_uint_eq(XSOCK_INTF_EXT(p->intf)->a_parked, use + 1);
	ck_assert_int_eq(xsr_park(&p->b, use), 1);
}

START_TEST(test_reuse_cycles)
{
	struct pair p;
	uint8_t buf[3000], got[3000];
	uint32_t use;
	uint16_t sport = 0;

	pair_init(&p, 1);
	for (use = 0; use < 50; use++) {
		size_t i, la = 100 + use * 37 % 2000, lb = 1 + use * 53 % 2500;

		if (use > 0) {
			/* A sees nothing until B opens the use. */
			ck_assert_int_eq(xsr_peer_opened(&p.a, use, &sport), 0);
			ck_assert_int_eq(xsr_reopen(&p.b, use, (uint16_t)(40000 + use)), 0);
			/* B may write before A takes the use up, as a TCP client
			 * writes before accept(). */
			memset(buf, 'b' + (int)use % 20, lb);
			ck_assert_int_eq(xsr_write(&p.b, buf, lb), (ssize_t)lb);
			ck_assert_int_eq(xsr_peer_opened(&p.a, use, &sport), 1);
			ck_assert_uint_eq(sport, 40000 + use);
			ck_assert_int_eq(xsr_reaccept(&p.a), 0);
		} else {
			memset(buf, 'b', lb);
			ck_assert_int_eq(xsr_write(&p.b, buf, lb), (ssize_t)lb);
		}
		/* Only this use's bytes arrive, both ways. */
		ck_assert_int_eq(xsr_read(&p.a, got, sizeof(got), 0), (ssize_t)lb);
		for (i = 0; i < lb; i++)
			ck_assert_uint_eq(got[i], (uint8_t)('b' + (use ? use % 20 : 0)));
		memset(buf, 'A' + (int)use % 20, la);
		ck_assert_int_eq(xsr_write(&p.a, buf, la), (ssize_t)la);
		/* Every other use leaves unread data behind: it is dropped. */
		if (use % 2 == 0) {
			ck_assert_int_eq(xsr_read(&p.b, got, sizeof(got), 0), (ssize_t)la);
			ck_assert_int_eq(memcmp(got, buf, la), 0);
		} else {
			ck_assert_int_eq(xsr_write(&p.b, "leftover", 8), 8);
		}
		park_both(&p, use);
		ck_assert_int_eq(xsr_rx_ready(&p.a), 0);
		ck_assert_int_eq(xsr_rx_ready(&p.b), 0);
	}
	pair_fini(&p);
}
END_TEST

START_TEST(test_reuse_refused_states)
{
	struct pair p;
	uint16_t sport;

	pair_init(&p, 0);
	/* Not closed by us: not parkable. */
	ck_assert_int_eq(xsr_park(&p.a, 0), -ECONNRESET);
	/* A peer gone is never parked. */
	xsr_close(&p.a);
	xsr_close(&p.b);
	XSOCK_INTF_EXT(p.intf)->b_alive = 0;
	ck_assert_int_eq(xsr_park(&p.a, 0), -ECONNRESET);
	XSOCK_INTF_EXT(p.intf)->b_alive = 1;
	ck_assert_int_eq(xsr_park(&p.a, 0), 1);
	ck_assert_int_eq(xsr_park(&p.b, 0), 1);
	/* Bad arguments. */
	ck_assert_int_eq(xsr_reopen(&p.b, 0, 1), -EINVAL);
	ck_assert_int_eq(xsr_reopen(&p.b, 1, 0), -EINVAL);
	ck_assert_int_eq(xsr_reopen(&p.a, 1, 1), -EINVAL);
	ck_assert_int_eq(xsr_reaccept(&p.b), -EINVAL);
	/* A hostile B: a use out of sequence, a zero port. */
	XSOCK_INTF_EXT(p.intf)->b_use = 7;
	ck_assert_int_eq(xsr_peer_opened(&p.a, 1, &sport), -EPROTO);
	XSOCK_INTF_EXT(p.intf)->b_use = 1;
	XSOCK_INTF_EXT(p.intf)->b_sport = 0;
	ck_assert_int_eq(xsr_peer_opened(&p.a, 1, &sport), -EPROTO);
	XSOCK_INTF_EXT(p.intf)->b_sport = 70000;
	ck_assert_int_eq(xsr_peer_opened(&p.a, 1, &sport), -EPROTO);
	pair_fini(&p);
}
END_TEST

START_TEST(test_reuse_hostile_indexes)
{
	struct pair p;
	struct xsock_data_intf *d;

	pair_init(&p, 0);
	d = p.intf;
	ck_assert_int_eq(xsr_write(&p.a, "xy", 2), 2);
	xsr_close(&p.a);
	xsr_close(&p.b);
	/* B's prod moved beyond the ring while A parks: corrupt, not parked. */
	d->in_prod = p.size + 5;
	ck_assert_int_eq(xsr_park(&p.a, 0), -EPROTO);
	ck_assert_int_eq(xsr_park(&p.a, 0), -ECONNRESET);
	pair_fini(&p);

	pair_init(&p, 0);
	d = p.intf;
	ck_assert_int_eq(xsr_write(&p.b, "xy", 2), 2);
	park_both(&p, 0);
	/* A's consumer index not where A's park put it: B refuses to reopen. */
	d->in_cons = 1;
	ck_assert_int_eq(xsr_reopen(&p.b, 1, 5), -EPROTO);
	pair_fini(&p);

	pair_init(&p, 0);
	d = p.intf;
	ck_assert_int_eq(xsr_write(&p.a, "xyz", 3), 3);
	park_both(&p, 0);
	ck_assert_int_eq(xsr_reopen(&p.b, 1, 5), 0);
	/* B's consumer index not where B's park put it: A refuses the use. */
	d->out_cons = 0;
	ck_assert_int_eq(xsr_reaccept(&p.a), -EPROTO);
	pair_fini(&p);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("layout");

	tcase_add_test(tc, test_format_layout);
	tcase_add_test(tc, test_layout_bad_order);
	tcase_add_test(tc, test_bad_magic);
	tcase_add_test(tc, test_attach_einval);
	suite_add_tcase(s, tc);

	tc = tcase_create("data");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_rebase_keeps_stream);
	tcase_add_test(tc, test_peer_gone_seen_by_every_holder);
	tcase_add_test(tc, test_poll_for);
	tcase_add_test(tc, test_poll_own_indexes);
	tcase_add_test(tc, test_fill_exactly_full);
	tcase_add_test(tc, test_partial_write);
	tcase_add_test(tc, test_wrap_around);
	tcase_add_test(tc, test_all_sizes_random_chunks);
	tcase_add_test(tc, test_index_wrap_32bit);
	tcase_add_test(tc, test_peek);
	tcase_add_test(tc, test_readv_writev);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_add_test(tc, test_shutdown_eof_after_drain);
	tcase_add_test(tc, test_close_epipe);
	tcase_add_test(tc, test_peer_alive_cleared);
	tcase_add_test(tc, test_peer_gone_call);
	tcase_add_test(tc, test_peer_error_reset);
	suite_add_tcase(s, tc);

	tc = tcase_create("reuse");
	tcase_add_test(tc, test_reuse_cycles);
	tcase_add_test(tc, test_reuse_refused_states);
	tcase_add_test(tc, test_reuse_hostile_indexes);
	suite_add_tcase(s, tc);

	tc = tcase_create("notify");
	tcase_add_test(tc, test_kick_suppressed);
	tcase_add_test(tc, test_kick_when_waiting);
	tcase_add_test(tc, test_kick_writer_waiting_for_space);
	tcase_add_test(tc, test_kick_foreign_flag);
	tcase_add_test(tc, test_prepare_wait_ready);
	tcase_add_test(tc, test_wait_reader_and_writer_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hostile_prod_beyond_size);
	tcase_add_test(tc, test_hostile_prod_huge);
	tcase_add_test(tc, test_hostile_prod_backwards);
	tcase_add_test(tc, test_hostile_prod_behind_cons);
	tcase_add_test(tc, test_hostile_cons_beyond_prod);
	tcase_add_test(tc, test_hostile_cons_backwards);
	tcase_add_test(tc, test_hostile_detected_by_poll);
	tcase_add_test(tc, test_hostile_random_fields);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(ring_suite());
}
