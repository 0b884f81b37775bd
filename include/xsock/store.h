/* SPDX-License-Identifier: MIT */
/*
 * xsock ABI: the store protocol, how two domains negotiate a data ring
 * through xenstore (docs/protocol.md, section 2; the ring itself is
 * <xsock/ring.h>).
 *
 * This header is part of the xsock ABI (include/xsock/, in the manner of
 * Xen's include/public/io): it is self-contained (it includes nothing) and
 * is all another implementation needs to find, write and read xsock's store
 * nodes. It is stable: changing a path, a word, a value format or a rule
 * stated here is a protocol change. The store protocol has no version
 * word: it grows compatibly only, by optional words that older readers
 * ignore (life=, reuse= were added so).
 *
 * Paths. B(d) is XSOCK_STORE_BASE_FMT with domain id d: a domain writes
 * only below its own home, as a Xen domU may.
 *
 *   B(d)/peers/<key>          d's peer registry, readable by d only:
 *                             XSOCK_PEER_FMT; <key> is "4-<hex addr>-<len>"
 *                             or "6-<hex addr>-<len>"
 *   B(S)/listen/<port>-<C>    a ring listener on <port> (decimal), for
 *                             client domain C: the advertisement,
 *                             XSOCK_LISTEN_FMT; one node per domain S
 *                             registered, readable by S and C only
 *   B(S)/listen/<port>-<C>-<addr key>
 *                             the same for a listener bound to one address
 *                             (XSOCK_LISTEN_ADDR_FMT; <addr key> below)
 *   B(S)/listen/<port>        the legacy advertisement, for clients that
 *                             predate the per-domain nodes: XSOCK_LISTEN_FMT
 *                             or XSOCK_LISTEN_ADDR_FMT, readable by S and as
 *                             many registered domains as the store lets one
 *                             node name (at most XSOCK_LEGACY_PERMS_MAX - 1;
 *                             none when there are more)
 *   B(C)/req/<S>/<id>         client C's request to server S:
 *                             XSOCK_REQUEST_FMT; readable by C and S
 *   B(S)/conn/<C>/<id>        S's answer to C's request <id>:
 *                             XSOCK_ANSWER_OFFER_FMT,
 *                             XSOCK_ANSWER_REFUSED_FMT or the acknowledgement
 *                             XSOCK_ANSWER_WAIT_FMT; readable by S and C
 *   B(S)/bell/<port>/<bell>   a doorbell (S-internal): XSOCK_BELL_FMT;
 *                             readable by S only
 *   B(U)/dir/<d>              domain 0's directory for U: what U may know
 *                             of domain <d> (XSOCK_DIR_FMT), written by
 *                             domain 0 only (owner 0), readable by U only
 *                             ([n0, rU]); a node with another owner is
 *                             not trusted (below, "Identity")
 * Each req/<S> and conn/<C> directory is created with permissions [owner
 * self: none, peer: read]; its children inherit them. Once created, these
 * two directories are never removed by an implementation: they go only
 * with the domain's home, and the peer watches one of them to learn that
 * the domain died (docs/protocol.md, "Dead domains"). Each listen/<port>-<C>
 * node is given [owner S: none, C: read] (one entry per node: xenstored
 * lets a domain U name 5 at most).
 *
 * A client C looks for listen/<port>-<C>, then listen/<port>-<C>-<key of
 * the address it dials>, then (older servers) listen/<port>: a node there
 * with an addr= word other than that address is a listener that does not
 * serve it (as TCP: nothing listens there). A listener bound to one
 * address refuses (ECONNREFUSED) a request whose daddr is not that
 * address unless another listener of S on the port serves that address;
 * a wildcard listener serves any daddr.
 *
 * Ids. A request whose <id> is not 1..XSOCK_ID_MAX_DIGITS lowercase hex
 * digits is ignored: never answered, no node written for it. S removes a
 * refusal once C has removed the request, or XSOCK_REFUSED_KEEP_MS after
 * writing it, and every answer whose request is gone; C reads its answer
 * as soon as it appears (it watches the node).
 *
 * Identity. A domain is known by its name and its UUID, as Xen's
 * toolstack records them: /local/domain/<d>/name (XSOCK_XS_NAME_FMT) and
 * /local/domain/<d>/vm = "/vm/<uuid>" (XSOCK_XS_VM_FMT), readable by
 * domain 0 and <d> only, owner domain 0. A domain that may read those
 * nodes (domain 0) takes a domain's identity from them; a domain U that
 * may not takes it from its B(U)/dir/<d>, which domain 0 publishes
 * (`xsockctl discover`). Either is trusted only when its owner is domain
 * 0. Names: 1..XSOCK_NAME_MAX of [A-Za-z0-9._-], not all digits. UUIDs:
 * 8-4-4-4-12 lowercase hex digits.
 *
 * Registry entries (XSOCK_PEER_FMT) may carry, after the prefix, the
 * optional words name=<name> (the entry names a domain: the domid before
 * it is only its last resolution, the name decides) and uuid=<uuid> (the
 * entry is bound to that domain's identity: a domain that now holds the
 * domid with another UUID is not that peer). Readers of this version
 * accept them; older readers skip such entries (no ring: fail closed).
 *
 * Values. Words "key=value" of printable ASCII (0x21..0x7e) separated by
 * one or more spaces, at most XSOCK_VALUE_MAX bytes. Unknown words are
 * ignored; a missing, empty, repeated or malformed word, a NUL or control
 * byte, or a longer value makes the value invalid. Numbers are plain
 * decimal digits (no sign, at most XSOCK_NUMBER_MAX_DIGITS) within the
 * field's range. Ids (<id>, id=) are 1..XSOCK_ID_MAX_DIGITS lowercase hex
 * digits. Errno values (err=) are Linux's numbers, 1..4095.
 */
