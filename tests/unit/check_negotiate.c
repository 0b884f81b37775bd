/* SPDX-License-Identifier: MIT */
/*
 * The negotiation parsers and validators (src/conn/negotiate.c, the
 * address keys of src/conn/addr.c): what a peer domain writes into the
 * store, well formed or not, and the exact errno each malformed value
 * gets. The rules that need a store (liveness, answers' lifetime, bound
 * addresses, advertisements) are tests/unit/check_conn_store.c.
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
#include "conn/addr.h"
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

/* A store node's name as a request id: exactly 1..16 lowercase hex digits. */
START_TEST(test_check_id)
{
	static const char *const bad[] = {
		"", "0123456789abcdef0", "XYZ0", "ABCD", "0x1", "ab cd", "ab\tcd", "-1", "g",
		"0123456789abcdef0123",
	};
	unsigned int i;

	ck_assert_int_eq(xs_neg_check_id("0"), 0);
	ck_assert_int_eq(xs_neg_check_id("0123456789abcdef"), 0);
	ck_assert_int_eq(xs_neg_check_id("fedcba"), 0);
	ck_assert_int_eq(xs_neg_check_id(NULL), -EPROTO);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(xs_neg_check_id(bad[i]) == -EPROTO, "accepted '%s'", bad[i]);
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
	ck_assert_uint_eq(a.idle_ms, 0);	/* not said */
	/* How long the server keeps the ring parked. */
	ck_assert_int_eq(xs_neg_parse_answer(VS("state=offer ref=8 order=5 reuse=1 idle=10000"),
					     &a), 0);
	ck_assert(a.reuse);
	ck_assert_uint_eq(a.idle_ms, 10000);
	ck_assert_int_eq(xs_neg_parse_answer(VS("state=offer ref=8 order=5 idle=3600000"), &a), 0);
	ck_assert_uint_eq(a.idle_ms, 3600000);

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
	/* Nor may the server choose what connect() never gives. */
	ck_assert_int_eq(xs_neg_parse_answer(VS("state=refused err=115"), &a), 0);
	ck_assert_int_eq(a.err, ECONNREFUSED);
	ck_assert_int_eq(xs_neg_parse_answer(VS("state=refused err=4095"), &a), 0);
	ck_assert_int_eq(a.err, ECONNREFUSED);
	ck_assert_int_eq(xs_neg_parse_answer(VS("state=refused err=113"), &a), 0);
	ck_assert_int_eq(a.err, EHOSTUNREACH);

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
		"state=offer ref=8 order=5 reuse=1 idle=3600001",	/* idle: 1 hour at most */
		"state=offer ref=8 order=5 reuse=1 idle=-1",
		"state=offer ref=8 order=5 reuse=1 idle=",
		"state=offer ref=8 order=5 reuse=1 idle=5 idle=5",
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

/* The bound address of an advertisement: optional, numeric when there. */
START_TEST(test_listen_addr)
{
	static const char *const bad[] = {
		"pid=1 id=00 addr=",
		"pid=1 id=00 addr=host.example",
		"pid=1 id=00 addr=10.77.0.256",
		"pid=1 id=00 addr=10.77.0.2/32",
		"pid=1 id=00 addr=fe80::1%eth0",
		"pid=1 id=00 addr=10.77.0.2 addr=10.77.0.2",
		"pid=1 id=00 addr=ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555",
	};
	struct xs_neg_listen l, keep;
	unsigned int i;

	ck_assert_int_eq(xs_neg_parse_listen(VS("pid=4242 id=00fe"), &l), 0);
	ck_assert(!l.has_addr);
	ck_assert_str_eq(l.addr, "");
	ck_assert_int_eq(xs_neg_parse_listen(VS("pid=4242 id=00fe addr=10.77.0.2"), &l), 0);
	ck_assert(l.has_addr);
	ck_assert_str_eq(l.addr, "10.77.0.2");
	ck_assert_int_eq(xs_neg_parse_listen(VS("addr=fd00::2 pid=4242 id=00fe"), &l), 0);
	ck_assert_str_eq(l.addr, "fd00::2");
	memset(&l, 0x5a, sizeof(l));
	keep = l;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(xs_neg_parse_listen(VS(bad[i]), &l) == -EPROTO, "accepted '%s'",
			      bad[i]);
		ck_assert_mem_eq(&l, &keep, sizeof(l));
	}
}
END_TEST

