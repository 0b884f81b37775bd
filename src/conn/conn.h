/* SPDX-License-Identifier: MIT */
/*
 * Connections: negotiating a data ring between two domains through the
 * store, and the established ring connection itself.
 *
 * Store layout (docs/protocol.md has the full description; the paths,
 * words and value formats are the ABI header <xsock/store.h>):
 *   B(d) = XSOCK_STORE_BASE_FMT for domain d
 *   B(S)/listen/<port>-<C>[-<addr key>]  "pid=<pid> id=<hex> [addr=<addr>]":
 *                            a ring listener on <port> (bound to <addr>),
 *                            advertised to C; readable by C only (and
 *                            listen/<port>, the same for older clients)
 *   B(C)/req/<S>/<id>        client C asks server S for a connection:
 *                            "port=<p> sport=<p> daddr=<addr> evtchn=<port>
 *                            life=<gref> pid=<pid>"; readable by S
 *   B(S)/conn/<C>/<id>       S answers: "state=offer ref=<gref> order=<n>
 *                            [reuse=1]" or "state=refused err=<errno>", or
 *                            acknowledges "state=wait id=<listener id>";
 *                            readable by C
 *   B(S)/bell/<port>/<bell>  "dom=<C> id=<id>": a doorbell for a request
 *                            (see "Listener" below); readable by S only
 * The listener acknowledges each request at once ("state=wait"); a
 * listener that neither answers nor acknowledges within
 * XSOCK_LISTENER_ACK_MS is presumed dead (docs/protocol.md, "Liveness").
 * The client allocates the ring's event channel and names it in its
 * request; the server (side A: the process that accepts) binds it, shares
 * the ring, and its offer replaces the acknowledgement; the client (side
 * B) maps, sets b_attached and signals the channel once: that first event
 * is the server's "connected". Both sides remove their negotiation nodes
 * as soon as the connection is up or has failed. A closed ring may carry
 * the next connection between the same two processes ("Ring reuse"
 * below, docs/protocol.md section 2b).
 *
 * Error contract: 0 or a negative errno; nothing printed.
 */
#ifndef XSOCK_CONN_CONN_H
#define XSOCK_CONN_CONN_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn/registry.h"
#include "platform/platform.h"
#include "ring/ring.h"

struct xsock_status_rec;

/*
 * Ring sizes. The first XS_DEFAULT_BIG_RINGS rings a process serves get
 * 2^XS_DEFAULT_RING_ORDER pages (256 pages: 512 KiB each way), which is
 * what bulk transfers need to keep both sides copying instead of waiting;
 * beyond that, rings get 2^XS_DEFAULT_SMALL_ORDER pages (32 pages: 64 KiB
 * each way) so that a thousand connections fit the grant budget (on Xen,
 * 64 grant frames = 32768 grants by default). See docs/performance.md.
 */
#define XS_DEFAULT_RING_ORDER 8
#define XS_DEFAULT_SMALL_ORDER 5
#define XS_DEFAULT_BIG_RINGS 16
#define XS_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define XS_DEFAULT_ACCEPT_TIMEOUT_MS 5000
#define XS_DEFAULT_ACK_TIMEOUT_MS 500	/* a live listener answers within this */
#define XS_DEFAULT_REUSE_MAX 16		/* parked rings a process keeps */
#define XS_DEFAULT_REUSE_IDLE_MS 2000	/* a client's idle parked ring lives this long */
#define XS_SERVER_IDLE_FACTOR 5		/* a server's lives 5 times its XSOCK_REUSE_IDLE_MS */
/*
 * Requests of one peer domain a listening socket has in flight at once
 * (acknowledged, not yet attached to, refused or withdrawn): each costs
 * the server up to two store nodes (the acknowledgement or offer, and the
 * doorbell record) and a doorbell socket, so 32 is at most 64 nodes of
 * xenstored's default quota of 1000 per peer and listening socket. Beyond
 * it a request is refused with ENOBUFS (the client may fall back to TCP).
 * docs/protocol.md, "Limits per peer".
 */
#define XS_DEFAULT_INFLIGHT_MAX 128

