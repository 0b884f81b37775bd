/* SPDX-License-Identifier: MIT */
/*
 * Addresses, prefixes and the peer registry.
 *
 * The pure parts (parsing, formatting, keys, matching, lookups on arrays)
 * are tested everywhere. The store-backed parts (xs_registry_add/del/list)
 * need the local backend's store; while it is not built (xsp_store_open()
 * returns -ENOSYS) those tests return early, and say so on stderr.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "conn/addr.h"
#include "conn/registry.h"
#include "platform/platform.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

static struct xs_prefix P(const char *s)
{
	struct xs_prefix p;

	ck_assert_msg(xs_prefix_parse(s, &p) == 0, "cannot parse '%s'", s);
	return p;
}

static socklen_t sa_of(const char *addr, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(80);
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
		return sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(80);
		ck_assert_int_eq(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
		return sizeof(*sin);
	}
}

static bool match(const char *prefix, const char *addr)
{
	struct sockaddr_storage ss;
	struct xs_prefix p = P(prefix);
	socklen_t len = sa_of(addr, &ss);

	return xs_prefix_match(&p, (struct sockaddr *)&ss, len);
}

static bool loopback(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_of(addr, &ss);

	return xs_addr_is_loopback((struct sockaddr *)&ss, len);
}

static bool prefix_eq(const struct xs_prefix *a, const struct xs_prefix *b)
{
	return a->family == b->family && a->plen == b->plen &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* ---- parsing: valid ---------------------------------------------------------- */

static const struct {
	const char *in;
	int family;
	const char *addr;	/* inet_pton form of the expected address */
	unsigned int plen;
	const char *canon;	/* xs_prefix_format() of the result */
} valid[] = {
	{ "10.77.0.2", AF_INET, "10.77.0.2", 32, "10.77.0.2" },
	{ "10.77.0.2/32", AF_INET, "10.77.0.2", 32, "10.77.0.2" },
	{ "10.77.0.0/24", AF_INET, "10.77.0.0", 24, "10.77.0.0/24" },
	{ "10.0.0.0/8", AF_INET, "10.0.0.0", 8, "10.0.0.0/8" },
	{ "0.0.0.0/0", AF_INET, "0.0.0.0", 0, "0.0.0.0/0" },
	{ "255.255.255.255", AF_INET, "255.255.255.255", 32, "255.255.255.255" },
	{ "10.0.16.0/20", AF_INET, "10.0.16.0", 20, "10.0.16.0/20" },
	{ "192.168.1.128/25", AF_INET, "192.168.1.128", 25, "192.168.1.128/25" },
	{ "0.0.0.0", AF_INET, "0.0.0.0", 32, "0.0.0.0" },
	{ "::1", AF_INET6, "::1", 128, "::1" },
	{ "::/0", AF_INET6, "::", 0, "::/0" },
	{ "2001:db8::/32", AF_INET6, "2001:db8::", 32, "2001:db8::/32" },
	{ "2001:DB8::/32", AF_INET6, "2001:db8::", 32, "2001:db8::/32" },
	{ "2001:0db8:0000:0000:0000:0000:0000:0001", AF_INET6, "2001:db8::1", 128,
	  "2001:db8::1" },
	{ "2001:db8::1/128", AF_INET6, "2001:db8::1", 128, "2001:db8::1" },
	{ "fe80::/10", AF_INET6, "fe80::", 10, "fe80::/10" },
	{ "::ffff:10.0.0.1", AF_INET6, "::ffff:10.0.0.1", 128, "::ffff:10.0.0.1" },
	{ "::ffff:10.0.0.0/104", AF_INET6, "::ffff:10.0.0.0", 104, "::ffff:10.0.0.0/104" },
	{ "2001:db8:0:1::/64", AF_INET6, "2001:db8:0:1::", 64, "2001:db8:0:1::/64" },
	{ "2001:db8::8000:0/97", AF_INET6, "2001:db8::8000:0", 97, "2001:db8::8000:0/97" },
};

