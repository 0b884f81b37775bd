/* SPDX-License-Identifier: MIT */
/*
 * Parsing negotiation values (see negotiate.h for the grammar and the
 * error contract). Pure functions over (pointer, length): nothing here
 * assumes a NUL terminator inside the peer's value.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include <xsock/ring.h>
#include <xsock/store.h>

#include "conn/negotiate.h"

int xs_neg_check(const char *v, size_t len)
{
	size_t i;

	if (!v || len > XS_NEG_VALUE_MAX)
		return -EPROTO;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch != ' ' && (ch < 0x21 || ch > 0x7e))
			return -EPROTO;
	}
	return 0;
}

static int key_ok(const char *key)
{
	if (!key || !*key || strchr(key, ' ') || strchr(key, '='))
		return -EINVAL;
	return 0;
}

int xs_kv_get(const char *v, size_t len, const char *key, char *buf, size_t buflen)
{
	const char *val = NULL;
	size_t klen, vlen = 0, i = 0;
	unsigned int hits = 0;
	int rc;

	rc = key_ok(key);
	if (rc < 0 || !buf || buflen == 0)
		return -EINVAL;
	rc = xs_neg_check(v, len);
	if (rc < 0)
		return rc;
	klen = strlen(key);
	while (i < len) {
		size_t start, end;

		while (i < len && v[i] == ' ')
			i++;
		start = i;
		while (i < len && v[i] != ' ')
			i++;
		end = i;
		if (end - start > klen && memcmp(v + start, key, klen) == 0 &&
		    v[start + klen] == '=') {
			hits++;
			val = v + start + klen + 1;
			vlen = end - (start + klen + 1);
		}
	}
	if (hits == 0)
		return -ENOENT;
	if (hits > 1 || vlen == 0 || vlen >= buflen)
		return -EPROTO;
	memcpy(buf, val, vlen);
	buf[vlen] = '\0';
	return 0;
}

int xs_kv_get_uint(const char *v, size_t len, const char *key, unsigned long max,
		   unsigned long *out)
{
	char buf[XSOCK_NUMBER_MAX_DIGITS + 1];	/* ULONG_MAX has 20 digits */
	unsigned long n = 0;
	const char *p;
	int rc = xs_kv_get(v, len, key, buf, sizeof(buf));

	if (rc < 0)
		return rc;
	for (p = buf; *p; p++) {
		unsigned long d;

		if (*p < '0' || *p > '9')
			return -EPROTO;
		d = (unsigned long)(*p - '0');
		/* n * 10 + d > max, without overflowing. */
		if (d > max || n > (max - d) / 10)
			return -EPROTO;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

int xs_neg_check_id(const char *s)
{
	size_t n;

	if (!s)
		return -EPROTO;
	for (n = 0; s[n]; n++)
		if (n >= XSOCK_ID_MAX_DIGITS ||
		    !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return -EPROTO;
	return n ? 0 : -EPROTO;
}

int xs_kv_get_id(const char *v, size_t len, const char *key, char id[XS_NEG_ID_LEN])
{
	char buf[XS_NEG_ID_LEN];
	int rc = xs_kv_get(v, len, key, buf, sizeof(buf));

	if (rc < 0)
		return rc == -EINVAL ? rc : -EPROTO;
	if (xs_neg_check_id(buf) < 0)
		return -EPROTO;
	memcpy(id, buf, sizeof(buf));
	return 0;
}

/* A required number: a missing word is as malformed as a bad one. */
static int req_uint(const char *v, size_t len, const char *key, unsigned long max,
		    unsigned long *out)
{
	int rc = xs_kv_get_uint(v, len, key, max, out);

	return rc == -ENOENT ? -EPROTO : rc;
}

int xs_neg_parse_request(const char *v, size_t len, struct xs_neg_request *r)
{
	struct xs_neg_request tmp;
	unsigned long port, sport, evtchn, life = 0;
	int rc;

	if ((rc = req_uint(v, len, XSOCK_KEY_PORT, 65535, &port)) < 0 ||
	    (rc = req_uint(v, len, XSOCK_KEY_SPORT, 65535, &sport)) < 0 ||
	    (rc = req_uint(v, len, XSOCK_KEY_EVTCHN, UINT32_MAX, &evtchn)) < 0)
		return rc;
	rc = xs_kv_get(v, len, XSOCK_KEY_DADDR, tmp.daddr, sizeof(tmp.daddr));
	if (rc < 0)
		return rc == -ENOENT ? -EPROTO : rc;
	tmp.port = (uint16_t)port;
	tmp.sport = (uint16_t)sport;
	tmp.evtchn = (uint32_t)evtchn;
	rc = xs_kv_get_uint(v, len, XSOCK_KEY_LIFE, UINT32_MAX, &life);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	tmp.has_life = rc == 0;
	tmp.life = (uint32_t)life;
	*r = tmp;
	return 0;
}

int xs_neg_parse_answer(const char *v, size_t len, struct xs_neg_answer *a)
{
	struct xs_neg_answer tmp;
	unsigned long ref, order, err, reuse, idle;
	char state[16];
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	rc = xs_kv_get(v, len, XSOCK_KEY_STATE, state, sizeof(state));
	if (rc < 0)
		return rc == -ENOENT ? -EPROTO : rc;
	if (strcmp(state, XSOCK_STATE_REFUSED) == 0) {
		tmp.state = XS_NEG_REFUSED;
		/* The errno is advice; a refusal stays a refusal without it,
		 * and a server does not choose errnos connect() never gives. */
		if (xs_kv_get_uint(v, len, XSOCK_KEY_ERR, XSOCK_ERRNO_MAX, &err) < 0)
			err = ECONNREFUSED;
		tmp.err = xs_neg_refusal_errno(err);
	} else if (strcmp(state, XSOCK_STATE_WAIT) == 0) {
		tmp.state = XS_NEG_WAIT;
		rc = xs_kv_get_id(v, len, XSOCK_KEY_ID, tmp.id);
		if (rc < 0)
			return rc;
	} else if (strcmp(state, XSOCK_STATE_OFFER) == 0) {
		tmp.state = XS_NEG_OFFER;
		if ((rc = req_uint(v, len, XSOCK_KEY_REF, UINT32_MAX, &ref)) < 0 ||
		    (rc = req_uint(v, len, XSOCK_KEY_ORDER, XSOCK_RING_MAX_ORDER, &order)) < 0)
			return rc;
		tmp.ref = (uint32_t)ref;
		tmp.order = (unsigned int)order;
		/* Optional: absent means no reuse; present, it must be 0 or 1. */
		rc = xs_kv_get_uint(v, len, XSOCK_KEY_REUSE, 1, &reuse);
		if (rc < 0 && rc != -ENOENT)
			return -EPROTO;
		tmp.reuse = rc == 0 && reuse == 1;
		rc = xs_kv_get_uint(v, len, XSOCK_KEY_IDLE, XSOCK_IDLE_MAX_MS, &idle);
		if (rc < 0 && rc != -ENOENT)
			return -EPROTO;
		tmp.idle_ms = rc == 0 ? (unsigned int)idle : 0;
	} else {
		return -EPROTO;
	}
	*a = tmp;
	return 0;
}

static const int refusal_errnos[] = { XSOCK_REFUSAL_ERRNOS };

int xs_neg_refusal_errno(unsigned long err)
{
	size_t i;

	for (i = 0; i < sizeof(refusal_errnos) / sizeof(refusal_errnos[0]); i++)
		if (err == (unsigned long)refusal_errnos[i])
			return (int)err;
	return ECONNREFUSED;
}

bool xs_neg_refusal_short(int err)
{
	return err == ENOSPC || err == ENOMEM || err == EMFILE || err == ENOBUFS;
}

int xs_neg_parse_listen(const char *v, size_t len, struct xs_neg_listen *l)
{
	struct xs_neg_listen tmp;
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned long pid;
	int rc;

	if ((rc = req_uint(v, len, XSOCK_KEY_PID, INT32_MAX, &pid)) < 0)
		return rc;
	if (pid == 0)
		return -EPROTO;
	rc = xs_kv_get_id(v, len, XSOCK_KEY_ID, tmp.id);
	if (rc < 0)
		return rc;
	/* Optional: absent means any address; present, it must be one. */
	rc = xs_kv_get(v, len, XSOCK_KEY_ADDR, tmp.addr, sizeof(tmp.addr));
	if (rc < 0 && rc != -ENOENT)
		return -EPROTO;
	tmp.has_addr = rc == 0;
	if (!tmp.has_addr)
		tmp.addr[0] = '\0';
	else if (xs_neg_text_to_sa(tmp.addr, 0, &ss, &sslen) < 0)
		return -EPROTO;
	tmp.pid = (pid_t)pid;
	*l = tmp;
	return 0;
}

int xs_neg_text_to_sa(const char *text, uint16_t port, struct sockaddr_storage *ss,
		      socklen_t *salen)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;

	memset(&in4, 0, sizeof(in4));
	memset(&in6, 0, sizeof(in6));
	if (inet_pton(AF_INET, text, &in4.sin_addr) == 1) {
		in4.sin_family = AF_INET;
		in4.sin_port = htons(port);
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &in4, sizeof(in4));
		*salen = sizeof(in4);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1) {
		in6.sin6_family = AF_INET6;
		in6.sin6_port = htons(port);
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &in6, sizeof(in6));
		*salen = sizeof(in6);
		return 0;
	}
	return -EPROTO;
}
