/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the negotiation parsers (src/conn/negotiate.c):
 * the values a peer domain writes into the store; and the value of a
 * dir/<d> node (src/conn/identity.c, xs_dir_parse()).
 *
 * The input is one store value, handed over exactly as xsp_store_read()
 * does: a pointer and a length, in a heap block of exactly that size (no
 * NUL terminator, so ASan sees any read past the length). Checked:
 *  - xs_neg_check() accepts exactly the well-formed values, and every
 *    parser rejects anything it does not accept with -EPROTO;
 *  - return values are from the contract; outputs are untouched on error;
 *  - what a parser accepts is in range and NUL-terminated, and survives a
 *    round trip: formatting it and parsing the text gives the same result;
 *  - a key's value really is a word "key=value" of the input;
 *  - a refusal's errno is one a client may pass on (XSOCK_REFUSAL_ERRNOS);
 *  - the input as a node name is an id exactly when it is 1..16
 *    lowercase hex digits.
 * Any violation aborts (this is test code, not the library).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xsock/ring.h>
#include <xsock/store.h>

#include "conn/identity.h"
#include "conn/negotiate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "fuzz_negotiate: check failed: %s (line %d)\n", \
				#cond, __LINE__);                               \
			abort();                                                \
		}                                                               \
	} while (0)

static const char *const keys[] = {
	"state", "ref", "evtchn", "order", "err", "id", "port", "sport", "daddr", "pid", "reuse",
	"life", "addr", "idle", "name", "uuid", "x",
};

static bool refusal_errno_ok(int err)
{
	static const int allowed[] = { XSOCK_REFUSAL_ERRNOS };
	size_t i;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (err == allowed[i])
			return true;
	return false;
}

static bool well_formed(const char *v, size_t len)
{
	size_t i;

	if (len > XS_NEG_VALUE_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (v[i] != ' ' && ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e))
			return false;
	return true;
}

/* Is "key=val" one of the space-separated words of v[0..len)? */
static bool has_word(const char *v, size_t len, const char *key, const char *val)
{
	char word[XS_NEG_VALUE_MAX + 2];
	size_t wl = (size_t)snprintf(word, sizeof(word), "%s=%s", key, val), i = 0;

	while (i < len) {
		size_t start;

		while (i < len && v[i] == ' ')
			i++;
		start = i;
		while (i < len && v[i] != ' ')
			i++;
		if (i - start == wl && memcmp(v + start, word, wl) == 0)
			return true;
	}
	return false;
}

static void check_kv(const char *v, size_t len, bool ok)
{
	static const size_t lens[] = { 1, 2, 6, 24, 64, XS_NEG_VALUE_MAX };
	char buf[XS_NEG_VALUE_MAX + 8];
	unsigned long u;
	size_t k, b;
	int rc;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		for (b = 0; b < sizeof(lens) / sizeof(lens[0]); b++) {
			memset(buf, 0x5a, sizeof(buf));
			rc = xs_kv_get(v, len, keys[k], buf, lens[b]);
			if (!ok) {
				CHECK(rc == -EPROTO);
				CHECK((unsigned char)buf[0] == 0x5a);
				continue;
			}
			CHECK(rc == 0 || rc == -ENOENT || rc == -EPROTO);
			if (rc < 0) {
				CHECK((unsigned char)buf[0] == 0x5a);
				continue;
			}
			CHECK(memchr(buf, '\0', lens[b]) != NULL);
			CHECK(strlen(buf) > 0 && strlen(buf) < lens[b]);
			CHECK(!strchr(buf, ' '));
			CHECK((unsigned char)buf[lens[b]] == 0x5a);	/* no overrun */
			CHECK(has_word(v, len, keys[k], buf));
		}
		u = 0xdeadbeef;
		rc = xs_kv_get_uint(v, len, keys[k], 65535, &u);
		CHECK(rc == 0 || rc == -ENOENT || rc == -EPROTO);
		CHECK(ok || rc == -EPROTO);
		if (rc == 0) {
			CHECK(u <= 65535);
			CHECK(xs_kv_get(v, len, keys[k], buf, sizeof(buf)) == 0);
			CHECK(strtoul(buf, NULL, 10) == u);
			CHECK(buf[0] >= '0' && buf[0] <= '9');
		} else {
			CHECK(u == 0xdeadbeef);
		}
		rc = xs_kv_get_uint(v, len, keys[k], ULONG_MAX, &u);
		CHECK(rc == 0 || rc == -ENOENT || rc == -EPROTO);
	}
	/* Bad keys are caller bugs, whatever the value. */
	CHECK(xs_kv_get(v, len, "", buf, sizeof(buf)) == -EINVAL);
	CHECK(xs_kv_get(v, len, "a b", buf, sizeof(buf)) == -EINVAL);
	CHECK(xs_kv_get(v, len, "a=", buf, sizeof(buf)) == -EINVAL);
	CHECK(xs_kv_get(v, len, "state", buf, 0) == -EINVAL);
}