/* Process-wide context: the platform backend and our domain id. */
struct xs_ctx {
	struct xsp *plat;
	xsp_domid_t self;
	unsigned int ring_order;	/* XSOCK_RING_ORDER */
	unsigned int small_order;	/* XSOCK_RING_ORDER_SMALL (<= ring_order) */
	int big_rings_max;		/* XSOCK_BIG_RINGS */
	int big_rings;			/* live rings of ring_order (atomic) */
	int connect_timeout_ms;
	int accept_timeout_ms;
	int ack_timeout_ms;		/* no answer nor "wait" by then: listener dead */
	int reuse_max;			/* XSOCK_REUSE: parked rings kept, 0 = no reuse */
	int reuse_idle_ms;		/* XSOCK_REUSE_IDLE_MS */
	int inflight_max;		/* XSOCK_MAX_INFLIGHT_PER_PEER */
	bool fallback;			/* XSOCK_FALLBACK (conn/route.h) */
	bool fault_die_before_attach;	/* XSOCK_FAULT=die-before-attach (tests) */
	bool fault_stop_before_attach;	/* XSOCK_FAULT=stop-before-attach (tests) */
};

/*
 * Open a context (platform backend per XSOCK_BACKEND, tunables from
 * XSOCK_RING_ORDER, XSOCK_RING_ORDER_SMALL, XSOCK_BIG_RINGS,
 * XSOCK_CONNECT_TIMEOUT_MS, XSOCK_ACCEPT_TIMEOUT_MS, XSOCK_LISTENER_ACK_MS,
 * XSOCK_REUSE, XSOCK_REUSE_IDLE_MS, XSOCK_MAX_INFLIGHT_PER_PEER, XSOCK_FALLBACK),
 * and XSOCK_FAULT for fault-injection
 * tests ("die-before-attach": a client kills itself with SIGKILL once it
 * has read the server's offer, before attaching; "stop-before-attach": it
 * stops itself with SIGSTOP there, as a domain frozen or destroyed in the
 * middle of a negotiation looks from outside).
 * Errors: those of xsp_open().
 */
int xs_ctx_open(struct xs_ctx **out);
void xs_ctx_close(struct xs_ctx *ctx);

/*
 * Read this domain's registry. On success *@keep (if not NULL) gets the
 * store handle it read on, open and without watches, for the caller to
 * close or to pass on (xs_conn_connect_on()); on failure *@keep is NULL.
 * Errors: those of xsp_store_open() and xs_registry_list().
 */
int xs_ctx_peers(struct xs_ctx *ctx, struct xs_peer **peers, unsigned int *n,
		 struct xsp_store **keep);

enum xs_conn_state {
	XS_CONN_OFFERED,	/* server: answer published, waiting for the client */
	XS_CONN_CONNECTED,
	XS_CONN_PARKING,	/* closed by us, waiting for the peer to park too */
	XS_CONN_IDLE,		/* parked: ready to carry the next connection */
	XS_CONN_CLOSED,
};

struct xs_conn {
	struct xs_ctx *ctx;
	enum xs_conn_state state;
	enum xsr_side side;
	xsp_domid_t peer;
	char id[24];			/* negotiation id (hex) */
	struct xsp_evtchn *ev;
	struct xsp_share *sh_intf, *sh_data;	/* side A */
	struct xsp_map *mp_intf, *mp_data;	/* side B */
	struct xsp_share *sh_life;	/* side B, until attached (protocol.md) */
	struct xsp_map *mp_life;	/* side A, while the offer waits */
	unsigned int order;
	bool big;			/* counted in ctx->big_rings */
	struct xsr ring;
	uint16_t lport, pport;		/* ports as the application sees them */
	struct sockaddr_storage laddr, paddr;	/* as the application sees them */
	socklen_t laddr_len, paddr_len;
	struct xsock_status_rec *status;	/* our line in `xsockctl status` */
	bool reuse;			/* both sides park it after close */
	uint32_t use;			/* which connection on this ring (0: first) */
	int64_t idle_since_ms;		/* XS_CONN_PARKING, _IDLE: since when */
	unsigned int peer_idle_ms;	/* side B: the server parks it this long
					 * (the offer's idle=; 0 not said) */
	int64_t offer_until_ms;		/* XS_CONN_OFFERED in the application's
					 * hands: dropped if not attached by then */
	struct xsp_store *st_spare;	/* side B, just connected: the store
					 * handle the negotiation used, for
					 * xs_conn_store_take() (no watches) */
};

