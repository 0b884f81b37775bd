/* SPDX-License-Identifier: MIT */
/*
 * Addresses and prefixes (see addr.h for the contract).
 *
 * Parsing is deliberately strict, because what it accepts ends up as a
 * routing and access rule:
 *  - "ADDR" or "ADDR/LEN", nothing before, nothing after, no spaces;
 *  - ADDR is an IPv4 dotted quad (inet_pton(AF_INET): four decimal parts,
 *    no leading zeros, no "10.1" or hex forms) or an IPv6 address in any
 *    form inet_pton(AF_INET6) accepts; scope ids ("fe80::1%eth0") are
 *    rejected: a prefix names addresses, not interfaces;
 *  - LEN is decimal, 0..32 or 0..128, without sign, spaces or leading
 *    zeros ("0" itself is fine, "00" and "024" are not): there is exactly
 *    one spelling of each length, so the text form is canonical for IPv4;
 *  - host bits beyond LEN must be clear ("10.0.0.1/24" is -EINVAL).
 * An IPv4-mapped IPv6 address ("::ffff:10.0.0.1") stays an IPv6 prefix;
 * xs_prefix_match() lets IPv4-mapped socket addresses match IPv4 prefixes.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <xsock/store.h>

#include "conn/addr.h"

static unsigned int family_bits(int family)
{
	if (family == AF_INET)
		return 32;
	if (family == AF_INET6)
		return 128;
	return 0;
}

/* Are all bits of @addr beyond the first @plen clear? */
static bool host_bits_clear(const uint8_t *addr, unsigned int bits,
			    unsigned int plen)
{
	unsigned int i;

	for (i = plen; i < bits; i++)
		if (addr[i / 8] & (0x80u >> (i % 8)))
			return false;
	return true;
}

/* Is @p a well-formed prefix (family known, length in range, host bits clear)? */
static bool prefix_valid(const struct xs_prefix *p)
{
	unsigned int bits;

	if (!p)
		return false;
	bits = family_bits(p->family);
	if (!bits || p->plen > bits)
		return false;
	return host_bits_clear(p->addr, bits, p->plen);
}

/* Do the first @plen bits of @a and @b agree? */
static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned int plen)
{
	unsigned int full = plen / 8, rest = plen % 8;
	uint8_t mask;

	if (memcmp(a, b, full) != 0)
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xFFu << (8 - rest));
	return ((a[full] ^ b[full]) & mask) == 0;
}

/*
 * A prefix length: 1-3 decimal digits, no leading zero unless it is "0",
 * at most @max. The whole of @s must be the number.
 */
static int parse_plen(const char *s, unsigned int max, unsigned int *out)
{
	unsigned int v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 3)
		return -EINVAL;
	if (s[0] == '0' && n > 1)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int xs_prefix_parse(const char *s, struct xs_prefix *out)
{
	char abuf[INET6_ADDRSTRLEN + 1];
	struct xs_prefix p;
	const char *slash;
	size_t alen;
	unsigned int bits;

	if (!s || !out)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	/* inet_pton's longest input is INET6_ADDRSTRLEN - 1 characters. */
	if (alen == 0 || alen >= sizeof(abuf))
		return -EINVAL;
	memcpy(abuf, s, alen);
	abuf[alen] = '\0';

	if (strchr(abuf, ':')) {
		p.family = AF_INET6;
		if (inet_pton(AF_INET6, abuf, p.addr) != 1)
			return -EINVAL;
	} else {
		p.family = AF_INET;
		if (inet_pton(AF_INET, abuf, p.addr) != 1)
			return -EINVAL;
	}
	bits = family_bits(p.family);
	p.plen = bits;
	if (slash && parse_plen(slash + 1, bits, &p.plen) < 0)
		return -EINVAL;
	if (!host_bits_clear(p.addr, bits, p.plen))
		return -EINVAL;
	*out = p;
	return 0;
}

int xs_prefix_format(const struct xs_prefix *p, char *buf, size_t len)
{
	char abuf[INET6_ADDRSTRLEN];
	int n;

	if (!prefix_valid(p) || !buf)
		return -EINVAL;
	if (!inet_ntop(p->family, p->addr, abuf, sizeof(abuf)))
		return -EINVAL;
	if (p->plen == family_bits(p->family))
		n = snprintf(buf, len, "%s", abuf);
	else
		n = snprintf(buf, len, "%s/%u", abuf, p->plen);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return 0;
}

int xs_prefix_to_key(const struct xs_prefix *p, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[XS_PREFIX_KEYLEN];
	unsigned int i, nbytes;
	size_t off;
	int n;

	if (!prefix_valid(p) || !buf)
		return -EINVAL;
	nbytes = family_bits(p->family) / 8;
	tmp[0] = p->family == AF_INET ? '4' : '6';
	tmp[1] = '-';
	off = 2;
	for (i = 0; i < nbytes; i++) {
		tmp[off++] = hex[p->addr[i] >> 4];
		tmp[off++] = hex[p->addr[i] & 0xF];
	}
	n = snprintf(tmp + off, sizeof(tmp) - off, "-%u", p->plen);
	if (n < 0 || (size_t)n >= sizeof(tmp) - off)
		return -EINVAL;	/* cannot happen: the key fits by construction */
	off += (size_t)n;
	if (off >= len)
		return -ENOSPC;
	memcpy(buf, tmp, off + 1);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;	/* upper case is not canonical: rejected */
}