static void check_answer(const char *v, size_t len, bool ok)
{
	struct xs_neg_answer a, b, untouched;
	char text[128];
	int rc, n;

	memset(&untouched, 0xa5, sizeof(untouched));
	a = untouched;
	rc = xs_neg_parse_answer(v, len, &a);
	CHECK(rc == 0 || rc == -EPROTO);
	CHECK(ok || rc == -EPROTO);
	if (rc < 0) {
		CHECK(memcmp(&a, &untouched, sizeof(a)) == 0);
		return;
	}
	switch (a.state) {
	case XS_NEG_OFFER:
		CHECK(a.order <= XSOCK_RING_MAX_ORDER);
		/* reuse is 0 or 1 in the input: stored as a bool. */
		CHECK(a.reuse == true || a.reuse == false);
		CHECK(a.idle_ms <= XSOCK_IDLE_MAX_MS);
		n = snprintf(text, sizeof(text), "state=offer ref=%u order=%u%s", a.ref,
			     a.order, a.reuse ? " reuse=1" : "");
		if (a.idle_ms)
			n += snprintf(text + n, sizeof(text) - (size_t)n, " idle=%u", a.idle_ms);
		break;
	case XS_NEG_REFUSED:
		CHECK(a.err > 0 && a.err <= 4095);
		CHECK(refusal_errno_ok(a.err));
		n = snprintf(text, sizeof(text), "state=refused err=%d", a.err);
		break;
	case XS_NEG_WAIT:
		CHECK(strlen(a.id) >= 1 && strlen(a.id) <= 16);
		CHECK(strspn(a.id, "0123456789abcdef") == strlen(a.id));
		n = snprintf(text, sizeof(text), "state=wait id=%s", a.id);
		break;
	default:
		CHECK(0);
		return;
	}
	memset(&b, 0, sizeof(b));
	CHECK(xs_neg_parse_answer(text, (size_t)n, &b) == 0);
	CHECK(b.state == a.state);
	if (a.state == XS_NEG_OFFER)
		CHECK(b.ref == a.ref && b.order == a.order && b.reuse == a.reuse &&
		      b.idle_ms == a.idle_ms);
	else if (a.state == XS_NEG_REFUSED)
		CHECK(b.err == a.err);
	else
		CHECK(strcmp(b.id, a.id) == 0);
}

static void check_request(const char *v, size_t len, bool ok)
{
	struct xs_neg_request r, b, untouched;
	struct sockaddr_storage ss, ssu;
	socklen_t sl = 12345;
	char text[160];
	int rc, n;

	memset(&untouched, 0xa5, sizeof(untouched));
	r = untouched;
	rc = xs_neg_parse_request(v, len, &r);
	CHECK(rc == 0 || rc == -EPROTO);
	CHECK(ok || rc == -EPROTO);
	if (rc < 0) {
		CHECK(memcmp(&r, &untouched, sizeof(r)) == 0);
		return;
	}
	CHECK(strlen(r.daddr) >= 1 && strlen(r.daddr) < sizeof(r.daddr));
	/* The optional life word: present (and a number) or absent. */
	CHECK(r.has_life == true || r.has_life == false);
	CHECK(r.has_life || r.life == 0);
	n = snprintf(text, sizeof(text), "port=%u sport=%u daddr=%s evtchn=%u", r.port, r.sport,
		     r.daddr, r.evtchn);
	if (r.has_life)
		n += snprintf(text + n, sizeof(text) - (size_t)n, " life=%u", r.life);
	CHECK(xs_neg_parse_request(text, (size_t)n, &b) == 0);
	CHECK(b.port == r.port && b.sport == r.sport && b.evtchn == r.evtchn &&
	      b.has_life == r.has_life && b.life == r.life && strcmp(b.daddr, r.daddr) == 0);

	memset(&ss, 0xa5, sizeof(ss));
	ssu = ss;
	rc = xs_neg_text_to_sa(r.daddr, r.port, &ss, &sl);
	CHECK(rc == 0 || rc == -EPROTO);
	if (rc < 0) {
		CHECK(memcmp(&ss, &ssu, sizeof(ss)) == 0 && sl == 12345);
		return;
	}
	CHECK((ss.ss_family == AF_INET && sl == sizeof(struct sockaddr_in)) ||
	      (ss.ss_family == AF_INET6 && sl == sizeof(struct sockaddr_in6)));
	CHECK(ntohs(((struct sockaddr_in *)&ss)->sin_port) == r.port);
}