/*
 * Client side: connect to @dst (the address the application passed) which
 * the registry places in domain @peer. @sport is the local port to
 * announce. Blocks up to ctx->connect_timeout_ms; up to
 * ctx->ack_timeout_ms if the listener does not react at all.
 * Errors: -ENOENT no ring listener is advertised for that port (or we
 * may not see it), or none that serves @dst's address (a listener bound
 * to another address), or the advertised listener did not acknowledge the
 * request within ctx->ack_timeout_ms (its process is gone, or stopped);
 * -XS_EPEER_SHORT the server is out of grants, channels or memory (for
 * these two xs_route_after_failure() decides about TCP); -ECONNREFUSED the
 * server refused; -ETIMEDOUT no answer; -EPROTO malformed answer or ring;
 * grant/event-channel errors (-ENOSPC, -EPERM, ...).
 */
int xs_conn_connect(struct xs_ctx *ctx, xsp_domid_t peer,
		    const struct sockaddr *dst, socklen_t dstlen, uint16_t sport,
		    struct xs_conn **out);

/*
 * xs_conn_connect() on @st, an open store handle without watches (NULL:
 * open one), which it takes over: on success the connection keeps it
 * (xs_conn_store_take(); closed with the connection otherwise), on
 * failure it is closed. A process's first connection so negotiates on
 * the handle its registry read opened, and its dead-domain watch keeps
 * it: one store handle instead of three. Errors: as xs_conn_connect().
 */
int xs_conn_connect_on(struct xs_ctx *ctx, struct xsp_store *st, xsp_domid_t peer,
		       const struct sockaddr *dst, socklen_t dstlen, uint16_t sport,
		       struct xs_conn **out);

/*
 * The store handle @c's negotiation used (watches removed), now the
 * caller's to keep or close; NULL if there is none (any more).
 */
struct xsp_store *xs_conn_store_take(struct xs_conn *c);

/* Wake the peer (the ring's kick callback). */
int xs_conn_kick(void *conn);

/*
 * Handle an event on the connection's channel (call when its fd polls
 * readable). Returns 1 if something happened, 0 if nothing was pending,
 * or a negative errno. A dead peer is turned into xsr_peer_gone().
 * On a connection still XS_CONN_OFFERED (xs_acceptor_claim() with
 * @nonblock) it also looks whether the client attached (then the
 * connection is XS_CONN_CONNECTED), or is gone or late past
 * offer_until_ms (then the ring reads as ended by the peer, as a TCP
 * connection reset before its first byte): call it on every event and
 * now and then (xs_conn_offered()) until the state changes.
 */
int xs_conn_event(struct xs_conn *c);

/*
 * The peer's domain is dead (its home left the store; docs/protocol.md,
 * "Dead domains"): end the ring as a dead peer's (readers get what
 * arrived and then end of stream, writers -EPIPE). The caller then wakes
 * its waiters, and then calls xs_conn_dead_pages(). Never fails.
 */
void xs_conn_domain_dead(struct xs_conn *c);

/*
 * After xs_conn_domain_dead(): let go of every page the dead domain
 * granted us, keeping their contents in our own memory at the same
 * addresses (a reader woken meanwhile reads the same bytes before and
 * after). Slow on Xen (a copy and a grant unmap per mapping), which is
 * why waiters are woken first. Logs a failure to let go; never fails
 * otherwise.
 */
void xs_conn_dead_pages(struct xs_conn *c);

/* Still waiting for its client to attach (see xs_conn_event()). */
static inline bool xs_conn_offered(const struct xs_conn *c)
{
	return __atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == XS_CONN_OFFERED;
}

/* Close the ring endpoint, unmap/unshare, close the channel, free. */
void xs_conn_close(struct xs_conn *c);

/* Tear down without telling the peer (a negotiation given up). */
void xs_conn_abandon(struct xs_conn *c);

