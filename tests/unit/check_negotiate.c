/* SPDX-License-Identifier: MIT */
/*
 * The negotiation parsers (src/conn/negotiate.c): what a peer domain
 * writes into the store, well formed or not, and the exact errno each
 * malformed value gets. Then the liveness rules of src/conn/conn.c on the
 * local backend: a listener that never reacts is given up on after
 * XSOCK_LISTENER_ACK_MS (-ENOENT, request withdrawn), one that
 * acknowledges keeps the client waiting up to XSOCK_CONNECT_TIMEOUT_MS,
 * and dead listeners' advertisements are swept.
 *
 * Values are passed in heap blocks of exactly their length, without a NUL
 * terminator (as a peer's value may be): under ASan any read past the
 * length fails the test.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "common/clock.h"
#include "conn/conn.h"
#include "conn/negotiate.h"
#include "conn/registry.h"
#include "testutil.h"

/* Copies made by V(), freed by the teardown (LeakSanitizer watches). */
static char *copies[256];
static unsigned int ncopies;

static void free_copies(void)
{
	while (ncopies)
		free(copies[--ncopies]);
}

/* An exact-size, unterminated copy of @s (first @len bytes). */
static const char *V(const char *s, size_t len)
{
	char *v = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(v);
	ck_assert_uint_lt(ncopies, sizeof(copies) / sizeof(copies[0]));
	memcpy(v, s, len);
	copies[ncopies++] = v;
	return v;
}
#define VS(s) V((s), strlen(s)), strlen(s)

static int get(const char *s, const char *key, char *buf, size_t n)
{
	return xs_kv_get(VS(s), key, buf, n);
}

static int get_u(const char *s, const char *key, unsigned long max, unsigned long *out)
{
	return xs_kv_get_uint(VS(s), key, max, out);
}

/* ---- the value grammar ------------------------------------------------------------------ */

START_TEST(test_check)
{
	char big[XS_NEG_VALUE_MAX + 1];

	ck_assert_int_eq(xs_neg_check(VS("state=offer ref=1")), 0);
	ck_assert_int_eq(xs_neg_check(VS("")), 0);
	ck_assert_int_eq(xs_neg_check(VS("   ")), 0);
	ck_assert_int_eq(xs_neg_check(NULL, 0), -EPROTO);
	ck_assert_int_eq(xs_neg_check(V("a=1\0b=2", 7), 7), -EPROTO);	/* embedded NUL */
	ck_assert_int_eq(xs_neg_check(VS("a=1\nb=2")), -EPROTO);
	ck_assert_int_eq(xs_neg_check(VS("a=1\tb=2")), -EPROTO);
	ck_assert_int_eq(xs_neg_check(VS("a=\x7f")), -EPROTO);
	ck_assert_int_eq(xs_neg_check(VS("a=\xc3\xa9")), -EPROTO);
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(xs_neg_check(V(big, XS_NEG_VALUE_MAX), XS_NEG_VALUE_MAX), 0);
	ck_assert_int_eq(xs_neg_check(V(big, sizeof(big)), sizeof(big)), -EPROTO);
}
END_TEST

