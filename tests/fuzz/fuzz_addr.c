/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the address parsers.
 *
 * The input, as a C string (cut at the first NUL), goes to both
 * xs_prefix_parse() and xs_prefix_from_key(). Whatever either accepts must
 * satisfy the invariants the registry relies on:
 *  - the result is well formed (family, length in range, host bits clear);
 *  - format -> parse and key -> from_key give back the same prefix;
 *  - keys use [0-9a-f-] only, are canonical (from_key accepts exactly the
 *    text to_key produces) and fit XS_PREFIX_KEYLEN;
 *  - the IPv4 text form is canonical too: format(parse(s)) is s, or s
 *    without a "/32";
 *  - a prefix matches its own first address, IPv4 ones also v4-mapped;
 *  - nothing is written to the output on rejection.
 * Any violation aborts (this is test code, not the library).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s (%s:%d)\n",   \
				#cond, __FILE__, __LINE__);                 \
			abort();                                            \
		}                                                           \
	} while (0)

static bool same(const struct xs_prefix *a, const struct xs_prefix *b)
{
	return a->family == b->family && a->plen == b->plen &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static void check_well_formed(const struct xs_prefix *p)
{
	unsigned int bits, i;

	CHECK(p->family == AF_INET || p->family == AF_INET6);
	bits = p->family == AF_INET ? 32 : 128;
	CHECK(p->plen <= bits);
	for (i = p->plen; i < 128; i++)
		CHECK(!(p->addr[i / 8] & (0x80u >> (i % 8))));
}

static void check_prefix(const struct xs_prefix *p)
{
	char text[XS_PREFIX_STRLEN], key[XS_PREFIX_KEYLEN], small[8];
	struct xs_prefix back;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	const char *c;

	check_well_formed(p);

	CHECK(xs_prefix_format(p, text, sizeof(text)) == 0);
	CHECK(xs_prefix_parse(text, &back) == 0);
	CHECK(same(p, &back));
	/* A too-small buffer is refused, not overrun (ASan watches). */
	if (strlen(text) >= sizeof(small))
		CHECK(xs_prefix_format(p, small, sizeof(small)) == -ENOSPC);

	CHECK(xs_prefix_to_key(p, key, sizeof(key)) == 0);
	for (c = key; *c; c++)
		CHECK((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || *c == '-');
	CHECK(xs_prefix_from_key(key, &back) == 0);
	CHECK(same(p, &back));

	if (p->family == AF_INET) {
		memcpy(&sin.sin_addr, p->addr, 4);
		CHECK(xs_prefix_match(p, (struct sockaddr *)&sin, sizeof(sin)));
		sin6.sin6_addr.s6_addr[10] = 0xFF;
		sin6.sin6_addr.s6_addr[11] = 0xFF;
		memcpy(&sin6.sin6_addr.s6_addr[12], p->addr, 4);
		CHECK(xs_prefix_match(p, (struct sockaddr *)&sin6, sizeof(sin6)));
		CHECK(xs_addr_is_loopback((struct sockaddr *)&sin, sizeof(sin)) ==
		      (p->addr[0] == 127));
		CHECK(!xs_prefix_match(p, (struct sockaddr *)&sin, sizeof(sin) - 1));
	} else {
		memcpy(&sin6.sin6_addr, p->addr, 16);
		CHECK(xs_prefix_match(p, (struct sockaddr *)&sin6, sizeof(sin6)));
		CHECK(!xs_prefix_match(p, (struct sockaddr *)&sin6, sizeof(sin6) - 1));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256], text[XS_PREFIX_STRLEN], key[XS_PREFIX_KEYLEN];
	struct xs_prefix p, untouched;
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;

	memcpy(s, data, n);
	s[n] = '\0';
	memset(&untouched, 0xA5, sizeof(untouched));

	memcpy(&p, &untouched, sizeof(p));
	if (xs_prefix_parse(s, &p) == 0) {
		check_prefix(&p);
		if (p.family == AF_INET) {
			size_t tl;

			CHECK(xs_prefix_format(&p, text, sizeof(text)) == 0);
			tl = strlen(text);
			CHECK(strcmp(text, s) == 0 ||
			      (p.plen == 32 && strncmp(text, s, tl) == 0 &&
			       strcmp(s + tl, "/32") == 0));
		}
	} else {
		CHECK(memcmp(&p, &untouched, sizeof(p)) == 0);
	}

	memcpy(&p, &untouched, sizeof(p));
	if (xs_prefix_from_key(s, &p) == 0) {
		check_prefix(&p);
		CHECK(xs_prefix_to_key(&p, key, sizeof(key)) == 0);
		CHECK(strcmp(key, s) == 0);	/* keys are canonical */
	} else {
		CHECK(memcmp(&p, &untouched, sizeof(p)) == 0);
	}
	return 0;
}