/*
 * One connection held by several processes (fork(); docs/protocol.md,
 * "Process model"). @c is a forked child's copy of its parent's record.
 *
 * xs_conn_map_again(): make @c usable in this process: side B's mapped
 * pages are not inherited, so map the peer's grants again through @p (the
 * child's own backend) and point the ring at them; side A's shared pages
 * are inherited, nothing to do. 0, or what xsp_map_again() says (then @c
 * must not be read or written in this process).
 *
 * xs_conn_alive_notify(): arm or disarm side B's "alive" notification on
 * this process's mapping: armed only in the process that serves the
 * connection's events, so that a holder letting go while others carry on
 * is not taken by the peer for the end. 0 or -errno; a no-op on side A.
 *
 * xs_conn_let_go(): this process is done with its copy, others still hold
 * the connection: unmap what xs_conn_map_again() mapped, drop this
 * process's view of our indexes and its hold on side A's shares and the
 * event channel (xsp_share_forget(), xsp_evtchn_forget(): the last holder
 * of a share ends it), free the copy. Nothing else reaches the peer.
 */
int xs_conn_map_again(struct xs_conn *c, struct xsp *p);
int xs_conn_alive_notify(struct xs_conn *c, bool arm);
void xs_conn_let_go(struct xs_conn *c);

/*
 * Ring reuse (docs/protocol.md, "Ring reuse"). When the application has
 * closed a connection whose offer said reuse=1, each side may park the
 * ring instead of tearing it down; the next connect() from the same
 * client process to the same address then opens the next use of the ring
 * without the store, grants or a new event channel, and the server's
 * accept() takes it up. Either side may refuse at any time by closing
 * the ring for good (xs_conn_close()): the other side then sees it gone.
 *
 * xs_conn_park_begin(): close our endpoint of the current use and start
 * parking (state XS_CONN_PARKING). xs_conn_park_step(): call after each
 * event on the channel (xs_conn_event() first): 1 when the ring is
 * parked (XS_CONN_IDLE), 0 not yet, negative errno when it cannot be
 * reused (peer gone, broken, corrupt): close it.
 */
void xs_conn_park_begin(struct xs_conn *c);
int xs_conn_park_step(struct xs_conn *c);
/*
 * Client (side B), idle ring: open the next use for a connect() from
 * local port @sport (the local address keeps its host part and gets
 * @sport); the server is kicked and will hand it to accept().
 * Errors: -ECONNRESET the server let go of it, -EPROTO corrupt: close it.
 */
int xs_conn_reopen(struct xs_conn *c, uint16_t sport);
/*
 * Server (side A), idle ring: has the client opened the next use? 1 and
 * the connection takes it up (the peer address gets the client's new
 * port), 0 not yet, negative errno: close it.
 */
int xs_conn_reaccept(struct xs_conn *c);
/*
 * When a parking or parked ring must be closed (xs_now_ms() time): on the
 * client (side B) XSOCK_REUSE_IDLE_MS after it was parked, or half the
 * server's lifetime (the offer's idle=) if that is shorter, so that the
 * client never opens a use the server is closing; on the server (side A)
 * XS_SERVER_IDLE_FACTOR times XSOCK_REUSE_IDLE_MS (what its offer said):
 * a client that neither reuses nor closes the ring does not hold it (and
 * a big ring, and a place among XSOCK_REUSE) for ever. The caller (the
 * shim's pool of parked rings) closes it with xs_conn_close() once
 * xs_now_ms() reaches it, and takes no ring from the pool past it.
 * INT64_MAX for a ring that is neither parking nor parked.
 */
int64_t xs_conn_park_deadline(const struct xs_conn *c);

/* ------------------------------------------------------------------ */
/* Listener                                                            */
/* ------------------------------------------------------------------ */

/*
 * A listening port is served in two halves, which may live in different
 * processes (a master that called listen() and workers forked from it that
 * call accept(), as nginx does):
 *
 *  - the xs_listener, in the process that called listen(): advertises the
 *    port, watches for clients' requests and hands each new one to the
 *    shim, which rings a doorbell for it (a loopback TCP connection to the
 *    listening socket) after recording "doorbell port -> request" in the
 *    store (xs_listener_bell());
 *  - an xs_acceptor, in whichever process accept()s that doorbell: it
 *    claims the record, builds side A of the ring there (grants, event
 *    channel), answers the client and waits for it to attach
 *    (xs_acceptor_claim()). The ring therefore lives in the process that
 *    will use it; on Xen any process of the domain may share grants with
 *    and allocate channels for the peer, so this holds there too.
 *
 * Store nodes (B(S) as above, see docs/protocol.md):
 *   B(S)/bell/<port>/<bell>  "dom=<C> id=<id>": the doorbell whose local
 *                            (source) port is <bell> stands for client C's
 *                            request <id>; readable by S only.
 */

