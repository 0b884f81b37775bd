/* SPDX-License-Identifier: MIT */
/*
 * Connections: negotiating a data ring between two domains through the
 * store, and the established ring connection itself.
 *
 * Store layout (docs/protocol.md has the full description):
 *   B(d) = /local/domain/<d>/data/xsock
 *   B(S)/listen/<port>       "pid=<pid> id=<hex>": a ring listener on <port>;
 *                            readable by S's registered peers only
 *   B(C)/req/<S>/<id>        client C asks server S for a connection:
 *                            "port=<p> sport=<p> daddr=<addr>"; readable by S
 *   B(S)/conn/<C>/<id>       S answers: "state=offer ref=<gref> evtchn=<port>
 *                            order=<n>" or "state=refused err=<errno>", or
 *                            acknowledges "state=wait id=<listener id>";
 *                            readable by C
 * A listener that neither answers nor acknowledges within
 * XSOCK_LISTENER_ACK_MS is presumed dead (docs/protocol.md, "Liveness").
 * The server (side A) shares the ring and allocates the event channel; the
 * client (side B) maps and binds, then signals the channel once: that first
 * event is the server's "connected". Both sides remove their negotiation
 * nodes as soon as the connection is up or has failed.
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

struct xs_status_rec;

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
};

/*
 * Open a context (platform backend per XSOCK_BACKEND, tunables from
 * XSOCK_RING_ORDER, XSOCK_RING_ORDER_SMALL, XSOCK_BIG_RINGS,
 * XSOCK_CONNECT_TIMEOUT_MS, XSOCK_ACCEPT_TIMEOUT_MS, XSOCK_LISTENER_ACK_MS).
 * Errors: those of xsp_open().
 */
int xs_ctx_open(struct xs_ctx **out);
void xs_ctx_close(struct xs_ctx *ctx);

/* Read this domain's registry. */
int xs_ctx_peers(struct xs_ctx *ctx, struct xs_peer **peers, unsigned int *n);

enum xs_conn_state {
	XS_CONN_OFFERED,	/* server: answer published, waiting for the client */
	XS_CONN_CONNECTED,
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
	unsigned int order;
	bool big;			/* counted in ctx->big_rings */
	struct xsr ring;
	uint16_t lport, pport;		/* ports as the application sees them */
	struct sockaddr_storage laddr, paddr;	/* as the application sees them */
	socklen_t laddr_len, paddr_len;
	int64_t deadline_ms;		/* server: give up on an offer then */
	struct xs_conn *next;		/* listener's pending list */
	struct xs_status_rec *status;	/* our line in `xsockctl status` */
};

/*
 * Client side: connect to @dst (the address the application passed) which
 * the registry places in domain @peer. @sport is the local port to
 * announce. Blocks up to ctx->connect_timeout_ms; up to
 * ctx->ack_timeout_ms if the listener does not react at all.
 * Errors: -ENOENT no ring listener is advertised for that port (or we
 * may not see it), or the advertised listener did not acknowledge the
 * request within ctx->ack_timeout_ms (its process is gone, or stopped),
 * or the server is out of grants, channels or memory:
 * the caller may fall back to TCP; -ECONNREFUSED the
 * server refused; -ETIMEDOUT no answer; -EPROTO malformed answer or ring;
 * grant/event-channel errors (-ENOSPC, -EPERM, ...).
 */
int xs_conn_connect(struct xs_ctx *ctx, xsp_domid_t peer,
		    const struct sockaddr *dst, socklen_t dstlen, uint16_t sport,
		    struct xs_conn **out);

/* Wake the peer (the ring's kick callback). */
int xs_conn_kick(void *conn);

/*
 * Handle an event on the connection's channel (call when its fd polls
 * readable). Returns 1 if something happened, 0 if nothing was pending,
 * or a negative errno. A dead peer is turned into xsr_peer_gone().
 */
int xs_conn_event(struct xs_conn *c);

/* Close the ring endpoint, unmap/unshare, close the channel, free. */
void xs_conn_close(struct xs_conn *c);

/* Tear down without telling the peer (a forked child dropping its copy). */
void xs_conn_abandon(struct xs_conn *c);

/* ------------------------------------------------------------------ */
/* Listener                                                            */
/* ------------------------------------------------------------------ */

struct xs_listener {
	struct xs_ctx *ctx;
	struct xsp_store *st;		/* own handle: its watch fd is ours */
	uint16_t port;
	char id[24];			/* tells our advertisement from a successor's */
	struct sockaddr_storage addr;	/* bound address (family, maybe any) */
	socklen_t addrlen;
	struct xs_peer *peers;		/* registry snapshot */
	unsigned int npeers;
	xsp_domid_t *watched;		/* domains whose req/<self> we watch */
	unsigned int nwatched;
	struct xs_conn *pending;	/* offers waiting for their client */
	char **seen;			/* request ids already handled */
	unsigned int nseen, seen_cap;
};

/*
 * Advertise a ring listener for @port (the application's bound address
 * @addr). Errors: store errors; -EADDRINUSE another process of this
 * domain already advertises the port (the caller may still serve TCP).
 */
int xs_listener_open(struct xs_ctx *ctx, const struct sockaddr *addr,
		     socklen_t addrlen, uint16_t port, struct xs_listener **out);
void xs_listener_close(struct xs_listener *l);

/*
 * Remove this domain's listen/<port> advertisements whose pid is dead
 * (kill(pid, 0) fails with ESRCH): leftovers of SIGKILLed listeners.
 * Only meaningful in the listener's own domain (pids are per kernel).
 * xs_listener_open() does this itself. *removed (may be NULL) gets the
 * count. Errors: store errors (-ENOENT: nothing advertised is not one).
 */
int xs_ctx_sweep_listeners(struct xs_ctx *ctx, unsigned int *removed);

/* Readable when requests (or registry changes) may be waiting. */
int xs_listener_fd(const struct xs_listener *l);

/*
 * Process store events: answer new requests (offers go to the pending
 * list), refresh the registry. Never blocks. Returns 0 or a negative errno.
 */
int xs_listener_process(struct xs_listener *l);

/*
 * Move pending offers along: check their channels and deadlines. Returns
 * a newly connected conn in *out (then 1), 0 if none is ready. Dead or
 * timed-out offers are torn down. @next_deadline_ms (if not NULL) gets the
 * earliest remaining deadline or -1.
 */
int xs_listener_take(struct xs_listener *l, struct xs_conn **out,
		     int64_t *next_deadline_ms);

/* Milliseconds on a monotonic clock. */
int64_t xs_now_ms(void);

#endif /* XSOCK_CONN_CONN_H */