/* What a refusal may make connect() fail with (<xsock/store.h>). */
START_TEST(test_refusal_errno)
{
	static const int pass[] = {
		ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, ECONNRESET, ECONNABORTED,
		EACCES, EPERM, ENOBUFS, ENOMEM, ENOSPC, EMFILE,
	};
	static const unsigned long other[] = {
		0, EINPROGRESS, EISCONN, EAGAIN, EALREADY, EINTR, EBADF, ENOTSOCK, EPROTO,
		EINVAL, 4095, 4096, ULONG_MAX,
	};
	unsigned int i;

	for (i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
		ck_assert_int_eq(xs_neg_refusal_errno((unsigned long)pass[i]), pass[i]);
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		ck_assert_int_eq(xs_neg_refusal_errno(other[i]), ECONNREFUSED);
	/* Short of resources: the client may fall back to TCP. */
	ck_assert(xs_neg_refusal_short(ENOSPC) && xs_neg_refusal_short(ENOMEM));
	ck_assert(xs_neg_refusal_short(EMFILE) && xs_neg_refusal_short(ENOBUFS));
	ck_assert(!xs_neg_refusal_short(ECONNREFUSED) && !xs_neg_refusal_short(EACCES));
}
END_TEST

/* Address keys (advertisement names) and the wildcard test. */
START_TEST(test_addr_key)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char key[XS_ADDR_KEYLEN], text[INET6_ADDRSTRLEN];
	struct sockaddr_in6 m = { .sin6_family = AF_INET6 };

	ck_assert_int_eq(xs_neg_text_to_sa("10.77.0.2", 1, &ss, &len), 0);
	ck_assert_int_eq(xs_addr_key((struct sockaddr *)&ss, len, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "4-0a4d0002");
	ck_assert(!xs_addr_is_any((struct sockaddr *)&ss, len));
	ck_assert_int_eq(xs_addr_key((struct sockaddr *)&ss, len, key, 10), -ENOSPC);
	/* An IPv4-mapped address is the IPv4 host. */
	ck_assert_int_eq(xs_neg_text_to_sa("::ffff:10.77.0.2", 1, &ss, &len), 0);
	ck_assert_int_eq(xs_addr_key((struct sockaddr *)&ss, len, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "4-0a4d0002");
	ck_assert_int_eq(xs_addr_text((struct sockaddr *)&ss, len, text, sizeof(text)), 0);
	ck_assert_str_eq(text, "10.77.0.2");
	ck_assert_int_eq(xs_neg_text_to_sa("fd00::2", 1, &ss, &len), 0);
	ck_assert_int_eq(xs_addr_key((struct sockaddr *)&ss, len, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "6-fd000000000000000000000000000002");
	ck_assert_int_eq(xs_addr_key((struct sockaddr *)&ss, len, key, 34), -ENOSPC);
	ck_assert_int_eq(xs_addr_text((struct sockaddr *)&ss, len, text, sizeof(text)), 0);
	ck_assert_str_eq(text, "fd00::2");
	/* Wildcards, and what is not an IP address. */
	ck_assert_int_eq(xs_neg_text_to_sa("0.0.0.0", 1, &ss, &len), 0);
	ck_assert(xs_addr_is_any((struct sockaddr *)&ss, len));
	ck_assert_int_eq(xs_neg_text_to_sa("::", 1, &ss, &len), 0);
	ck_assert(xs_addr_is_any((struct sockaddr *)&ss, len));
	m.sin6_addr.s6_addr[10] = m.sin6_addr.s6_addr[11] = 0xff;
	ck_assert(xs_addr_is_any((struct sockaddr *)&m, sizeof(m)));	/* ::ffff:0.0.0.0 */
	ss.ss_family = AF_UNIX;
	ck_assert(!xs_addr_is_any((struct sockaddr *)&ss, sizeof(ss)));
	ck_assert_int_eq(xs_addr_key((struct sockaddr *)&ss, sizeof(ss), key, sizeof(key)),
			 -EINVAL);
	ck_assert_int_eq(xs_addr_text((struct sockaddr *)&ss, sizeof(ss), text, sizeof(text)),
			 -EINVAL);
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

static Suite *negotiate_suite(void)
{
	Suite *s = suite_create("negotiate");
	TCase *tc = tcase_create("parsers");

	tcase_add_checked_fixture(tc, NULL, free_copies);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_kv_get);
	tcase_add_test(tc, test_kv_get_malformed);
	tcase_add_test(tc, test_kv_get_length);
	tcase_add_test(tc, test_kv_get_uint);
	tcase_add_test(tc, test_kv_get_id);
	tcase_add_test(tc, test_check_id);
	tcase_add_test(tc, test_answer);
	tcase_add_test(tc, test_answer_malformed);
	tcase_add_test(tc, test_answer_huge);
	tcase_add_test(tc, test_request);
	tcase_add_test(tc, test_listen);
	tcase_add_test(tc, test_listen_addr);
	tcase_add_test(tc, test_refusal_errno);
	tcase_add_test(tc, test_addr_key);
	tcase_add_test(tc, test_text_to_sa);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(negotiate_suite());
}