/* A client's request, waiting for the shim to ring a doorbell for it. */
struct xs_request {
	struct xs_request *next;
	xsp_domid_t dom;
	char id[24];
};

/*
 * A request the listener has handled, until the client removes it (or,
 * with a doorbell still out for it, until that doorbell is done too).
 */
struct xs_seen {
	xsp_domid_t dom;
	char id[24];
	int64_t since_ms;		/* when we first saw it */
	int64_t bell_ms;		/* when its doorbell was rung */
	uint16_t bell;			/* that doorbell's port while it is out, or 0 */
	bool tidied;			/* nothing of ours left to remove for it */
	bool inflight;			/* acknowledged by us, and we (or an
					 * acceptor) may still hold something for
					 * it: counts against its domain's cap */
	bool gone;			/* the request is gone, its doorbell not */
};

struct xs_listener {
	struct xs_ctx *ctx;
	struct xsp_store *st;		/* own handle: its watch fd is ours */
	uint16_t port;
	char id[24];			/* tells our advertisement from a successor's */
	struct sockaddr_storage addr;	/* bound address (family, maybe any) */
	socklen_t addrlen;
	char addr_key[40];		/* bound to one address: its key
					 * (xs_addr_key()); "" any address */
	char addr_text[48];		/* ... and its text (INET6_ADDRSTRLEN) */
	struct xs_peer *peers;		/* registry snapshot */
	unsigned int npeers;
	xsp_domid_t *watched;		/* domains whose req/<self> we watch, and
					 * that we advertise to */
	unsigned int nwatched;
	struct xs_request *pending;	/* requests waiting for a doorbell */
	struct xs_seen *seen;		/* requests already handled */
	unsigned int nseen, seen_cap;
	int64_t tidy_ms;		/* next look for answers to remove by time */
	bool stale;			/* a domain's identity changed: refresh */
	xsp_domid_t refused_dom;	/* the last domain refused as an impostor
					 * (logged once) */
};

/*
 * Advertise a ring listener for @port (the application's bound address
 * @addr: a wildcard address serves every address the client dials, any
 * other only itself) to every registered domain. Sweeps this domain's
 * advertisements and answers that dead processes left first.
 * Errors: store errors, -ENOMEM.
 */
int xs_listener_open(struct xs_ctx *ctx, const struct sockaddr *addr,
		     socklen_t addrlen, uint16_t port, struct xs_listener **out);
/* Withdraw the advertisement and refuse the requests still pending. */
void xs_listener_close(struct xs_listener *l);

/*
 * Remove this domain's advertisements (listen/...) whose pid is dead
 * (kill(pid, 0) fails with ESRCH): leftovers of SIGKILLed listeners.
 * Only meaningful in the listener's own domain (pids are per kernel).
 * xs_listener_open() does this itself. *removed (may be NULL) gets the
 * count of listeners (each has one node per registered domain and a
 * legacy one). Errors: store errors (-ENOENT: nothing advertised is not
 * one).
 */
int xs_ctx_sweep_listeners(struct xs_ctx *ctx, unsigned int *removed);

/*
 * Remove this domain's connection requests whose pid is dead: leftovers
 * of clients killed while connect() waited for accept(). A process's first
 * xs_conn_connect() does this itself. *removed (may be NULL) gets the
 * count. Errors: store errors (nothing requested is not one).
 */
int xs_ctx_sweep_requests(struct xs_ctx *ctx, unsigned int *removed);

/*
 * Remove this domain's answers (conn/<C>/<id>) whose request is gone:
 * leftovers of listeners that closed or died before their clients removed
 * their requests. xs_listener_open() does this itself. *removed (may be
 * NULL) gets the count. Errors: store errors (nothing answered is not one).
 */
int xs_ctx_sweep_answers(struct xs_ctx *ctx, unsigned int *removed);