int xs_prefix_from_key(const char *key, struct xs_prefix *out)
{
	struct xs_prefix p;
	unsigned int i, nbytes, bits;
	const char *c;

	if (!key || !out)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	if (key[0] == '4')
		p.family = AF_INET;
	else if (key[0] == '6')
		p.family = AF_INET6;
	else
		return -EINVAL;
	if (key[1] != '-')
		return -EINVAL;
	bits = family_bits(p.family);
	nbytes = bits / 8;
	c = key + 2;
	for (i = 0; i < nbytes; i++) {
		int hi, lo;

		/* hexval('\0') < 0, so a short key stops here, never reads past it */
		hi = hexval(c[0]);
		if (hi < 0)
			return -EINVAL;
		lo = hexval(c[1]);
		if (lo < 0)
			return -EINVAL;
		p.addr[i] = (uint8_t)(hi << 4 | lo);
		c += 2;
	}
	if (*c != '-')
		return -EINVAL;
	if (parse_plen(c + 1, bits, &p.plen) < 0)
		return -EINVAL;
	if (!host_bits_clear(p.addr, bits, p.plen))
		return -EINVAL;
	*out = p;
	return 0;
}

/*
 * The IPv4 address (4 bytes, network order) in @sa: an AF_INET address or
 * an IPv4-mapped AF_INET6 one. false if @sa is neither or too short.
 */
static bool sockaddr_v4(const struct sockaddr *sa, socklen_t salen, uint8_t *v4)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };

	if (!sa || salen < (socklen_t)sizeof(sa_family_t))
		return false;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;

		if (salen < (socklen_t)sizeof(sin))
			return false;
		memcpy(&sin, sa, sizeof(sin));
		memcpy(v4, &sin.sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		if (salen < (socklen_t)sizeof(sin6))
			return false;
		memcpy(&sin6, sa, sizeof(sin6));
		if (memcmp(sin6.sin6_addr.s6_addr, mapped, sizeof(mapped)) != 0)
			return false;
		memcpy(v4, sin6.sin6_addr.s6_addr + 12, 4);
		return true;
	}
	return false;
}

/* The IPv6 address in @sa (AF_INET6 only). */
static bool sockaddr_v6(const struct sockaddr *sa, socklen_t salen, uint8_t *v6)
{
	struct sockaddr_in6 sin6;

	if (!sa || salen < (socklen_t)sizeof(sin6) || sa->sa_family != AF_INET6)
		return false;
	memcpy(&sin6, sa, sizeof(sin6));
	memcpy(v6, sin6.sin6_addr.s6_addr, 16);
	return true;
}

bool xs_prefix_match(const struct xs_prefix *p, const struct sockaddr *sa,
		     socklen_t salen)
{
	uint8_t a[16];

	if (!prefix_valid(p))
		return false;
	if (p->family == AF_INET) {
		if (!sockaddr_v4(sa, salen, a))
			return false;
	} else {
		if (!sockaddr_v6(sa, salen, a))
			return false;
	}
	return bits_equal(p->addr, a, p->plen);
}

bool xs_addr_is_loopback(const struct sockaddr *sa, socklen_t salen)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };
	uint8_t a[16];

	if (sockaddr_v4(sa, salen, a))
		return a[0] == 127;
	if (sockaddr_v6(sa, salen, a))
		return memcmp(a, v6_loopback, sizeof(a)) == 0;
	return false;
}

bool xs_addr_is_any(const struct sockaddr *sa, socklen_t salen)
{
	static const uint8_t zero[16];
	uint8_t a[16];

	if (sockaddr_v4(sa, salen, a))
		return memcmp(a, zero, 4) == 0;
	if (sockaddr_v6(sa, salen, a))
		return memcmp(a, zero, sizeof(a)) == 0;
	return false;
}

int xs_addr_key(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len)
{
	uint8_t a[16];
	size_t i, n;
	int w;

	if (sockaddr_v4(sa, salen, a)) {
		w = snprintf(buf, len, XSOCK_ADDR_KEY_V4_FMT, a[0], a[1], a[2], a[3]);
		return w < 0 || (size_t)w >= len ? -ENOSPC : 0;
	}
	if (!sockaddr_v6(sa, salen, a))
		return -EINVAL;
	n = strlen(XSOCK_ADDR_KEY_V6_PREFIX);
	if (len < n + 2 * sizeof(a) + 1)
		return -ENOSPC;
	memcpy(buf, XSOCK_ADDR_KEY_V6_PREFIX, n);
	for (i = 0; i < sizeof(a); i++)
		snprintf(buf + n + 2 * i, 3, "%02x", a[i]);
	return 0;
}

int xs_addr_text(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len)
{
	uint8_t a[16];

	if (sockaddr_v4(sa, salen, a))
		return inet_ntop(AF_INET, a, buf, (socklen_t)len) ? 0 : -ENOSPC;
	if (sockaddr_v6(sa, salen, a))
		return inet_ntop(AF_INET6, a, buf, (socklen_t)len) ? 0 : -ENOSPC;
	return -EINVAL;
}
