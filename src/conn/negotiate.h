/* SPDX-License-Identifier: MIT */
/*
 * Parsing the negotiation values a peer writes into the store
 * (docs/protocol.md, section 2; the words and formats are the ABI,
 * <xsock/store.h>). Internal to the core library.
 *
 * Every value is untrusted: it comes from another domain, as a byte string
 * with a length (it may contain NUL bytes, may be huge, may repeat or omit
 * words). The functions here are pure (no store, no globals), never read
 * past @len, and write their outputs only on success.
 *
 * A well-formed value is at most XS_NEG_VALUE_MAX bytes of printable ASCII
 * (0x21..0x7e) words separated by one or more spaces; a word is
 * "key=value". Unknown words are ignored; a word that appears twice makes
 * the whole value invalid (a parser cannot tell which one the peer meant).
 *
 * Error contract (all functions): 0 on success, or
 *   -EPROTO  the value is malformed: not well formed as above, a required
 *            word is missing, empty, repeated, too long, or out of range;
 *   -ENOENT  (xs_kv_get(), xs_kv_get_uint() only) no word with that key;
 *   -EINVAL  a caller bug: empty key or a key containing ' ' or '=',
 *            zero-sized output buffer.
 */
#ifndef XSOCK_CONN_NEGOTIATE_H
#define XSOCK_CONN_NEGOTIATE_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <xsock/store.h>

/* The longest negotiation value accepted (ours are under 100 bytes). */
#define XS_NEG_VALUE_MAX XSOCK_VALUE_MAX
/* Buffer size for an id ("id=" words: 1..XSOCK_ID_MAX_DIGITS hex digits). */
#define XS_NEG_ID_LEN 24u
_Static_assert(XS_NEG_ID_LEN > XSOCK_ID_MAX_DIGITS, "an id and its NUL fit");

/* 0 if @v[0..len) is well formed (see above), else -EPROTO. */
int xs_neg_check(const char *v, size_t len);

/*
 * Copy the value of word @key into @buf (NUL-terminated).
 * -ENOENT no such word; -EPROTO value malformed, the word empty, repeated,
 * or its value does not fit @buflen (including the NUL).
 */
int xs_kv_get(const char *v, size_t len, const char *key, char *buf, size_t buflen);

/*
 * The word @key as a decimal number in [0, @max]: digits only (no sign,
 * no space, no "0x"), at most 20 of them. -ENOENT no such word; -EPROTO
 * anything else wrong (including overflow and > @max).
 */
int xs_kv_get_uint(const char *v, size_t len, const char *key, unsigned long max,
		   unsigned long *out);

/* An id word: 1..16 lowercase hex digits. -EPROTO otherwise (or missing). */
int xs_kv_get_id(const char *v, size_t len, const char *key, char id[XS_NEG_ID_LEN]);

/*
 * Is @s (a store node's name, NUL-terminated) an id, 1..16 lowercase hex
 * digits? 0 if so, -EPROTO otherwise (NULL included). A request whose
 * name is not an id is ignored: no client of ours can name its answer.
 */
int xs_neg_check_id(const char *s);

/*
 * A request: B(C)/req/<S>/<id> =
 *   "port=<p> sport=<p> daddr=<addr> evtchn=<port> [life=<gref>]".
 * evtchn is the client's unbound event channel for S: the ring's channel,
 * and while the client waits for accept() the sign that it still lives.
 * life (optional: older clients omit it) is a page the client shares with
 * S until it has attached, byte 0 set to 1 and cleared by its unmap
 * notification: how S tells a client that died after S bound its channel
 * (Xen says nothing then) from a slow one.
 */
struct xs_neg_request {
	uint16_t port, sport;
	uint32_t evtchn;
	bool has_life;
	uint32_t life;			/* has_life: the life page's grant */
	char daddr[INET6_ADDRSTRLEN];	/* as text; see xs_neg_text_to_sa() */
};
/* -EPROTO if any of the four required words is missing or malformed, or a
 * life word is present but malformed. */
int xs_neg_parse_request(const char *v, size_t len, struct xs_neg_request *r);

/* An answer: B(S)/conn/<C>/<id>. */
enum xs_neg_state {
	XS_NEG_OFFER,		/* "state=offer ref=<gref> order=<n>" */
	XS_NEG_REFUSED,		/* "state=refused err=<errno>" */
	XS_NEG_WAIT,		/* "state=wait id=<listener id>": alive, offer follows */
};
struct xs_neg_answer {
	enum xs_neg_state state;
	int err;			/* REFUSED: one of XSOCK_REFUSAL_ERRNOS; any
					 * other err= (or none) is ECONNREFUSED */
	uint32_t ref;			/* OFFER */
	unsigned int order;		/* OFFER: <= XSOCK_RING_MAX_ORDER */
	bool reuse;			/* OFFER: "reuse=1", the server parks the ring
					 * after close for the next connection */
	unsigned int idle_ms;		/* OFFER: "idle=<ms>", how long the server
					 * keeps the ring parked; 0 not said */
	char id[XS_NEG_ID_LEN];		/* WAIT: the listener that acknowledged */
};
/* -EPROTO unknown state, or a word the state needs (or an optional word
 * that is there) is missing/malformed. */
int xs_neg_parse_answer(const char *v, size_t len, struct xs_neg_answer *a);

/*
 * A refusal's errno as a client passes it on: @err itself if it is one of
 * XSOCK_REFUSAL_ERRNOS, else ECONNREFUSED. Never fails.
 */
int xs_neg_refusal_errno(unsigned long err);
/* Does refusal errno @err (as xs_neg_refusal_errno() left it) say the
 * server is short of resources (ENOSPC, ENOMEM, EMFILE, ENOBUFS)? */
bool xs_neg_refusal_short(int err);

/*
 * An advertisement: B(S)/listen/... = "pid=<pid> id=<hex> [addr=<addr>]".
 * -EPROTO pid or id missing or malformed, or an addr word that is not a
 * numeric IPv4 or IPv6 address.
 */
struct xs_neg_listen {
	pid_t pid;			/* 1..INT32_MAX, meaningful in S only */
	char id[XS_NEG_ID_LEN];
	bool has_addr;			/* bound to one address: */
	char addr[INET6_ADDRSTRLEN];	/* that address as text */
};
int xs_neg_parse_listen(const char *v, size_t len, struct xs_neg_listen *l);

/*
 * A numeric IPv4 or IPv6 address (inet_pton() syntax) and @port as a
 * socket address. -EPROTO if @text is neither; *ss and *salen untouched.
 */
int xs_neg_text_to_sa(const char *text, uint16_t port, struct sockaddr_storage *ss,
		      socklen_t *salen);

#endif /* XSOCK_CONN_NEGOTIATE_H */