static void check_listen(const char *v, size_t len, bool ok)
{
	struct xs_neg_listen l, untouched;
	int rc;

	memset(&untouched, 0xa5, sizeof(untouched));
	l = untouched;
	rc = xs_neg_parse_listen(v, len, &l);
	CHECK(rc == 0 || rc == -EPROTO);
	CHECK(ok || rc == -EPROTO);
	if (rc < 0) {
		CHECK(memcmp(&l, &untouched, sizeof(l)) == 0);
		return;
	}
	CHECK(l.pid > 0);
	CHECK(strlen(l.id) >= 1 && strlen(l.id) <= 16);
	CHECK(xs_neg_check_id(l.id) == 0);
	CHECK(l.has_addr == true || l.has_addr == false);
	if (l.has_addr) {
		struct sockaddr_storage ss;
		struct xs_neg_listen b;
		socklen_t sl;
		char text[128];
		int n;

		CHECK(xs_neg_text_to_sa(l.addr, 1, &ss, &sl) == 0);
		n = snprintf(text, sizeof(text), "pid=%d id=%s addr=%s", (int)l.pid, l.id, l.addr);
		CHECK(xs_neg_parse_listen(text, (size_t)n, &b) == 0);
		CHECK(b.has_addr && strcmp(b.addr, l.addr) == 0 && b.pid == l.pid);
	} else {
		CHECK(l.addr[0] == '\0');
	}
}

/* Domain 0's directory value: name, uuid, addresses; a round trip. */
static void check_dir(const char *v, size_t len, bool ok)
{
	struct xs_ident id, b, untouched;
	char text[XSOCK_VALUE_MAX + 1], why[128];
	unsigned int i;
	int rc;

	memset(&untouched, 0xa5, sizeof(untouched));
	id = untouched;
	why[0] = '\0';
	rc = xs_dir_parse(v, len, &id, why, sizeof(why));
	CHECK(rc == 0 || rc == -EPROTO);
	CHECK(ok || rc == -EPROTO);
	if (rc < 0) {
		CHECK(memcmp(&id, &untouched, sizeof(id)) == 0);
		CHECK(why[0] != '\0' && memchr(why, '\0', sizeof(why)));
		return;
	}
	CHECK(id.dom == untouched.dom);
	CHECK(xs_ident_name_ok(id.name, strlen(id.name)));
	CHECK(xs_ident_uuid_ok(id.uuid, strlen(id.uuid)));
	CHECK(has_word(v, len, "name", id.name) && has_word(v, len, "uuid", id.uuid));
	CHECK(id.naddrs <= XSOCK_DIR_ADDRS_MAX);
	CHECK(xs_dir_format(&id, text, sizeof(text)) == 0);
	memset(&b, 0, sizeof(b));
	CHECK(xs_dir_parse(text, strlen(text), &b, NULL, 0) == 0);
	CHECK(strcmp(b.name, id.name) == 0 && strcmp(b.uuid, id.uuid) == 0);
	CHECK(b.naddrs == id.naddrs);
	for (i = 0; i < id.naddrs; i++)
		CHECK(memcmp(&b.addrs[i], &id.addrs[i], sizeof(id.addrs[i])) == 0);
}

/* The input as a store node's name (a request's id), up to a NUL. */
static void check_id(const char *v, size_t len)
{
	char name[64];
	size_t i, n;
	bool want;

	if (len >= sizeof(name))
		return;
	memcpy(name, v, len);
	name[len] = '\0';
	n = strlen(name);
	want = n >= 1 && n <= 16;
	for (i = 0; i < n; i++)
		want = want && ((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f'));
	CHECK((xs_neg_check_id(name) == 0) == want);
	CHECK(refusal_errno_ok(xs_neg_refusal_errno(len)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size ? size : 1);
	bool ok;

	if (!v)
		return 0;
	memcpy(v, data, size);
	ok = well_formed(v, size);
	CHECK((xs_neg_check(v, size) == 0) == ok);
	check_kv(v, size, ok);
	check_answer(v, size, ok);
	check_request(v, size, ok);
	check_listen(v, size, ok);
	check_dir(v, size, ok);
	check_id(v, size);
	free(v);
	return 0;
}