#ifndef XSOCK_ABI_STORE_H
#define XSOCK_ABI_STORE_H

/* ---- paths (printf formats; domain ids and ports as %u) ---------------- */

#define XSOCK_STORE_BASE_FMT	"/local/domain/%u/data/xsock"	/* B(d) */

/* Node names below B(d). */
#define XSOCK_NODE_PEERS	"peers"
#define XSOCK_NODE_LISTEN	"listen"
#define XSOCK_NODE_REQ		"req"
#define XSOCK_NODE_CONN		"conn"
#define XSOCK_NODE_BELL		"bell"
#define XSOCK_NODE_DIR		"dir"

/*
 * Path formats; their arguments (domain ids, then ports or an id):
 *   XSOCK_PEERS_FMT		d		XSOCK_REQ_PATH_FMT	C, S, id
 *   XSOCK_LISTEN_DIR_FMT	S		XSOCK_CONN_PEER_FMT	S, C
 *   XSOCK_LISTEN_PATH_FMT	S, port		XSOCK_CONN_PATH_FMT	S, C, id
 *   XSOCK_REQ_DIR_FMT		C		XSOCK_BELL_DIR_FMT	S, port
 *   XSOCK_REQ_PEER_FMT		C, S		XSOCK_BELL_PATH_FMT	S, port, bell
 *   XSOCK_LISTEN_PEER_FMT	S, port, C
 *   XSOCK_LISTEN_ADDR_PATH_FMT	S, port, C, addr key (below)
 */
#define XSOCK_PEERS_FMT		XSOCK_STORE_BASE_FMT "/" XSOCK_NODE_PEERS
#define XSOCK_LISTEN_DIR_FMT	XSOCK_STORE_BASE_FMT "/" XSOCK_NODE_LISTEN
#define XSOCK_LISTEN_PATH_FMT	XSOCK_LISTEN_DIR_FMT "/%u"
#define XSOCK_LISTEN_PEER_FMT	XSOCK_LISTEN_DIR_FMT "/%u-%u"
#define XSOCK_LISTEN_ADDR_PATH_FMT XSOCK_LISTEN_DIR_FMT "/%u-%u-%s"
#define XSOCK_REQ_DIR_FMT	XSOCK_STORE_BASE_FMT "/" XSOCK_NODE_REQ
#define XSOCK_REQ_PEER_FMT	XSOCK_REQ_DIR_FMT "/%u"
#define XSOCK_REQ_PATH_FMT	XSOCK_REQ_PEER_FMT "/%s"
#define XSOCK_CONN_PEER_FMT	XSOCK_STORE_BASE_FMT "/" XSOCK_NODE_CONN "/%u"
#define XSOCK_CONN_PATH_FMT	XSOCK_CONN_PEER_FMT "/%s"
#define XSOCK_BELL_DIR_FMT	XSOCK_STORE_BASE_FMT "/" XSOCK_NODE_BELL "/%u"
#define XSOCK_BELL_PATH_FMT	XSOCK_BELL_DIR_FMT "/%u"
/* B(U)/dir and B(U)/dir/<d>: arguments U, then d. */
#define XSOCK_DIR_DIR_FMT	XSOCK_STORE_BASE_FMT "/" XSOCK_NODE_DIR
#define XSOCK_DIR_PATH_FMT	XSOCK_DIR_DIR_FMT "/%u"