/* Readable when requests (or registry changes) may be waiting. */
int xs_listener_fd(const struct xs_listener *l);

/*
 * Process store events: queue new requests for this port on the pending
 * list, refuse malformed ones, those for an address we do not serve and
 * (ENOBUFS) those of a domain with XSOCK_MAX_INFLIGHT_PER_PEER in flight,
 * ignore those whose name is not an id, remove answers whose request is
 * gone (and, once due, refusals older than XSOCK_REFUSED_KEEP_MS), refresh
 * the registry. Never blocks. Returns 0 or a negative errno.
 */
int xs_listener_process(struct xs_listener *l);
/*
 * When xs_listener_process() should run even without an event (xs_now_ms()
 * time), so that refusals whose client never removes its request are
 * removed in time; -1 if nothing waits for that.
 */
int64_t xs_listener_deadline(const struct xs_listener *l);

/*
 * Take the oldest pending request: 1 and *out (free() it), or 0 if none.
 * Requests come out in the order their clients' requests were seen.
 */
int xs_listener_take(struct xs_listener *l, struct xs_request **out);

/*
 * Record that the doorbell whose local port is @bell stands for @rq. Must
 * be done before the doorbell connects (an accept() in another process may
 * look for the record at once). The request counts against its domain's
 * cap while the doorbell is out (until xs_listener_unbell(@bell)), even
 * once the client removed it. Errors: store errors.
 */
int xs_listener_bell(struct xs_listener *l, const struct xs_request *rq, uint16_t bell);

/*
 * Withdraw the record of doorbell @bell unless an acceptor claimed it
 * first (atomically: exactly one of the two wins). Returns 1 if it was
 * withdrawn, 0 if it was already gone, or a negative errno.
 */
int xs_listener_unbell(struct xs_listener *l, uint16_t bell);

/*
 * Answer @rq with "refused": the client's connect() fails with @err, or
 * falls back to TCP for ENOSPC/ENOMEM/EMFILE. Errors: store errors,
 * -EALREADY the request was already answered.
 */
int xs_listener_refuse(struct xs_listener *l, const struct xs_request *rq, int err);

/* The accepting half of a listener: one per process (and port) that
 * accepts. Thread safe: claims are serialised on its lock. */
struct xs_acceptor {
	struct xs_ctx *ctx;
	struct xsp_store *st;		/* own handle */
	pthread_mutex_t lock;
	uint16_t port;
	struct sockaddr_storage addr;	/* the listener's bound address */
	socklen_t addrlen;
	struct xs_peer *peers;		/* registry snapshot, refreshed on a miss */
	unsigned int npeers;
	bool offer_reuse;		/* offer reuse=1 (set by the caller) */
};

/*
 * Open the accepting half for @port (bound address @addr) in this process,
 * using @ctx (which must belong to this process). Errors: store errors,
 * -ENOMEM.
 */
int xs_acceptor_open(struct xs_ctx *ctx, const struct sockaddr *addr, socklen_t addrlen,
		     uint16_t port, struct xs_acceptor **out);
void xs_acceptor_close(struct xs_acceptor *a);

/*
 * A TCP connection from the doorbell address with local port @bell was
 * just accepted. If it is a doorbell, claim its request, build side A of
 * the ring, answer, and wait (up to ctx->accept_timeout_ms) for the client
 * to attach: 0 and a connected *out. With @nonblock (a non-blocking
 * listener) it never waits for the client: a client that has not attached
 * yet comes back XS_CONN_OFFERED, to be handed to the application as a
 * connection that completes (or resets) later, as TCP's accept() hands
 * out a connection whose peer may yet reset it (xs_conn_event()).
 * Errors: -ENOENT no doorbell has that port (an ordinary TCP client);
 * -ECONNABORTED it was a doorbell but yields no connection: the client
 * gave up or went away, another process answered it, or we refused it
 * (out of grants, channels, memory: the client is told so and may fall
 * back to TCP); the caller drops it. Other negative errnos: store errors
 * while looking the doorbell up.
 */
int xs_acceptor_claim(struct xs_acceptor *a, uint16_t bell, bool nonblock, struct xs_conn **out);


#endif /* XSOCK_CONN_CONN_H */