START_TEST(parse_valid)
{
	struct xs_prefix p, again;
	uint8_t want[16] = { 0 };
	char buf[XS_PREFIX_STRLEN];

	memset(&p, 0xA5, sizeof(p));
	ck_assert_int_eq(xs_prefix_parse(valid[_i].in, &p), 0);
	ck_assert_int_eq(p.family, valid[_i].family);
	ck_assert_uint_eq(p.plen, valid[_i].plen);
	ck_assert_int_eq(inet_pton(valid[_i].family, valid[_i].addr, want), 1);
	ck_assert_mem_eq(p.addr, want, 16);	/* an IPv4 prefix leaves bytes 4..15 zero */
	ck_assert_int_eq(xs_prefix_format(&p, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, valid[_i].canon);
	/* The canonical text parses back to the same prefix. */
	ck_assert_int_eq(xs_prefix_parse(buf, &again), 0);
	ck_assert(prefix_eq(&p, &again));
}
END_TEST

/* ---- parsing: invalid -------------------------------------------------------- */

static const char *const invalid[] = {
	"",			/* empty */
	"/24",			/* no address */
	"10.0.0.1/",		/* slash without a number */
	"10.0.0.0/33",		/* too long for IPv4 */
	"::/129",		/* too long for IPv6 */
	"10.0.0.0/024",		/* leading zero */
	"10.0.0.0/00",		/* leading zero */
	"10.0.0.0/+8",		/* sign */
	"10.0.0.0/-8",		/* sign */
	"10.0.0.0/ 8",		/* space */
	"10.0.0.0/8 ",		/* trailing space */
	" 10.0.0.1",		/* leading space */
	"+10.0.0.1",		/* leading plus */
	"10.0.0.1 ",		/* trailing space */
	"10.0.0.1x",		/* trailing garbage */
	"10.0.0.0/8x",		/* trailing garbage after the length */
	"10.0.0.0/8/8",		/* two slashes */
	"10.0.0.1/24",		/* host bits set */
	"10.0.0.128/24",	/* host bits set */
	"2001:db8::1/32",	/* host bits set */
	"10.0.0.300",		/* octet too large */
	"10.0.0",		/* not a dotted quad */
	"10.1",			/* inet_aton shorthand */
	"167772161",		/* inet_aton integer form */
	"0x0a.0.0.1",		/* hex */
	"010.0.0.1",		/* octal-looking leading zero */
	"10.0.0.1.",		/* trailing dot */
	"10..0.1",		/* empty octet */
	"fe80::1%eth0",		/* scope id */
	"fe80::1%1",		/* numeric scope id */
	"2001:db8:::1",		/* bad IPv6 */
	"2001:db8::g",		/* bad hex */
	"1:2:3:4:5:6:7:8:9",	/* too many groups */
	"[::1]",		/* brackets */
	"localhost",		/* names are not addresses */
	"10.0.0.1/4294967328",	/* wraps to 32 in 32 bits */
	"10.0.0.0/1000",	/* too many digits */
	"-1",
	"1.2.3.4\n",		/* newline */
	"::1111111111111111111111111111111111111111111111111111111111",	/* overlong */
};

START_TEST(parse_invalid)
{
	struct xs_prefix p, untouched;

	memset(&p, 0xA5, sizeof(p));
	memcpy(&untouched, &p, sizeof(p));
	ck_assert_msg(xs_prefix_parse(invalid[_i], &p) == -EINVAL, "accepted '%s'", invalid[_i]);
	ck_assert_mem_eq(&p, &untouched, sizeof(p));	/* nothing written */
}
END_TEST

START_TEST(parse_null)
{
	struct xs_prefix p;

	ck_assert_int_eq(xs_prefix_parse(NULL, &p), -EINVAL);
	ck_assert_int_eq(xs_prefix_parse("10.0.0.1", NULL), -EINVAL);
}
END_TEST

/* ---- formatting ---------------------------------------------------------------- */

START_TEST(format_buffer_sizes)
{
	struct xs_prefix p = P("10.77.0.0/24");
	struct xs_prefix q = P("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124");
	char buf[XS_PREFIX_STRLEN];
	size_t n = strlen("10.77.0.0/24");

	ck_assert_int_eq(xs_prefix_format(&p, buf, n + 1), 0);
	ck_assert_str_eq(buf, "10.77.0.0/24");
	ck_assert_int_eq(xs_prefix_format(&p, buf, n), -ENOSPC);
	ck_assert_int_eq(xs_prefix_format(&p, buf, 0), -ENOSPC);
	/* The longest text there is fits XS_PREFIX_STRLEN. */
	ck_assert_int_eq(xs_prefix_format(&q, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124");
}
END_TEST

START_TEST(format_rejects_bad_struct)
{
	struct xs_prefix p = P("10.0.0.0/8");
	char buf[XS_PREFIX_STRLEN];

	p.plen = 33;
	ck_assert_int_eq(xs_prefix_format(&p, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(xs_prefix_to_key(&p, buf, sizeof(buf)), -EINVAL);
	p = P("10.0.0.0/8");
	p.addr[3] = 1;		/* host bit */
	ck_assert_int_eq(xs_prefix_format(&p, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(xs_prefix_to_key(&p, buf, sizeof(buf)), -EINVAL);
	p = P("10.0.0.0/8");
	p.family = AF_UNIX;
	ck_assert_int_eq(xs_prefix_format(&p, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(xs_prefix_to_key(&p, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(xs_prefix_format(NULL, buf, sizeof(buf)), -EINVAL);
}
END_TEST

/* ---- keys ------------------------------------------------------------------------ */

START_TEST(key_examples)
{
	struct xs_prefix p = P("10.77.0.2"), q = P("2001:db8::/32"), back;
	char key[XS_PREFIX_KEYLEN];

	ck_assert_int_eq(xs_prefix_to_key(&p, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "4-0a4d0002-32");
	ck_assert_int_eq(xs_prefix_to_key(&q, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "6-20010db8000000000000000000000000-32");
	ck_assert_int_eq(xs_prefix_from_key("4-0a4d0000-16", &back), 0);
	ck_assert(prefix_eq(&back, &(struct xs_prefix){ .family = AF_INET,
			    .addr = { 10, 77 }, .plen = 16 }));
	ck_assert_int_eq(xs_prefix_from_key("4-00000000-0", &back), 0);
	ck_assert_uint_eq(back.plen, 0);
}
END_TEST

START_TEST(key_round_trip)
{
	struct xs_prefix p, back;
	char key[XS_PREFIX_KEYLEN], again[XS_PREFIX_KEYLEN];
	const char *c;

	ck_assert_int_eq(xs_prefix_parse(valid[_i].in, &p), 0);
	ck_assert_int_eq(xs_prefix_to_key(&p, key, sizeof(key)), 0);
	for (c = key; *c; c++)
		ck_assert_msg((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || *c == '-',
			      "key '%s' has '%c'", key, *c);
	ck_assert_int_eq(xs_prefix_from_key(key, &back), 0);
	ck_assert(prefix_eq(&p, &back));
	ck_assert_int_eq(xs_prefix_to_key(&back, again, sizeof(again)), 0);
	ck_assert_str_eq(key, again);
}
END_TEST

START_TEST(key_buffer_sizes)
{
	struct xs_prefix p = P("10.77.0.2");
	char key[XS_PREFIX_KEYLEN];

	ck_assert_int_eq(xs_prefix_to_key(&p, key, strlen("4-0a4d0002-32") + 1), 0);
	ck_assert_int_eq(xs_prefix_to_key(&p, key, strlen("4-0a4d0002-32")), -ENOSPC);
	p = P("2001:db8::/128");
	ck_assert_int_eq(xs_prefix_to_key(&p, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "6-20010db8000000000000000000000000-128");
}
END_TEST

static const char *const bad_keys[] = {
	"",
	"4",
	"4-",
	"4-0a4d0002",			/* no length */
	"4-0a4d0002-",			/* empty length */
	"4-0A4D0002-32",		/* upper case is not canonical */
	"4-0a4d002-32",			/* short */
	"4-0a4d000200-32",		/* long */
	"4-0a4d0002-33",		/* too long a prefix */
	"4-0a4d0002-032",		/* leading zero */
	"4-0a4d0002-24",		/* host bits */
	"4-0a4d0002-32-",		/* trailing */
	"4-0a4d0002-32 ",		/* trailing space */
	"5-0a4d0002-32",		/* family */
	"4_0a4d0002_32",		/* separators */
	"6-0a4d0002-32",		/* IPv6 with IPv4 length address */
	"6-20010db8000000000000000000000000-129",
	"6-20010db8000000000000000000000001-32",	/* host bits */
	"4-0a4d0g02-32",		/* not hex */
	"4-0a4d0002-+3",		/* sign */
	"10.77.0.2",			/* text form is not a key */
};

START_TEST(key_invalid)
{
	struct xs_prefix p, untouched;

	memset(&p, 0x5A, sizeof(p));
	memcpy(&untouched, &p, sizeof(p));
	ck_assert_msg(xs_prefix_from_key(bad_keys[_i], &p) == -EINVAL, "accepted key '%s'",
		      bad_keys[_i]);
	ck_assert_mem_eq(&p, &untouched, sizeof(p));
}
END_TEST

/* ---- matching ---------------------------------------------------------------------- */

START_TEST(match_ipv4)
{
	ck_assert(match("10.0.0.0/8", "10.1.2.3"));
	ck_assert(match("10.0.0.0/8", "10.255.255.255"));
	ck_assert(!match("10.0.0.0/8", "11.0.0.0"));
	ck_assert(!match("10.0.0.0/8", "9.255.255.255"));
	ck_assert(match("10.0.16.0/20", "10.0.31.255"));
	ck_assert(!match("10.0.16.0/20", "10.0.32.0"));
	ck_assert(!match("10.0.16.0/20", "10.0.15.255"));
	ck_assert(match("10.77.0.2", "10.77.0.2"));
	ck_assert(!match("10.77.0.2", "10.77.0.3"));
	ck_assert(match("0.0.0.0/0", "203.0.113.9"));
	ck_assert(match("192.168.1.128/25", "192.168.1.200"));
	ck_assert(!match("192.168.1.128/25", "192.168.1.127"));
	/* An IPv4 prefix never matches a genuine IPv6 address. */
	ck_assert(!match("0.0.0.0/0", "2001:db8::1"));
}
END_TEST

START_TEST(match_v4_mapped)
{
	ck_assert(match("10.0.0.0/8", "::ffff:10.1.2.3"));
	ck_assert(match("10.77.0.2", "::ffff:10.77.0.2"));
	ck_assert(!match("10.0.0.0/8", "::ffff:11.1.2.3"));
	ck_assert(match("0.0.0.0/0", "::ffff:1.2.3.4"));
	/* IPv4-compatible (::a.b.c.d) and NAT64 forms are not mapped addresses. */
	ck_assert(!match("10.0.0.0/8", "::10.1.2.3"));
	ck_assert(!match("10.0.0.0/8", "64:ff9b::10.1.2.3"));
	/* A mapped IPv6 prefix matches mapped IPv6 socket addresses as IPv6. */
	ck_assert(match("::ffff:10.0.0.0/104", "::ffff:10.9.9.9"));
	ck_assert(!match("::ffff:10.0.0.0/104", "10.9.9.9"));
}
END_TEST

START_TEST(match_ipv6)
{
	ck_assert(match("2001:db8::/32", "2001:db8:1::1"));
	ck_assert(!match("2001:db8::/32", "2001:db9::1"));
	ck_assert(match("fe80::/10", "febf::1"));
	ck_assert(!match("fe80::/10", "fec0::1"));
	ck_assert(match("::/0", "::1"));
	ck_assert(match("2001:db8::8000:0/97", "2001:db8::ffff:ffff"));
	ck_assert(!match("2001:db8::8000:0/97", "2001:db8::7fff:ffff"));
	ck_assert(!match("::/0", "10.0.0.1"));	/* AF_INET never matches IPv6 prefixes */
}
END_TEST

START_TEST(match_bad_sockaddr)
{
	struct xs_prefix p = P("0.0.0.0/0"), q = P("::/0");
	struct sockaddr_storage ss;
	socklen_t len;

	len = sa_of("10.0.0.1", &ss);
	ck_assert(xs_prefix_match(&p, (struct sockaddr *)&ss, len));
	ck_assert(!xs_prefix_match(&p, (struct sockaddr *)&ss, len - 1));	/* truncated */
	ck_assert(!xs_prefix_match(&p, NULL, len));
	ck_assert(!xs_prefix_match(NULL, (struct sockaddr *)&ss, len));
	len = sa_of("::1", &ss);
	ck_assert(xs_prefix_match(&q, (struct sockaddr *)&ss, len));
	ck_assert(!xs_prefix_match(&q, (struct sockaddr *)&ss, len - 1));
	ss.ss_family = AF_UNIX;
	ck_assert(!xs_prefix_match(&q, (struct sockaddr *)&ss, sizeof(ss)));
	ck_assert(!xs_prefix_match(&p, (struct sockaddr *)&ss, sizeof(ss)));
}
END_TEST

START_TEST(loopback_addresses)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert(loopback("127.0.0.1"));
	ck_assert(loopback("127.255.255.254"));
	ck_assert(loopback("127.1.2.3"));
	ck_assert(loopback("::1"));
	ck_assert(loopback("::ffff:127.0.0.1"));
	ck_assert(loopback("::ffff:127.9.9.9"));
	ck_assert(!loopback("128.0.0.1"));
	ck_assert(!loopback("126.255.255.255"));
	ck_assert(!loopback("10.0.0.1"));
	ck_assert(!loopback("0.0.0.0"));
	ck_assert(!loopback("::"));
	ck_assert(!loopback("::2"));
	ck_assert(!loopback("::ffff:10.0.0.1"));
	ck_assert(!loopback("::127.0.0.1"));
	ck_assert(!loopback("fe80::1"));
	len = sa_of("127.0.0.1", &ss);
	ck_assert(!xs_addr_is_loopback((struct sockaddr *)&ss, len - 1));
	ck_assert(!xs_addr_is_loopback(NULL, len));
	ss.ss_family = AF_UNIX;
	ck_assert(!xs_addr_is_loopback((struct sockaddr *)&ss, sizeof(ss)));
}
END_TEST

/* ---- lookups on arrays ----------------------------------------------------------------- */

static xsp_domid_t lookup(const struct xs_peer *peers, unsigned int n, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_of(addr, &ss);
	xsp_domid_t dom = 0xBEEF;
	int rc;

	rc = xs_registry_lookup(peers, n, (struct sockaddr *)&ss, len, &dom);
	if (rc == -ENOENT) {
		ck_assert_uint_eq(dom, 0xBEEF);		/* untouched */
		return XSP_DOMID_INVALID;
	}
	ck_assert_int_eq(rc, 0);
	return dom;
}

START_TEST(lookup_longest_prefix)
{
	/* Deliberately not sorted: lookup must not depend on order. */
	struct xs_peer peers[] = {
		{ .prefix = P("10.0.0.0/8"), .dom = 2 },
		{ .prefix = P("10.1.2.3"), .dom = 4 },
		{ .prefix = P("0.0.0.0/0"), .dom = 9 },
		{ .prefix = P("10.1.0.0/16"), .dom = 3 },
		{ .prefix = P("2001:db8::/32"), .dom = 6 },
		{ .prefix = P("2001:db8:1::/48"), .dom = 7 },
	};
	unsigned int n = sizeof(peers) / sizeof(peers[0]);

	ck_assert_uint_eq(lookup(peers, n, "10.1.2.3"), 4);
	ck_assert_uint_eq(lookup(peers, n, "10.1.2.4"), 3);
	ck_assert_uint_eq(lookup(peers, n, "10.2.0.1"), 2);
	ck_assert_uint_eq(lookup(peers, n, "11.0.0.1"), 9);
	ck_assert_uint_eq(lookup(peers, n, "::ffff:10.1.2.3"), 4);
	ck_assert_uint_eq(lookup(peers, n, "::ffff:10.1.9.9"), 3);
	ck_assert_uint_eq(lookup(peers, n, "2001:db8:1::5"), 7);
	ck_assert_uint_eq(lookup(peers, n, "2001:db8:2::5"), 6);
	ck_assert_uint_eq(lookup(peers, n, "2001:db9::1"), XSP_DOMID_INVALID);
	/* Without the default route, unknown IPv4 addresses are not found. */
	peers[2] = peers[5];
	ck_assert_uint_eq(lookup(peers, n - 1, "11.0.0.1"), XSP_DOMID_INVALID);
}
END_TEST

START_TEST(lookup_empty_and_bad)
{
	struct xs_peer peers[] = { { .prefix = P("10.0.0.0/8"), .dom = 2 } };
	struct sockaddr_storage ss;
	socklen_t len = sa_of("10.0.0.1", &ss);
	xsp_domid_t dom;

	ck_assert_int_eq(xs_registry_lookup(NULL, 0, (struct sockaddr *)&ss, len, &dom),
			 -ENOENT);
	ck_assert_int_eq(xs_registry_lookup(peers, 1, (struct sockaddr *)&ss, len - 1, &dom),
			 -ENOENT);
	ck_assert_int_eq(xs_registry_lookup(peers, 1, NULL, len, &dom), -ENOENT);
	ck_assert_int_eq(xs_registry_lookup(peers, 1, (struct sockaddr *)&ss, len, &dom), 0);
	ck_assert_uint_eq(dom, 2);
}
END_TEST

START_TEST(has_domain)
{
	struct xs_peer peers[] = {
		{ .prefix = P("10.0.0.0/8"), .dom = 2 },
		{ .prefix = P("2001:db8::/32"), .dom = 0 },
		{ .prefix = P("10.9.9.9"), .dom = 32751 },
	};

	ck_assert(xs_registry_has_domain(peers, 3, 2));
	ck_assert(xs_registry_has_domain(peers, 3, 0));
	ck_assert(xs_registry_has_domain(peers, 3, 32751));
	ck_assert(!xs_registry_has_domain(peers, 3, 1));
	ck_assert(!xs_registry_has_domain(peers, 2, 32751));	/* n is honoured */
	ck_assert(!xs_registry_has_domain(NULL, 0, 2));
}
END_TEST

static void check_addr_of(const struct xs_peer *peers, unsigned int n, xsp_domid_t dom,
			  int family, int want_family, const char *want)
{
	struct sockaddr_storage ss, exp;
	socklen_t len = 0, explen;

	memset(&ss, 0xEE, sizeof(ss));
	ck_assert_int_eq(xs_registry_addr_of(peers, n, dom, family, &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, want_family);
	explen = sa_of(want, &exp);
	/* sa_of sets port 80; addr_of reports port 0 */
	if (want_family == AF_INET)
		((struct sockaddr_in *)&exp)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&exp)->sin6_port = 0;
	ck_assert_uint_eq(len, explen);
	ck_assert_mem_eq(&ss, &exp, explen);
}

START_TEST(addr_of)
{
	struct xs_peer peers[] = {
		{ .prefix = P("10.77.0.0/16"), .dom = 2 },
		{ .prefix = P("10.77.0.2"), .dom = 2 },
		{ .prefix = P("2001:db8::2"), .dom = 2 },
		{ .prefix = P("10.0.0.0/8"), .dom = 3 },
		{ .prefix = P("2001:db8:5::/48"), .dom = 5 },
	};
	struct sockaddr_storage ss;
	socklen_t len;

	check_addr_of(peers, 5, 2, AF_INET, AF_INET, "10.77.0.2");
	check_addr_of(peers, 5, 2, AF_INET6, AF_INET6, "2001:db8::2");
	check_addr_of(peers, 5, 2, AF_UNSPEC, AF_INET, "10.77.0.2");
	/* IPv6 wanted, only IPv4 registered: the mapped address. */
	check_addr_of(peers, 5, 3, AF_INET6, AF_INET6, "::ffff:10.0.0.0");
	/* IPv4 wanted, only IPv6 registered: the IPv6 address. */
	check_addr_of(peers, 5, 5, AF_INET, AF_INET6, "2001:db8:5::");
	ck_assert_int_eq(xs_registry_addr_of(peers, 5, 4, AF_INET, &ss, &len), -ENOENT);
	ck_assert_int_eq(xs_registry_addr_of(NULL, 0, 2, AF_INET, &ss, &len), -ENOENT);
	ck_assert_int_eq(xs_registry_addr_of(peers, 5, 2, AF_UNIX, &ss, &len), -EINVAL);
}
END_TEST

/* ---- the store-backed registry ----------------------------------------------------------- */

struct dom {
	struct xsp *p;
	struct xsp_store *st;
};

/* Open domain @id; false (test skipped) while the local store is not built. */
static bool dom_open(struct dom *d, unsigned int id)
{
	char buf[16];
	int rc;

	snprintf(buf, sizeof(buf), "%u", id);
	setenv("XSOCK_DOMID", buf, 1);
	ck_assert_int_eq(xsp_open(&d->p), 0);
	ck_assert_uint_eq(xsp_self_domid(d->p), id);
	rc = xsp_store_open(d->p, &d->st);
	if (rc == -ENOSYS) {
		fprintf(stderr, "SKIP: the local store is not implemented in this build\n");
		xsp_close(d->p);
		return false;
	}
	ck_assert_int_eq(rc, 0);
	return true;
}

static void dom_close(struct dom *d)
{
	xsp_store_close(d->st);
	xsp_close(d->p);
}

static const char *dir;

static void store_setup(void)
{
	dir = tu_fresh_local_dir();
}

static void store_teardown(void)
{
	tu_rm_rf(dir);
}

START_TEST(registry_round_trip)
{
	struct xs_prefix a = P("10.77.0.2"), b = P("10.77.0.0/16"), c = P("2001:db8::/32");
	struct xs_peer *peers = (void *)1;
	unsigned int n = 99;
	struct dom d;
	char *val;
	size_t len;

	if (!dom_open(&d, 1))
		return;
	/* Absent registry: empty, not an error. */
	ck_assert_int_eq(xs_registry_list(d.st, 1, &peers, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(peers);

	ck_assert_int_eq(xs_registry_add(d.st, 1, &b, 3), 0);
	ck_assert_int_eq(xs_registry_add(d.st, 1, &c, 4), 0);
	ck_assert_int_eq(xs_registry_add(d.st, 1, &a, 2), 0);
	ck_assert_int_eq(xsp_store_read(d.st, XSP_TXN_NONE,
					"/local/domain/1/data/xsock/peers/4-0a4d0002-32",
					&val, &len), 0);
	ck_assert_str_eq(val, "2 10.77.0.2");
	ck_assert_uint_eq(len, strlen("2 10.77.0.2"));
	free(val);

	ck_assert_int_eq(xs_registry_list(d.st, 1, &peers, &n), 0);
	ck_assert_uint_eq(n, 3);
	/* longest first */
	ck_assert(prefix_eq(&peers[0].prefix, &a));
	ck_assert_uint_eq(peers[0].dom, 2);
	ck_assert(prefix_eq(&peers[1].prefix, &c));
	ck_assert_uint_eq(peers[1].dom, 4);
	ck_assert(prefix_eq(&peers[2].prefix, &b));
	ck_assert_uint_eq(peers[2].dom, 3);
	free(peers);

	/* Replace: same prefix, new domain, still three entries. */
	ck_assert_int_eq(xs_registry_add(d.st, 1, &b, 5), 0);
	ck_assert_int_eq(xs_registry_list(d.st, 1, &peers, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(peers[2].dom, 5);
	free(peers);

	ck_assert_int_eq(xs_registry_del(d.st, 1, &a), 0);
	ck_assert_int_eq(xs_registry_del(d.st, 1, &a), -ENOENT);
	ck_assert_int_eq(xs_registry_list(d.st, 1, &peers, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(prefix_eq(&peers[0].prefix, &c));
	free(peers);
	dom_close(&d);
}
END_TEST

START_TEST(registry_rejects_bad_domains)
{
	struct xs_prefix a = P("10.77.0.2");
	struct xs_peer *peers;
	unsigned int n;
	struct dom d;

	if (!dom_open(&d, 1))
		return;
	ck_assert_int_eq(xs_registry_add(d.st, 1, &a, 1), -EINVAL);		/* self */
	ck_assert_int_eq(xs_registry_add(d.st, 1, &a, 0x7FF0), -EINVAL);	/* reserved */
	ck_assert_int_eq(xs_registry_add(d.st, 1, &a, 0xFFFF), -EINVAL);
	ck_assert_int_eq(xs_registry_del(d.st, 1, &a), -ENOENT);
	ck_assert_int_eq(xs_registry_add(d.st, 1, &a, 0x7FEF), 0);		/* last valid */
	ck_assert_int_eq(xs_registry_add(d.st, 1, &a, 0), 0);			/* dom0 is a peer */
	ck_assert_int_eq(xs_registry_list(d.st, 1, &peers, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(peers[0].dom, 0);
	free(peers);
	dom_close(&d);
}
END_TEST

START_TEST(registry_skips_malformed)
{
	static const char *const bad[][2] = {
		{ "4-0a4d0003-32", "2 10.77.0.4" },		/* text and key disagree */
		{ "4-0a4d0004-32", "1 10.77.0.4" },		/* self */
		{ "4-0a4d0005-32", "32752 10.77.0.5" },		/* reserved */
		{ "4-0a4d0006-32", "x 10.77.0.6" },		/* not a number */
		{ "4-0a4d0007-32", "02 10.77.0.7" },		/* leading zero */
		{ "4-0a4d0008-32", "2 10.77.0.8 junk" },	/* trailing garbage */
		{ "4-0a4d0009-32", "2" },			/* no prefix */
		{ "4-0a4d000a-32", "" },			/* empty */
		{ "4-0a4d000b-32", "-2 10.77.0.11" },		/* sign */
		{ "4-0A4D000C-32", "2 10.77.0.12" },		/* key not canonical */
		{ "junk", "2 10.77.0.13" },			/* key does not decode */
		{ "4-0a4d000e-24", "2 10.77.0.14/24" },		/* host bits */
		{ "4-0a4d000f-32", "2  10.77.0.15" },		/* two spaces */
	};
	struct xs_prefix good = P("10.77.0.2");
	char path[256];
	struct xs_peer *peers;
	unsigned int n, i;
	struct dom d;

	if (!dom_open(&d, 1))
		return;
	ck_assert_int_eq(xs_registry_add(d.st, 1, &good, 2), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/local/domain/1/data/xsock/peers/%s", bad[i][0]);
		ck_assert_int_eq(xsp_store_write(d.st, XSP_TXN_NONE, path, bad[i][1],
						 strlen(bad[i][1])), 0);
	}
	/* A value with an embedded NUL. */
	ck_assert_int_eq(xsp_store_write(d.st, XSP_TXN_NONE,
					 "/local/domain/1/data/xsock/peers/4-0a4d0010-32",
					 "2 10.77.0.16\0x", 14), 0);
	ck_assert_int_eq(xs_registry_list(d.st, 1, &peers, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(prefix_eq(&peers[0].prefix, &good));
	ck_assert_uint_eq(peers[0].dom, 2);
	free(peers);
	dom_close(&d);
}
END_TEST

START_TEST(registry_is_private)
{
	struct xs_prefix a = P("10.77.0.2"), b = P("10.77.0.1");
	struct xs_peer *peers;
	struct xsp_perm *perms;
	unsigned int n;
	struct dom d1, d2;

	if (!dom_open(&d1, 1))
		return;
	ck_assert_int_eq(xs_registry_add(d1.st, 1, &a, 2), 0);
	ck_assert_int_eq(xsp_store_get_perms(d1.st, XSP_TXN_NONE,
					     "/local/domain/1/data/xsock/peers", &perms, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(perms[0].dom, 1);
	ck_assert_uint_eq(perms[0].perm, XSP_PERM_NONE);
	free(perms);

	ck_assert(dom_open(&d2, 2));
	/* Domain 2 has its own, empty registry and cannot read domain 1's. */
	ck_assert_int_eq(xs_registry_list(d2.st, 2, &peers, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(peers);
	ck_assert_int_eq(xs_registry_list(d2.st, 1, &peers, &n), -EACCES);
	ck_assert_int_eq(xs_registry_add(d2.st, 1, &b, 2), -EACCES);
	ck_assert_int_eq(xs_registry_del(d2.st, 1, &a), -EACCES);
	ck_assert_int_eq(xs_registry_add(d2.st, 2, &b, 1), 0);
	ck_assert_int_eq(xs_registry_list(d2.st, 2, &peers, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(prefix_eq(&peers[0].prefix, &b));
	free(peers);

	/* Domain 1 still sees exactly its own entry. */
	ck_assert_int_eq(xs_registry_list(d1.st, 1, &peers, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(prefix_eq(&peers[0].prefix, &a));
	free(peers);
	dom_close(&d2);
	dom_close(&d1);
}
END_TEST

START_TEST(registry_many_sorted)
{
	struct xs_peer *peers;
	struct xs_prefix p;
	unsigned int n, i, plen;
	char text[64];
	struct dom d;

	if (!dom_open(&d, 3))
		return;
	/* 10.<plen>.0.0/<plen> for plen 8..32 and fd00::/<plen> for a few lengths */
	for (plen = 16; plen <= 32; plen++) {
		snprintf(text, sizeof(text), "10.%u.0.0/%u", plen, plen);
		p = P(text);
		ck_assert_int_eq(xs_registry_add(d.st, 3, &p, (xsp_domid_t)plen), 0);
	}
	for (plen = 8; plen <= 64; plen += 8) {
		snprintf(text, sizeof(text), "fd00::/%u", plen);
		p = P(text);
		ck_assert_int_eq(xs_registry_add(d.st, 3, &p, (xsp_domid_t)(100 + plen)), 0);
	}
	ck_assert_int_eq(xs_registry_list(d.st, 3, &peers, &n), 0);
	ck_assert_uint_eq(n, 17 + 8);
	for (i = 1; i < n; i++)
		ck_assert_uint_ge(peers[i - 1].prefix.plen, peers[i].prefix.plen);
	ck_assert_uint_eq(peers[0].prefix.plen, 64);
	ck_assert_uint_eq(peers[0].dom, 164);
	ck_assert_uint_eq(lookup(peers, n, "10.20.0.0"), 20);
	ck_assert_uint_eq(lookup(peers, n, "fd00::1"), 164);
	free(peers);
	dom_close(&d);
}
END_TEST

static Suite *addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("prefix");
	TCase *tl = tcase_create("lookup");
	TCase *ts = tcase_create("store");

	tcase_add_loop_test(tc, parse_valid, 0, sizeof(valid) / sizeof(valid[0]));
	tcase_add_loop_test(tc, parse_invalid, 0, sizeof(invalid) / sizeof(invalid[0]));
	tcase_add_test(tc, parse_null);
	tcase_add_test(tc, format_buffer_sizes);
	tcase_add_test(tc, format_rejects_bad_struct);
	tcase_add_test(tc, key_examples);
	tcase_add_loop_test(tc, key_round_trip, 0, sizeof(valid) / sizeof(valid[0]));
	tcase_add_test(tc, key_buffer_sizes);
	tcase_add_loop_test(tc, key_invalid, 0, sizeof(bad_keys) / sizeof(bad_keys[0]));
	tcase_add_test(tc, match_ipv4);
	tcase_add_test(tc, match_v4_mapped);
	tcase_add_test(tc, match_ipv6);
	tcase_add_test(tc, match_bad_sockaddr);
	tcase_add_test(tc, loopback_addresses);
	suite_add_tcase(s, tc);

	tcase_add_test(tl, lookup_longest_prefix);
	tcase_add_test(tl, lookup_empty_and_bad);
	tcase_add_test(tl, has_domain);
	tcase_add_test(tl, addr_of);
	suite_add_tcase(s, tl);

	tcase_add_checked_fixture(ts, store_setup, store_teardown);
	tcase_add_test(ts, registry_round_trip);
	tcase_add_test(ts, registry_rejects_bad_domains);
	tcase_add_test(ts, registry_skips_malformed);
	tcase_add_test(ts, registry_is_private);
	tcase_add_test(ts, registry_many_sorted);
	tcase_set_timeout(ts, 20);
	suite_add_tcase(s, ts);
	return s;
}

int main(void)
{
	return tu_run(addr_suite());
}