/* The toolstack's nodes (Xen's, not xsock's): a domain's name and VM path. */
#define XSOCK_XS_DOMAIN_DIR	"/local/domain"
#define XSOCK_XS_NAME_FMT	"/local/domain/%u/name"
#define XSOCK_XS_VM_FMT		"/local/domain/%u/vm"
#define XSOCK_XS_VM_PREFIX	"/vm/"		/* the vm node's value: "/vm/<uuid>" */
/* Special watches (domain 0 only, unless granted): a domain came, went. */
#define XSOCK_XS_INTRODUCE	"@introduceDomain"
#define XSOCK_XS_RELEASE	"@releaseDomain"

/* ---- words ------------------------------------------------------------- */

#define XSOCK_KEY_PORT	"port"		/* request: the listening port, 0..65535 */
#define XSOCK_KEY_SPORT	"sport"		/* request: the client's port, 0..65535 */
#define XSOCK_KEY_DADDR	"daddr"		/* request: the address the client dialled
					 * (numeric IPv4 or IPv6 text) */
#define XSOCK_KEY_EVTCHN	"evtchn"	/* request: the client's unbound event channel
					 * for S, the ring's channel (32 bits) */
#define XSOCK_KEY_LIFE	"life"		/* request (optional): the grant of the
					 * client's life page (below; 32 bits) */
#define XSOCK_KEY_PID	"pid"		/* request, advertisement: the writer's pid,
					 * 1..2^31-1, meaningful in its domain only
					 * (for that domain's sweep of dead nodes) */
#define XSOCK_KEY_ID	"id"		/* advertisement: the listener's id; wait
					 * answer: the acknowledging listener; doorbell:
					 * the request's id */
#define XSOCK_KEY_STATE	"state"		/* answer: XSOCK_STATE_* */
#define XSOCK_KEY_REF	"ref"		/* offer: the interface page's grant (32 bits) */
#define XSOCK_KEY_ORDER	"order"		/* offer: ring_order, at most
					 * XSOCK_RING_MAX_ORDER (<xsock/ring.h>) */
#define XSOCK_KEY_REUSE	"reuse"		/* offer (optional): 0 or 1; 1 = the server
					 * parks the ring after close (ring reuse) */
#define XSOCK_KEY_ERR	"err"		/* refusal: why, an errno (advice: absent,
					 * 0, bad or not one of XSOCK_REFUSAL_ERRNOS
					 * reads as ECONNREFUSED) */
#define XSOCK_KEY_ADDR	"addr"		/* advertisement (optional): the one address
					 * the listener is bound to (numeric IPv4 or
					 * IPv6 text); absent: any address (wildcard) */
#define XSOCK_KEY_IDLE	"idle"		/* offer (optional, with reuse=1): S closes
					 * the ring once parked this long, in ms
					 * (1..XSOCK_IDLE_MAX_MS); C reopens a parked
					 * ring only within half of it */
#define XSOCK_KEY_DOM	"dom"		/* doorbell: the client's domain */
#define XSOCK_KEY_NAME	"name"		/* registry entry (optional), dir: a domain's
					 * name (see "Identity") */
#define XSOCK_KEY_UUID	"uuid"		/* registry entry (optional), dir: a domain's
					 * UUID (see "Identity") */
/* XSOCK_KEY_ADDR in dir/<d> (optional): the addresses or prefixes U may
 * reach d at, "ADDR[/PREFIX]" each, separated by commas, at most
 * XSOCK_DIR_ADDRS_MAX; with it, U routes them to d and accepts d (as a
 * registry entry of its own would). */

/* Values of XSOCK_KEY_STATE. */
#define XSOCK_STATE_OFFER	"offer"		/* S bound the channel, shared the ring */
#define XSOCK_STATE_REFUSED	"refused"	/* no ring: see err= */
#define XSOCK_STATE_WAIT	"wait"		/* acknowledged: a live listener has it */

/* ---- values, as written (printf formats) -------------------------------- */

/* B(d)/peers/<key>: domain id, prefix ("10.77.0.2/32", "fd00::/64"),
 * then optionally XSOCK_PEER_NAME_FMT and/or XSOCK_PEER_UUID_FMT. */
#define XSOCK_PEER_FMT "%u %s"
#define XSOCK_PEER_NAME_FMT " " XSOCK_KEY_NAME "=%s"
#define XSOCK_PEER_UUID_FMT " " XSOCK_KEY_UUID "=%s"

/* B(U)/dir/<d>: name, uuid, then optionally " addr=<a>[,<a>...]". */
#define XSOCK_DIR_FMT XSOCK_KEY_NAME "=%s " XSOCK_KEY_UUID "=%s"

/* B(S)/listen/...: pid, listener id; ... and the bound address. */
#define XSOCK_LISTEN_FMT XSOCK_KEY_PID "=%d " XSOCK_KEY_ID "=%s"
#define XSOCK_LISTEN_ADDR_FMT XSOCK_LISTEN_FMT " " XSOCK_KEY_ADDR "=%s"