START_TEST(test_kv_get)
{
	char buf[16];

	ck_assert_int_eq(get("state=offer ref=12", "ref", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "12");
	ck_assert_int_eq(get("state=offer ref=12", "state", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "offer");
	/* Extra spaces anywhere, unknown words, words without '='. */
	ck_assert_int_eq(get("   junk x= =y ref=7   ", "ref", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "7");
	/* A value may contain '=' (the first one splits). */
	ck_assert_int_eq(get("a=b=c", "a", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "b=c");
	/* Whole words only: "port" is not "sport", nor "xport", nor "port2". */
	ck_assert_int_eq(get("sport=1 xport=2 port2=3", "port", buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(get("sport=1 port=9", "port", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "9");
	ck_assert_int_eq(get("", "port", buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(get("port", "port", buf, sizeof(buf)), -ENOENT);
}
END_TEST

START_TEST(test_kv_get_malformed)
{
	char buf[8] = "keep";

	/* Duplicate keys: ambiguous, so invalid (even with equal values). */
	ck_assert_int_eq(get("ref=1 ref=2", "ref", buf, sizeof(buf)), -EPROTO);
	ck_assert_int_eq(get("ref=1 ref=1", "ref", buf, sizeof(buf)), -EPROTO);
	/* Empty value. */
	ck_assert_int_eq(get("ref= state=x", "ref", buf, sizeof(buf)), -EPROTO);
	ck_assert_int_eq(get("ref=", "ref", buf, sizeof(buf)), -EPROTO);
	/* Value exactly fits (7 + NUL), one more does not. */
	ck_assert_int_eq(get("ref=1234567", "ref", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "1234567");
	strcpy(buf, "keep");
	ck_assert_int_eq(get("ref=12345678", "ref", buf, sizeof(buf)), -EPROTO);
	ck_assert_str_eq(buf, "keep");
	/* A malformed value is malformed for every key. */
	ck_assert_int_eq(get("ref=1\n", "ref", buf, sizeof(buf)), -EPROTO);
	ck_assert_int_eq(xs_kv_get(V("ref=1\0x", 7), 7, "ref", buf, sizeof(buf)), -EPROTO);
	ck_assert_str_eq(buf, "keep");
	/* Caller bugs. */
	ck_assert_int_eq(get("a=1", "", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(get("a=1", "a b", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(get("a=1", "a=", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(get("a=1", "a", buf, 0), -EINVAL);
	ck_assert_int_eq(get("a=1", "a", buf, 1), -EPROTO);	/* no room for "1" */
}
END_TEST

/* The length is the value's end, wherever the bytes stop. */
START_TEST(test_kv_get_length)
{
	const char *s = "port=12345 sport=9";
	char buf[16];
	unsigned long u = 0;

	ck_assert_int_eq(xs_kv_get(V(s, 7), 7, "port", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "12");
	ck_assert_int_eq(xs_kv_get(V(s, 10), 10, "sport", buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(xs_kv_get(V(s, 5), 5, "port", buf, sizeof(buf)), -EPROTO);
	ck_assert_int_eq(xs_kv_get(V(s, 0), 0, "port", buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(xs_kv_get_uint(V(s, strlen(s)), strlen(s), "sport", 65535, &u), 0);
	ck_assert_uint_eq(u, 9);
}
END_TEST

START_TEST(test_kv_get_uint)
{
	unsigned long u = 42;

	ck_assert_int_eq(get_u("n=0", "n", 10, &u), 0);
	ck_assert_uint_eq(u, 0);
	ck_assert_int_eq(get_u("n=007", "n", 10, &u), 0);
	ck_assert_uint_eq(u, 7);
	ck_assert_int_eq(get_u("n=65535", "n", 65535, &u), 0);
	ck_assert_uint_eq(u, 65535);
	ck_assert_int_eq(get_u("n=18446744073709551615", "n", ULONG_MAX, &u), 0);
	ck_assert_uint_eq(u, ULONG_MAX);
	u = 42;
	ck_assert_int_eq(get_u("n=65536", "n", 65535, &u), -EPROTO);
	ck_assert_int_eq(get_u("n=18446744073709551616", "n", ULONG_MAX, &u), -EPROTO);
	ck_assert_int_eq(get_u("n=99999999999999999999", "n", ULONG_MAX, &u), -EPROTO);
	ck_assert_int_eq(get_u("n=000000000000000000001", "n", ULONG_MAX, &u), -EPROTO);
	ck_assert_int_eq(get_u("n=-1", "n", ULONG_MAX, &u), -EPROTO);
	ck_assert_int_eq(get_u("n=+1", "n", ULONG_MAX, &u), -EPROTO);
	ck_assert_int_eq(get_u("n=1a", "n", ULONG_MAX, &u), -EPROTO);
	ck_assert_int_eq(get_u("n=0x10", "n", ULONG_MAX, &u), -EPROTO);
	ck_assert_int_eq(get_u("n= 1", "n", ULONG_MAX, &u), -EPROTO);
	ck_assert_int_eq(get_u("n=1 n=1", "n", ULONG_MAX, &u), -EPROTO);
	ck_assert_int_eq(get_u("m=1", "n", ULONG_MAX, &u), -ENOENT);
	ck_assert_uint_eq(u, 42);	/* untouched by every failure */
}
END_TEST

START_TEST(test_kv_get_id)
{
	char id[XS_NEG_ID_LEN] = "keep";

	ck_assert_int_eq(xs_kv_get_id(VS("id=0123456789abcdef"), "id", id), 0);
	ck_assert_str_eq(id, "0123456789abcdef");
	strcpy(id, "keep");
	ck_assert_int_eq(xs_kv_get_id(VS("id=0123456789abcdef0"), "id", id), -EPROTO);
	ck_assert_int_eq(xs_kv_get_id(VS("id=ABCDEF"), "id", id), -EPROTO);
	ck_assert_int_eq(xs_kv_get_id(VS("id=../x"), "id", id), -EPROTO);
	ck_assert_int_eq(xs_kv_get_id(VS("di=00"), "id", id), -EPROTO);
	ck_assert_int_eq(xs_kv_get_id(VS("id=00"), "", id), -EINVAL);
	ck_assert_str_eq(id, "keep");
}
END_TEST

/* ---- messages -------------------------------------------------------------------------------- */

START_TEST(test_answer)
{
	struct xs_neg_answer a;

	ck_assert_int_eq(xs_neg_parse_answer(VS("state=offer ref=8 order=5"), &a), 0);
	ck_assert_int_eq(a.state, XS_NEG_OFFER);
	ck_assert_uint_eq(a.ref, 8);
	ck_assert_uint_eq(a.order, 5);
	ck_assert_int_eq(xs_neg_parse_answer(
		VS(" order=9 ref=4294967295 state=offer future=1 "), &a), 0);
	ck_assert_uint_eq(a.ref, UINT32_MAX);
	ck_assert_uint_eq(a.order, 9);
	ck_assert(!a.reuse);
	/* Ring reuse is offered explicitly; absent or 0 means none. */
	ck_assert_int_eq(xs_neg_parse_answer(VS("state=offer ref=8 order=5 reuse=1"), &a), 0);
	ck_assert(a.reuse);
	ck_assert_int_eq(xs_neg_parse_answer(VS("state=offer ref=8 order=5 reuse=0"), &a), 0);
	ck_assert(!a.reuse);

	ck_assert_int_eq(xs_neg_parse_answer(VS("state=refused err=28"), &a), 0);
	ck_assert_int_eq(a.state, XS_NEG_REFUSED);
	ck_assert_int_eq(a.err, ENOSPC);
	/* The errno is advice: absent, zero or absurd means ECONNREFUSED. */
	ck_assert_int_eq(xs_neg_parse_answer(VS("state=refused"), &a), 0);
	ck_assert_int_eq(a.err, ECONNREFUSED);
	ck_assert_int_eq(xs_neg_parse_answer(VS("state=refused err=0"), &a), 0);
	ck_assert_int_eq(a.err, ECONNREFUSED);
	ck_assert_int_eq(xs_neg_parse_answer(VS("state=refused err=4096"), &a), 0);
	ck_assert_int_eq(a.err, ECONNREFUSED);
	ck_assert_int_eq(xs_neg_parse_answer(VS("state=refused err=-5"), &a), 0);
	ck_assert_int_eq(a.err, ECONNREFUSED);

	ck_assert_int_eq(xs_neg_parse_answer(VS("state=wait id=00fe"), &a), 0);
	ck_assert_int_eq(a.state, XS_NEG_WAIT);
	ck_assert_str_eq(a.id, "00fe");
}
END_TEST

START_TEST(test_answer_malformed)
{
	static const char *const bad[] = {
		"",
		"ref=8 order=5",				/* no state */
		"state=offer order=5",			/* missing ref */
		"state=offer ref=8",				/* missing order */
		"state=offer ref=8 order=10",			/* order > 9 */
		"state=offer ref=4294967296 order=5",		/* > 32 bits */
		"state=offer ref=-1 order=5",			/* negative */
		"state=offer ref=8 order=5 ref=9",		/* duplicate */
		"state=offer state=refused ref=8 order=5",	/* two states */
		"state=offered ref=8 order=5",		/* unknown state */
		"state=Offer ref=8 order=5",
		"state=wait",						/* wait without id */
		"state=wait id=XYZ",
		"state=offerxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",		/* too long */
		"state=offer\tref=8 order=5",
		"state=offer ref=8 order=5 reuse=2",		/* reuse is 0 or 1 */
		"state=offer ref=8 order=5 reuse=",
		"state=offer ref=8 order=5 reuse=1 reuse=1",
	};
	struct xs_neg_answer a, keep;
	unsigned int i;

	memset(&a, 0x5a, sizeof(a));
	keep = a;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(xs_neg_parse_answer(VS(bad[i]), &a) == -EPROTO, "accepted '%s'",
			      bad[i]);
		ck_assert_mem_eq(&a, &keep, sizeof(a));
	}
	/* An embedded NUL: the part before it would be a valid offer. */
	ck_assert_int_eq(xs_neg_parse_answer(V("state=refused\0", 14), 14, &a), -EPROTO);
}
END_TEST

START_TEST(test_answer_huge)
{
	size_t n = 1u << 20, i;
	char *v = malloc(n);

	ck_assert_ptr_nonnull(v);
	for (i = 0; i < n; i++)
		v[i] = "state=refused "[i % 14];
	ck_assert_int_eq(xs_neg_parse_answer(v, n, &(struct xs_neg_answer){ 0 }), -EPROTO);
	free(v);
}
END_TEST

START_TEST(test_request)
{
	struct xs_neg_request r, keep;

	ck_assert_int_eq(xs_neg_parse_request(VS("port=7101 sport=40000 daddr=10.77.0.2 evtchn=17"), &r), 0);
	ck_assert_uint_eq(r.port, 7101);
	ck_assert_uint_eq(r.sport, 40000);
	ck_assert_str_eq(r.daddr, "10.77.0.2");
	ck_assert_uint_eq(r.evtchn, 17);
	ck_assert(!r.has_life);		/* optional: older clients omit it */
	ck_assert_int_eq(xs_neg_parse_request(
		VS("port=7101 sport=40000 daddr=10.77.0.2 evtchn=17 life=4294967295"), &r), 0);
	ck_assert(r.has_life);
	ck_assert_uint_eq(r.life, 4294967295u);
	ck_assert_int_eq(xs_neg_parse_request(
		VS("evtchn=4294967295 daddr=ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 sport=0 port=65535"), &r),
		0);
	ck_assert_uint_eq(r.port, 65535);

	memset(&r, 0x5a, sizeof(r));
	keep = r;
	ck_assert_int_eq(xs_neg_parse_request(VS("port=65536 sport=1 daddr=::1 evtchn=1"), &r), -EPROTO);
	ck_assert_int_eq(xs_neg_parse_request(VS("port=1 sport=-1 daddr=::1 evtchn=1"), &r), -EPROTO);
	ck_assert_int_eq(xs_neg_parse_request(VS("port=1 daddr=::1 evtchn=1"), &r), -EPROTO);
	ck_assert_int_eq(xs_neg_parse_request(VS("port=1 sport=2 evtchn=1"), &r), -EPROTO);
	ck_assert_int_eq(xs_neg_parse_request(VS("port=1 sport=2 daddr= evtchn=1"), &r), -EPROTO);
	/* The client's event channel is required, and 32 bits at most. */
	ck_assert_int_eq(xs_neg_parse_request(VS("port=1 sport=2 daddr=::1"), &r), -EPROTO);
	ck_assert_int_eq(xs_neg_parse_request(VS("port=1 sport=2 daddr=::1 evtchn=4294967296"),
						&r), -EPROTO);
	ck_assert_int_eq(xs_neg_parse_request(VS("port=1 sport=2 daddr=::1 daddr=::2 evtchn=1"), &r),
			 -EPROTO);
	/* A life word, when there, must be a 32-bit number, once. */
	ck_assert_int_eq(xs_neg_parse_request(VS("port=1 sport=2 daddr=::1 evtchn=1 life=-1"), &r),
			 -EPROTO);
	ck_assert_int_eq(xs_neg_parse_request(VS("port=1 sport=2 daddr=::1 evtchn=1 life="), &r),
			 -EPROTO);
	ck_assert_int_eq(xs_neg_parse_request(
		VS("port=1 sport=2 daddr=::1 evtchn=1 life=4294967296"), &r), -EPROTO);
	ck_assert_int_eq(xs_neg_parse_request(VS("port=1 sport=2 daddr=::1 evtchn=1 life=1 life=1"),
						&r), -EPROTO);
	/* 46 characters do not fit INET6_ADDRSTRLEN with its NUL. */
	ck_assert_int_eq(xs_neg_parse_request(
		VS("port=1 sport=2 evtchn=1 daddr=ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555"), &r),
		-EPROTO);
	ck_assert_mem_eq(&r, &keep, sizeof(r));
}
END_TEST

START_TEST(test_listen)
{
	struct xs_neg_listen l;

	ck_assert_int_eq(xs_neg_parse_listen(VS("pid=4242 id=00fe12ab34cd56ef"), &l), 0);
	ck_assert_int_eq(l.pid, 4242);
	ck_assert_str_eq(l.id, "00fe12ab34cd56ef");
	ck_assert_int_eq(xs_neg_parse_listen(VS("pid=0 id=00"), &l), -EPROTO);
	ck_assert_int_eq(xs_neg_parse_listen(VS("pid=2147483648 id=00"), &l), -EPROTO);
	ck_assert_int_eq(xs_neg_parse_listen(VS("pid=-1 id=00"), &l), -EPROTO);
	ck_assert_int_eq(xs_neg_parse_listen(VS("pid=12"), &l), -EPROTO);
	ck_assert_int_eq(xs_neg_parse_listen(VS("id=00"), &l), -EPROTO);
}
END_TEST

START_TEST(test_text_to_sa)
{
	struct sockaddr_storage ss, keep;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = 0;

	ck_assert_int_eq(xs_neg_text_to_sa("10.77.0.2", 7101, &ss, &len), 0);
	ck_assert_int_eq(in4->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(in4->sin_port), 7101);
	ck_assert_uint_eq(ntohl(in4->sin_addr.s_addr), 0x0a4d0002);
	ck_assert_uint_eq(len, sizeof(*in4));
	ck_assert_int_eq(xs_neg_text_to_sa("fd00::2", 80, &ss, &len), 0);
	ck_assert_int_eq(in6->sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(in6->sin6_port), 80);
	ck_assert_uint_eq(in6->sin6_addr.s6_addr[15], 2);
	ck_assert_uint_eq(len, sizeof(*in6));

	memset(&ss, 0x5a, sizeof(ss));
	keep = ss;
	len = 99;
	ck_assert_int_eq(xs_neg_text_to_sa("10.77.0.256", 1, &ss, &len), -EPROTO);
	ck_assert_int_eq(xs_neg_text_to_sa("10.77.0.2 ", 1, &ss, &len), -EPROTO);
	ck_assert_int_eq(xs_neg_text_to_sa("host.example", 1, &ss, &len), -EPROTO);
	ck_assert_int_eq(xs_neg_text_to_sa("", 1, &ss, &len), -EPROTO);
	ck_assert_mem_eq(&ss, &keep, sizeof(ss));
	ck_assert_uint_eq(len, 99);
}
END_TEST

/* ---- liveness on the local backend ---------------------------------------------------------- */

#define BASE(d) "/local/domain/" #d "/data/xsock"

static int64_t now_ms(void)
{
	return xs_now_ms();
}

/* A context as domain @dom. */
static struct xs_ctx *ctx_as(const char *dom)
{
	struct xs_ctx *ctx;

	setenv("XSOCK_DOMID", dom, 1);
	ck_assert_int_eq(xs_ctx_open(&ctx), 0);
	return ctx;
}

/* Domain 2 listens on 7000 for domain 1 (10.0.0.1); nobody serves it. */
static struct xs_listener *listen_in_2(struct xs_ctx *s)
{
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(7000) };
	struct xs_listener *l;
	struct xsp_store *st;
	struct xs_prefix p;

	ck_assert_int_eq(xs_prefix_parse("10.0.0.1", &p), 0);
	ck_assert_int_eq(xsp_store_open(s->plat, &st), 0);
	ck_assert_int_eq(xs_registry_add(st, 2, &p, 1), 0);
	xsp_store_close(st);
	ck_assert_int_eq(xs_listener_open(s, (struct sockaddr *)&any, sizeof(any), 7000, &l), 0);
	return l;
}

/*
 * What the shim does for one request: the listener takes it and records a
 * doorbell for it, and an acceptor claims that doorbell and builds the
 * ring (no TCP doorbell socket here: the bell port is made up).
 * 1 and *out connected, 0 nothing pending, or a negative errno.
 */
static int serve_one(struct xs_ctx *s, struct xs_listener *l, uint16_t bell, struct xs_conn **out)
{
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(7000) };
	struct xs_acceptor *a;
	struct xs_request *rq;
	int rc;

	*out = NULL;
	if (xs_listener_take(l, &rq) != 1)
		return 0;
	rc = xs_listener_bell(l, rq, bell);
	free(rq);
	if (rc < 0)
		return rc;
	rc = xs_acceptor_open(s, (struct sockaddr *)&any, sizeof(any), 7000, &a);
	if (rc < 0)
		return rc;
	rc = xs_acceptor_claim(a, bell, false, out);
	xs_acceptor_close(a);
	return rc < 0 ? rc : 1;
}

static int connect_1_to_2(struct xs_ctx *c, struct xs_conn **out)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(7000) };

	dst.sin_addr.s_addr = htonl(0x0a000002);
	return xs_conn_connect(c, 2, (struct sockaddr *)&dst, sizeof(dst), 40000, out);
}

/* Store directories of the local backend hold ".v"/".p" files too. */
static int count_subnodes(const char *dir, const char *node)
{
	char path[512];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "%s/store%s", dir, node);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

START_TEST(test_unacknowledged_listener)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s, *c;
	struct xs_listener *l;
	struct xs_conn *conn = NULL;
	int64_t t0, dt;

	setenv("XSOCK_LISTENER_ACK_MS", "300", 1);
	setenv("XSOCK_CONNECT_TIMEOUT_MS", "5000", 1);
	s = ctx_as("2");
	l = listen_in_2(s);	/* advertised, never processed: stopped or dead */
	c = ctx_as("1");
	t0 = now_ms();
	ck_assert_int_eq(connect_1_to_2(c, &conn), -ENOENT);
	dt = now_ms() - t0;
	ck_assert_ptr_null(conn);
	ck_assert_msg(dt >= 300 && dt < 1500, "gave up after %lld ms", (long long)dt);
	/* The request was withdrawn; nothing answered. */
	ck_assert_int_eq(count_subnodes(dir, BASE(1) "/req/2"), 0);
	ck_assert_int_le(count_subnodes(dir, BASE(2) "/conn/1"), 0);
	xs_listener_close(l);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/listen"), 0);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/* A helper domain 2 that acknowledges every request of domain 1, never
 * offers. Runs until killed. */
static void acknowledger(void)
{
	struct xs_ctx *s = ctx_as("2");
	struct xsp_perm perms[2] = { { 2, XSP_PERM_NONE }, { 1, XSP_PERM_READ } };
	struct xsp_store *st;

	if (xsp_store_open(s->plat, &st) < 0)
		_exit(2);
	xsp_store_write(st, XSP_TXN_NONE, BASE(2) "/conn/1", "", 0);
	xsp_store_set_perms(st, XSP_TXN_NONE, BASE(2) "/conn/1", perms, 2);
	for (;;) {
		char **names = NULL, path[256];
		unsigned int n = 0, i;

		if (xsp_store_list(st, XSP_TXN_NONE, BASE(1) "/req/2", &names, &n) == 0) {
			for (i = 0; i < n; i++) {
				snprintf(path, sizeof(path), BASE(2) "/conn/1/%s", names[i]);
				xsp_store_write(st, XSP_TXN_NONE, path, "state=wait id=0a", 16);
			}
			free(names);
		}
		usleep(10000);
	}
}

START_TEST(test_acknowledged_listener)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s, *c;
	struct xs_listener *l;
	struct xs_conn *conn = NULL;
	int64_t t0, dt;
	pid_t pid;

	setenv("XSOCK_LISTENER_ACK_MS", "200", 1);
	setenv("XSOCK_CONNECT_TIMEOUT_MS", "1200", 1);
	s = ctx_as("2");
	l = listen_in_2(s);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		acknowledger();
	c = ctx_as("1");
	t0 = now_ms();
	ck_assert_int_eq(connect_1_to_2(c, &conn), -ETIMEDOUT);
	dt = now_ms() - t0;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_msg(dt >= 1200 && dt < 3000, "gave up after %lld ms", (long long)dt);
	ck_assert_int_eq(count_subnodes(dir, BASE(1) "/req/2"), 0);
	xs_listener_close(l);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/* A live listener (served in a child process) connects at once. */
START_TEST(test_live_listener)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s, *c;
	struct xs_listener *l;
	struct xs_conn *conn = NULL;
	int64_t t0, dt;
	pid_t pid;
	int st;

	setenv("XSOCK_LISTENER_ACK_MS", "300", 1);
	s = ctx_as("2");
	l = listen_in_2(s);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int64_t end = now_ms() + 5000;
		struct xs_conn *got = NULL;

		while (!got && now_ms() < end) {
			xs_listener_process(l);
			serve_one(s, l, 1001, &got);
			usleep(2000);
		}
		_exit(got ? 0 : 1);
	}
	c = ctx_as("1");
	t0 = now_ms();
	ck_assert_int_eq(connect_1_to_2(c, &conn), 0);
	dt = now_ms() - t0;
	ck_assert_ptr_nonnull(conn);
	ck_assert_msg(dt < 300, "connect took %lld ms", (long long)dt);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	xs_conn_close(conn);
	ck_assert_int_eq(count_subnodes(dir, BASE(1) "/req/2"), 0);
	xs_listener_close(l);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/*
 * Two requests waiting at once: the listener acknowledges both
 * ("state=wait"), the acceptor's offers replace the acknowledgements.
 * Both clients must connect.
 */
START_TEST(test_batched_requests)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_conn *got[2] = { NULL, NULL };
	struct xs_ctx *s;
	struct xs_listener *l;
	pid_t kids[2];
	int64_t end;
	int i, n = 0, st;

	setenv("XSOCK_LISTENER_ACK_MS", "3000", 1);
	s = ctx_as("2");
	l = listen_in_2(s);
	for (i = 0; i < 2; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			struct xs_ctx *c = ctx_as("1");
			struct xs_conn *conn;

			_exit(connect_1_to_2(c, &conn) == 0 ? 0 : 1);
		}
	}
	/* Serve only once both requests are there: one batch. */
	end = now_ms() + 5000;
	while (count_subnodes(dir, BASE(1) "/req/2") < 2 && now_ms() < end)
		usleep(2000);
	ck_assert_int_eq(count_subnodes(dir, BASE(1) "/req/2"), 2);
	while (n < 2 && now_ms() < end) {
		xs_listener_process(l);
		while (n < 2 && serve_one(s, l, (uint16_t)(1001 + n), &got[n]) == 1)
			n++;
		usleep(2000);
	}
	ck_assert_int_eq(n, 2);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client %d failed", i);
		xs_conn_close(got[i]);
	}
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn/1"), 0);
	xs_listener_close(l);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/*
 * The client's life page (protocol.md, section 2, step 5). A hand-made
 * client in domain 1 sends a request naming its channel and a life page,
 * waits for the offer, then plays each case while its channel stays open
 * (so only the life byte can tell):
 *   LIFE_DROP   unshares the life page without attaching: what Xen's
 *               unmap notification does when a client dies there;
 *   LIFE_BOGUS  names a grant it never made;
 *   LIFE_ZERO   shares a page whose byte is already 0.
 * The acceptor must drop the offer (-ECONNABORTED) at once, not after
 * XSOCK_ACCEPT_TIMEOUT_MS (10 s here), and leave no answer node.
 */
enum life_case { LIFE_DROP, LIFE_BOGUS, LIFE_ZERO };

static void life_client(int arg)
{
	enum life_case how = (enum life_case)arg;
	struct xsp_unmap_notify n = { .offset = 0 };
	struct xs_ctx *c = ctx_as("1");
	struct xsp_evtchn *ev;
	struct xsp_share *life;
	struct xsp_store *st;
	struct xsp_perm perms[2] = {
		{ .dom = 1, .perm = XSP_PERM_NONE },
		{ .dom = 2, .perm = XSP_PERM_READ },
	};
	char req[160], *val = NULL;
	int64_t end = now_ms() + (how == LIFE_DROP ? 5000 : 1000);
	uint32_t ref;

	if (xsp_store_open(c->plat, &st) < 0 || xsp_evtchn_alloc(c->plat, 2, &ev) < 0)
		_exit(2);
	n.ev = ev;
	if (xsp_share(c->plat, 2, 1, &n, &life) < 0)
		_exit(2);
	*(volatile uint8_t *)xsp_share_addr(life) = how == LIFE_ZERO ? 0 : 1;
	ref = how == LIFE_BOGUS ? xsp_share_refs(life)[0] + 1000 : xsp_share_refs(life)[0];
	if (xsp_store_write(st, XSP_TXN_NONE, BASE(1) "/req/2", "", 0) < 0 ||
	    xsp_store_set_perms(st, XSP_TXN_NONE, BASE(1) "/req/2", perms, 2) < 0)
		_exit(2);
	snprintf(req, sizeof(req), "port=7000 sport=40000 daddr=10.0.0.2 evtchn=%u life=%u",
		 xsp_evtchn_port(ev), ref);
	if (xsp_store_write(st, XSP_TXN_NONE, BASE(1) "/req/2/00aa", req, strlen(req)) < 0)
		_exit(2);
	/* The offer (not the listener's "state=wait"), or a drop. */
	while (now_ms() < end) {
		free(val);
		val = NULL;
		if (xsp_store_read(st, XSP_TXN_NONE, BASE(2) "/conn/1/00aa", &val, NULL) == 0 &&
		    strstr(val, "state=offer"))
			break;
		usleep(1000);
	}
	if (how == LIFE_DROP)
		xsp_unshare(life);
	sleep(1);	/* the channel (and for LIFE_BOGUS/ZERO the page) held meanwhile */
	_exit(val && strstr(val, "state=offer") ? 0 : 1);
}

/*
 * Domain 2 listens (XSOCK_ACCEPT_TIMEOUT_MS 10 s) while @client(@arg)
 * plays domain 1's doomed client in a child. Serves until accept() has an
 * outcome: returns it (serve_one()'s), how long the deciding call took in
 * *dt, the child's wait status in *st; checks that no connection came out
 * and no answer node is left.
 */
static int serve_doomed(void (*client)(int), int arg, const char *dir, int64_t *dt, int *st)
{
	struct xs_conn *got = NULL;
	struct xs_ctx *s;
	struct xs_listener *l;
	int64_t end, t0 = 0;
	int rc = 0;
	pid_t pid;

	setenv("XSOCK_ACCEPT_TIMEOUT_MS", "10000", 1);
	setenv("XSOCK_LISTENER_ACK_MS", "3000", 1);
	s = ctx_as("2");
	l = listen_in_2(s);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		client(arg);
	end = now_ms() + 5000;
	while (rc == 0 && now_ms() < end) {
		xs_listener_process(l);
		t0 = now_ms();
		rc = serve_one(s, l, 1001, &got);
		if (rc == 0)
			usleep(2000);
	}
	*dt = now_ms() - t0;
	unsetenv("XSOCK_ACCEPT_TIMEOUT_MS");
	ck_assert_ptr_null(got);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn/1"), 0);
	ck_assert_int_eq(waitpid(pid, st, 0), pid);
	xs_listener_close(l);
	xs_ctx_close(s);
	return rc;
}

START_TEST(test_life_page)
{
	static const char *const names[] = { "dropped", "bogus", "zero" };
	const char *dir = tu_fresh_local_dir();
	int64_t dt;
	int rc, st;

	rc = serve_doomed(life_client, _i, dir, &dt, &st);
	ck_assert_msg(rc == -ECONNABORTED, "%s life page: serve_one %d", names[_i], rc);
	/* The bogus and zero pages fail at the offer, the dropped one within
	 * one 50 ms poll of the client's drop (the client waits for the offer
	 * in 1 ms steps). */
	ck_assert_msg(dt < 1000, "%s life page: offer dropped after %lld ms", names[_i],
		      (long long)dt);
	/* The dropped case saw the offer; the others were refused before it. */
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == (_i == LIFE_DROP ? 0 : 1));
	tu_rm_rf(dir);
}
END_TEST

/* A real client with XSOCK_FAULT=die-before-attach (it never returns). */
static void dying_client(int unused)
{
	struct xs_conn *conn;

	(void)unused;
	setenv("XSOCK_FAULT", "die-before-attach", 1);
	connect_1_to_2(ctx_as("1"), &conn);
	_exit(3);	/* not reached: the fault kills */
}

/*
 * XSOCK_FAULT=die-before-attach: a real client killed between reading the
 * offer and attaching. The acceptor drops it at once; nothing is left in
 * the store.
 */
START_TEST(test_client_dies_before_attach)
{
	const char *dir = tu_fresh_local_dir();
	int64_t dt;
	int rc, st;

	rc = serve_doomed(dying_client, 0, dir, &dt, &st);
	ck_assert_int_eq(rc, -ECONNABORTED);
	ck_assert_msg(dt < 1000, "offer to the dead client dropped after %lld ms", (long long)dt);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	tu_rm_rf(dir);
}
END_TEST

START_TEST(test_sweep)
{
	const char *dir = tu_fresh_local_dir();
	struct xsp_store *st;
	struct xs_ctx *s;
	unsigned int removed = 99;
	char mine[64];
	pid_t dead;

	dead = fork();
	ck_assert_int_ge(dead, 0);
	if (dead == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(dead, NULL, 0), dead);
	s = ctx_as("2");
	ck_assert_int_eq(xs_ctx_sweep_listeners(s, &removed), 0);	/* nothing there */
	ck_assert_uint_eq(removed, 0);
	ck_assert_int_eq(xsp_store_open(s->plat, &st), 0);
	snprintf(mine, sizeof(mine), "pid=%d id=00fe", (int)dead);
	ck_assert_int_eq(xsp_store_write(st, XSP_TXN_NONE, BASE(2) "/listen/7000", mine,
					 strlen(mine)), 0);
	snprintf(mine, sizeof(mine), "pid=%d id=00ff", (int)getpid());
	ck_assert_int_eq(xsp_store_write(st, XSP_TXN_NONE, BASE(2) "/listen/7001", mine,
					 strlen(mine)), 0);
	snprintf(mine, sizeof(mine), "pid=1 id=0001");	/* alive (init), not ours */
	ck_assert_int_eq(xsp_store_write(st, XSP_TXN_NONE, BASE(2) "/listen/7002", mine,
					 strlen(mine)), 0);
	ck_assert_int_eq(xsp_store_write(st, XSP_TXN_NONE, BASE(2) "/listen/7003", "garbage",
					 7), 0);
	ck_assert_int_eq(xs_ctx_sweep_listeners(s, &removed), 0);
	ck_assert_uint_eq(removed, 1);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/listen"), 3);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/listen/7000"), -1);
	xsp_store_close(st);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

static Suite *negotiate_suite(void)
{
	Suite *s = suite_create("negotiate");
	TCase *tc = tcase_create("parsers");
	TCase *tl = tcase_create("liveness");

	tcase_add_checked_fixture(tc, NULL, free_copies);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_kv_get);
	tcase_add_test(tc, test_kv_get_malformed);
	tcase_add_test(tc, test_kv_get_length);
	tcase_add_test(tc, test_kv_get_uint);
	tcase_add_test(tc, test_kv_get_id);
	tcase_add_test(tc, test_answer);
	tcase_add_test(tc, test_answer_malformed);
	tcase_add_test(tc, test_answer_huge);
	tcase_add_test(tc, test_request);
	tcase_add_test(tc, test_listen);
	tcase_add_test(tc, test_text_to_sa);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tl, 20);
	tcase_add_test(tl, test_unacknowledged_listener);
	tcase_add_test(tl, test_acknowledged_listener);
	tcase_add_test(tl, test_live_listener);
	tcase_add_test(tl, test_batched_requests);
	tcase_add_test(tl, test_sweep);
	tcase_add_loop_test(tl, test_life_page, LIFE_DROP, LIFE_ZERO + 1);
	tcase_add_test(tl, test_client_dies_before_attach);
	suite_add_tcase(s, tl);
	return s;
}

int main(void)
{
	return tu_run(negotiate_suite());
}