/*
 * <addr key> of an address: "4-" and the IPv4 address's 4 bytes as 8
 * lowercase hex digits (an IPv4-mapped IPv6 address counts as IPv4), or
 * "6-" and the IPv6 address's 16 bytes as 32 lowercase hex digits.
 * 10.77.0.2 is "4-0a4d0002".
 */
#define XSOCK_ADDR_KEY_V4_FMT	"4-%02x%02x%02x%02x"
#define XSOCK_ADDR_KEY_V6_PREFIX "6-"

/* B(C)/req/<S>/<id>: port, sport, daddr, evtchn, life, pid. */
#define XSOCK_REQUEST_FMT \
	XSOCK_KEY_PORT "=%u " XSOCK_KEY_SPORT "=%u " XSOCK_KEY_DADDR "=%s " \
	XSOCK_KEY_EVTCHN "=%u " XSOCK_KEY_LIFE "=%u " XSOCK_KEY_PID "=%d"

/* B(S)/conn/<C>/<id>, the offer: ref, order, then XSOCK_ANSWER_REUSE or "". */
#define XSOCK_ANSWER_OFFER_FMT \
	XSOCK_KEY_STATE "=" XSOCK_STATE_OFFER " " XSOCK_KEY_REF "=%u " XSOCK_KEY_ORDER "=%u%s"
#define XSOCK_ANSWER_REUSE " " XSOCK_KEY_REUSE "=1"
/* ... with reuse=1, then: the parked ring's lifetime at S. */
#define XSOCK_ANSWER_IDLE_FMT " " XSOCK_KEY_IDLE "=%u"
/* ... the refusal: errno. */
#define XSOCK_ANSWER_REFUSED_FMT XSOCK_KEY_STATE "=" XSOCK_STATE_REFUSED " " XSOCK_KEY_ERR "=%d"
/* ... the acknowledgement: listener id. */
#define XSOCK_ANSWER_WAIT_FMT XSOCK_KEY_STATE "=" XSOCK_STATE_WAIT " " XSOCK_KEY_ID "=%s"

/* B(S)/bell/<port>/<bell>: client domain, request id. */
#define XSOCK_BELL_FMT XSOCK_KEY_DOM "=%u " XSOCK_KEY_ID "=%s"

/* ---- limits and constants ------------------------------------------------ */

#define XSOCK_VALUE_MAX		512u	/* bytes in a value, at most */
#define XSOCK_NUMBER_MAX_DIGITS	20u	/* digits in a number, at most */
#define XSOCK_ID_MAX_DIGITS	16u	/* hex digits in an id, at most */
#define XSOCK_ERRNO_MAX		4095u	/* largest err= */
#define XSOCK_IDLE_MAX_MS	3600000u	/* largest idle= */
#define XSOCK_LEGACY_PERMS_MAX	64u	/* permission entries the legacy
					 * listen/<port> node gets, at most */
#define XSOCK_REFUSED_KEEP_MS	10000u	/* S keeps a refusal this long at most */
#define XSOCK_NAME_MAX		64u	/* bytes in a domain name, at most */
#define XSOCK_UUID_LEN		36u	/* bytes in a UUID */
#define XSOCK_DIR_ADDRS_MAX	8u	/* addresses in a dir/<d> addr= word */

/*
 * The refusal errnos a client passes on (Linux numbers): what a TCP
 * connect() can fail with for reasons on the far side or on the path.
 * ENOSPC, ENOMEM, EMFILE and ENOBUFS say S is short of resources (the
 * client may fall back to TCP); any other err= reads as ECONNREFUSED
 * (111). In order: EPERM, EACCES, ENOMEM, ENOSPC, EMFILE, ENOBUFS,
 * ECONNABORTED, ECONNRESET, ENETUNREACH, ETIMEDOUT, ECONNREFUSED,
 * EHOSTUNREACH.
 */
#define XSOCK_REFUSAL_ERRNOS	1, 13, 12, 28, 24, 105, 103, 104, 101, 110, 111, 113

/*
 * The life page: one page the client shares with S from before its
 * request until it has attached (or given up), its byte at
 * XSOCK_LIFE_OFFSET set to XSOCK_LIFE_ALIVE, with an unmap notification
 * on that byte and the ring's channel. S maps it while the offer waits:
 * the byte at 0 (or the page gone) without b_attached is a client that
 * died, on Xen too, where a dead client's bound channel says nothing.
 */
#define XSOCK_LIFE_OFFSET	0u
#define XSOCK_LIFE_ALIVE	1u

#endif /* XSOCK_ABI_STORE_H */
