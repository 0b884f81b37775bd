/* SPDX-License-Identifier: MIT */
/*
 * The accepting half of a ring listener (conn.h, "Listener"), in the
 * process whose accept() got a doorbell: it claims the doorbell's record,
 * builds side A of the ring there (grants, event channel), offers it to
 * the client and waits for the client to attach.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/log.h"
#include "conn/negotiate.h"
#include "conn/private.h"

int xs_acceptor_open(struct xs_ctx *ctx, const struct sockaddr *addr, socklen_t addrlen,
		     uint16_t port, struct xs_acceptor **out)
{
	struct xs_acceptor *a;
	int rc;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	rc = xsp_store_open(ctx->plat, &a->st);
	if (rc < 0)
		goto free_acceptor;
	a->ctx = ctx;
	a->port = port;
	xs_sa_keep(&a->addr, &a->addrlen, addr, addrlen);
	/* Best effort: a miss is looked up again when a request needs it. */
	xs_registry_list(a->st, ctx->self, &a->peers, &a->npeers);
	pthread_mutex_init(&a->lock, NULL);
	*out = a;
	return 0;

free_acceptor:
	free(a);
	return rc;
}

void xs_acceptor_close(struct xs_acceptor *a)
{
	if (!a)
		return;
	xsp_store_close(a->st);
	pthread_mutex_destroy(&a->lock);
	free(a->peers);
	free(a);
}

/* The registered address of @dom in @family, refreshing the snapshot once
 * if it does not know @dom (the registry may have grown since). */
static int acceptor_peer_addr(struct xs_acceptor *a, xsp_domid_t dom, int family,
			      struct sockaddr_storage *ss, socklen_t *len)
{
	struct xs_peer *peers = NULL;
	unsigned int n = 0;
	int rc;

	rc = xs_registry_addr_of(a->peers, a->npeers, dom, family, ss, len);
	if (rc != -ENOENT)
		return rc;
	rc = xs_registry_list(a->st, a->ctx->self, &peers, &n);
	if (rc < 0)
		return rc;
	free(a->peers);
	a->peers = peers;
	a->npeers = n;
	return xs_registry_addr_of(a->peers, a->npeers, dom, family, ss, len);
}

/* Is @daddr (a request's, as text) ours to serve: any address for a
 * wildcard listener, else the bound one? */
static bool acceptor_serves(const struct xs_acceptor *a, const char *daddr)
{
	char want[XS_ADDR_KEYLEN], key[XS_ADDR_KEYLEN];
	const struct sockaddr *sa = (const struct sockaddr *)&a->addr;
	struct sockaddr_storage ss;
	socklen_t sslen;

	if (xs_addr_is_any(sa, a->addrlen))
		return true;
	return xs_addr_key(sa, a->addrlen, want, sizeof(want)) == 0 &&
	       xs_neg_text_to_sa(daddr, a->port, &ss, &sslen) == 0 &&
	       xs_addr_key((struct sockaddr *)&ss, sslen, key, sizeof(key)) == 0 &&
	       strcmp(key, want) == 0;
}

/* What a failure to serve a request tells the client: resource exhaustion
 * is passed on (the client falls back to TCP if allowed). */
static int refusal_errno(int rc)
{
	if (rc == -ENOSPC || rc == -ENOMEM || rc == -EMFILE)
		return -rc;
	return rc == -EPROTO ? EPROTO : ECONNREFUSED;
}

/*
 * While the offer waits: false once the client's life byte is 0 (its life
 * page unshared: the client attached, gave up or died). Clients without
 * a life page count as alive.
 */
static bool client_lives(struct xs_conn *c)
{
	if (!c->mp_life)
		return true;
	/* Acquire: pairs with the client's b_attached store, made before it
	 * unshared the page (a system call); b_attached is read after this. */
	return __atomic_load_n((const uint8_t *)xsp_map_addr(c->mp_life) + XSOCK_LIFE_OFFSET,
			       __ATOMIC_ACQUIRE) != 0;
}

/* Build side A of a ring for @dom and publish the offer. */
static int offer(struct xs_acceptor *a, xsp_domid_t dom, const char *id,
		 const struct xs_neg_request *req, struct xs_conn **out)
{
	struct xs_ctx *ctx = a->ctx;
	struct xsp *p = ctx->plat;
	char adir[128], apath[160], val[128];
	struct xsp_unmap_notify notify;
	struct xs_conn *c;
	int rc;

	*out = NULL;
	c = xs_conn_alloc(ctx, dom, XSR_SIDE_A);
	if (!c)
		return -ENOMEM;
	/* A big ring while few are live, a small one beyond (conn.h). */
	c->order = ctx->small_order;
	if (__atomic_add_fetch(&ctx->big_rings, 1, __ATOMIC_RELAXED) <= ctx->big_rings_max) {
		c->order = ctx->ring_order;
		c->big = true;
	} else {
		__atomic_fetch_sub(&ctx->big_rings, 1, __ATOMIC_RELAXED);
	}
	c->lport = a->port;
	c->pport = req->sport;
	snprintf(c->id, sizeof(c->id), "%s", id);
	/*
	 * What getsockname() reports: the bound address (xs_acceptor_claim()
	 * checked the request is for it), or for a wildcard listener the
	 * address the client dialled, as the kernel would say.
	 */
	if (!xs_addr_is_any((const struct sockaddr *)&a->addr, a->addrlen) ||
	    xs_neg_text_to_sa(req->daddr, a->port, &c->laddr, &c->laddr_len) < 0) {
		memcpy(&c->laddr, &a->addr, sizeof(c->laddr));
		c->laddr_len = a->addrlen;
		xs_sa_set_port(&c->laddr, a->port);
	}
	rc = acceptor_peer_addr(a, dom, c->laddr.ss_family, &c->paddr, &c->paddr_len);
	if (rc < 0)
		goto free_conn;
	xs_sa_set_port(&c->paddr, c->pport);

	/*
	 * The client's channel first: it cannot be bound once the client is
	 * gone, which is how a client killed while it waited for accept() is
	 * told from a slow one (-ECONNRESET: nobody to refuse).
	 */
	rc = xsp_evtchn_bind(p, dom, (xsp_port_t)req->evtchn, &c->ev);
	if (rc < 0) {
		xs_log(XS_LOG_INFO, "ring %s from dom%u: client gone before accept() "
		       "(its channel %u: %s)", id, dom, req->evtchn, strerror(-rc));
		rc = -ECONNRESET;
		goto free_conn;
	}
	/*
	 * Its life page, when it sent one: mapped only while we wait for the
	 * attach. A page we cannot map or whose byte is already 0 is a client
	 * that left (or a broken one): dropped like a dead client's channel.
	 */
	if (req->has_life) {
		xsp_gref_t ref = (xsp_gref_t)req->life;

		rc = xsp_map(p, dom, 1, &ref, NULL, &c->mp_life);
		if (rc == 0 && !client_lives(c))
			rc = -ENOENT;
		if (rc < 0) {
			xs_log(XS_LOG_INFO, "ring %s from dom%u: client gone before accept() "
			       "(its life page %u: %s)", id, dom, req->life, strerror(-rc));
			rc = -ECONNRESET;
			goto free_conn;
		}
	}
	notify.offset = XSOCK_A_ALIVE_OFFSET;
	notify.ev = c->ev;
	rc = xsp_share(p, dom, 1, &notify, &c->sh_intf);
	if (rc < 0)
		goto free_conn;
	rc = xsp_share(p, dom, 1u << c->order, NULL, &c->sh_data);
	if ((rc == -ENOSPC || rc == -ENOMEM) && c->order > ctx->small_order) {
		/* Short of grants or memory for a big ring: try a small one. */
		__atomic_fetch_sub(&ctx->big_rings, 1, __ATOMIC_RELAXED);
		c->big = false;
		c->order = ctx->small_order;
		rc = xsp_share(p, dom, 1u << c->order, NULL, &c->sh_data);
	}
	if (rc < 0)
		goto free_conn;
	rc = xsr_format(xsp_share_addr(c->sh_intf), c->order, xsp_share_refs(c->sh_data));
	if (rc < 0)
		goto free_conn;
	rc = xsr_attach(&c->ring, XSR_SIDE_A, xsp_share_addr(c->sh_intf),
			xsp_share_addr(c->sh_data), c->order, xs_conn_kick, c);
	if (rc < 0)
		goto free_conn;

	snprintf(adir, sizeof(adir), XSOCK_CONN_PEER_FMT, ctx->self, dom);
	rc = xs_dir_ensure(a->st, ctx->self, adir, dom);
	if (rc < 0)
		goto free_conn;
	snprintf(apath, sizeof(apath), "%s/%s", adir, id);
	c->reuse = a->offer_reuse && ctx->reuse_max > 0;
	snprintf(val, sizeof(val), XSOCK_ANSWER_OFFER_FMT, xsp_share_refs(c->sh_intf)[0], c->order,
		 c->reuse ? XSOCK_ANSWER_REUSE : "");
	if (c->reuse)	/* how long we keep it parked: xs_conn_park_deadline() */
		snprintf(val + strlen(val), sizeof(val) - strlen(val), XSOCK_ANSWER_IDLE_FMT,
			 (unsigned int)xs_server_idle_ms(ctx));
	rc = xs_answer_publish(a->st, apath, val, NULL);	/* replaces the listener's ack */
	if (rc < 0)
		goto free_conn;
	c->state = XS_CONN_OFFERED;
	xs_log(XS_LOG_DEBUG, "offered ring %s to dom%u (evtchn %u)", id, dom, xsp_evtchn_port(c->ev));
	*out = c;
	return 0;

free_conn:
	xs_conn_abandon(c);
	return rc;
}

/*
 * The client attaches (setting b_attached in the interface page), then
 * signals the channel once; an event with b_attached set means connected
 * (an event without it is the one Xen leaves pending on the port we just
 * bound). The channel hanging up means connected if the client attached
 * (it already left, perhaps after sending data and closing, as a TCP
 * client may before accept()), else a client that died before attaching
 * (local backend; on Xen a dead client's channel says nothing once bound).
 * So the client's life byte going to 0 without b_attached is a client gone
 * too: its unmap notification clears the byte and signals the channel on
 * both platforms, also when it dies. The client removes its request once
 * it has signalled, or when it gives up: a request gone without an event
 * is a client gone (older clients without a life page).
 * Returns 0 connected, -ECONNABORTED, -ETIMEDOUT, or a channel error.
 */
int xs_offer_check(struct xs_conn *c)
{
	int rc = xsp_evtchn_ack(c->ev);

	/*
	 * An event counts only once B says it attached: on Xen the bind
	 * itself leaves one pending on our port.
	 */
	if (rc == -EPIPE) {
		if (!xsr_peer_attached(&c->ring))
			return -ECONNABORTED;
		xsr_peer_gone(&c->ring);
		return 1;
	}
	if (rc == 1 && xsr_peer_attached(&c->ring))
		return 1;
	if (rc < 0)
		return rc;
	/* The life byte last: b_attached is read after it (above). */
	if (!client_lives(c))
		return xsr_peer_attached(&c->ring) ? 1 : -ECONNABORTED;
	return 0;
}

static int offer_wait(struct xs_acceptor *a, struct xs_conn *c, const char *rpath)
{
	int64_t deadline = xs_now_ms() + a->ctx->accept_timeout_ms;
	int64_t gone_at = -1;

	for (;;) {
		struct pollfd pfd = { .fd = xsp_evtchn_fd(c->ev), .events = POLLIN };
		int64_t now, left;
		int rc = xs_offer_check(c);

		if (rc != 0)
			return rc < 0 ? rc : 0;
		now = xs_now_ms();
		if (gone_at >= 0 && now - gone_at >= 100)
			return -ECONNABORTED;
		left = deadline - now;
		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&pfd, 1, (int)XS_MIN(left, 50));
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc == 0 && gone_at < 0) {
			char *v = NULL;

			rc = xsp_store_read(a->st, XSP_TXN_NONE, rpath, &v, NULL);
			free(v);
			/* Give its event (sent before the removal) a moment. */
			if (rc == -ENOENT || rc == -EACCES)
				gone_at = xs_now_ms();
		}
	}
}

int xs_acceptor_claim(struct xs_acceptor *a, uint16_t bell, bool nonblock, struct xs_conn **out)
{
	struct xs_ctx *ctx = a->ctx;
	char path[128], rpath[160], id[XS_NEG_ID_LEN], *val = NULL, *req = NULL;
	struct xs_neg_request nreq;
	size_t reqlen = 0;
	unsigned long dom;
	struct xs_conn *c = NULL;
	int rc;

	*out = NULL;
	xs_bell_path(path, sizeof(path), ctx->self, a->port, bell);
	pthread_mutex_lock(&a->lock);
	/* Most connections from the doorbell address are not doorbells when
	 * there are any at all: look before starting a transaction. */
	rc = xsp_store_read(a->st, XSP_TXN_NONE, path, &val, NULL);
	free(val);
	val = NULL;
	if (rc < 0)
		goto unlock;
	rc = xs_bell_take(a->st, path, &val);
	if (rc == 0) {
		/* Withdrawn by the listener meanwhile: it gave up on it. */
		rc = -ECONNABORTED;
		goto unlock;
	}
	if (rc < 0)
		goto unlock;
	if (xs_kv_get_uint(val, strlen(val), XSOCK_KEY_DOM, XSP_DOMID_SELF - 1, &dom) < 0 ||
	    xs_kv_get_id(val, strlen(val), XSOCK_KEY_ID, id) < 0) {
		xs_log(XS_LOG_WARN, "malformed doorbell record %s", path);
		rc = -ECONNABORTED;
		goto unlock;
	}
	snprintf(rpath, sizeof(rpath), XSOCK_REQ_PATH_FMT, (unsigned int)dom, ctx->self, id);
	rc = xsp_store_read(a->st, XSP_TXN_NONE, rpath, &req, &reqlen);
	if (rc < 0) {
		xs_log(XS_LOG_INFO, "ring %s from dom%lu: client gone before accept()", id, dom);
		/* The listener's acknowledgement (another listener of ours on
		 * this port may have served the client meanwhile) goes too. */
		xs_answer_rm_wait(a->st, ctx->self, (xsp_domid_t)dom, id);
		rc = -ECONNABORTED;
		goto unlock;
	}
	if (xs_neg_parse_request(req, reqlen, &nreq) < 0 || nreq.port != a->port) {
		xs_answer_refuse(a->st, ctx->self, (xsp_domid_t)dom, id, EPROTO);
		rc = -ECONNABORTED;
		goto unlock;
	}
	/* The listener checked the address; the client may have rewritten
	 * its request since. */
	if (!acceptor_serves(a, nreq.daddr)) {
		xs_log(XS_LOG_INFO, "ring %s from dom%lu: for %s, not our address", id, dom,
		       nreq.daddr);
		xs_answer_refuse(a->st, ctx->self, (xsp_domid_t)dom, id, ECONNREFUSED);
		rc = -ECONNABORTED;
		goto unlock;
	}
	rc = offer(a, (xsp_domid_t)dom, id, &nreq, &c);
	if (rc == -EALREADY) {
		rc = -ECONNABORTED;	/* another listener of ours answered */
		goto unlock;
	}
	if (rc == -ECONNRESET) {
		xs_answer_rm_wait(a->st, ctx->self, (xsp_domid_t)dom, id);
		rc = -ECONNABORTED;
		goto unlock;
	}
	if (rc < 0) {
		xs_log(XS_LOG_WARN, "offer to dom%lu: %s", dom, strerror(-rc));
		xs_answer_refuse(a->st, ctx->self, (xsp_domid_t)dom, id, refusal_errno(rc));
		rc = -ECONNABORTED;
		goto unlock;
	}
	if (nonblock) {
		/*
		 * Never wait for a peer in a non-blocking accept(): a client
		 * that has not attached yet is handed out as a connection that
		 * settles later (xs_conn_event()), so that one client that
		 * never attaches cannot stall a single-threaded server.
		 */
		rc = xs_offer_check(c);
		if (rc == 0) {
			c->offer_until_ms = xs_now_ms() + ctx->accept_timeout_ms;
			xs_log(XS_LOG_DEBUG, "ring %s from dom%u accepted before it attached "
			       "(doorbell port %u)", c->id, c->peer, bell);
			*out = c;	/* still XS_CONN_OFFERED */
			goto unlock;
		}
		if (rc > 0)
			rc = 0;
	} else {
		rc = offer_wait(a, c, rpath);
	}
	/* The negotiation is over either way. */
	xsp_unmap(c->mp_life);
	c->mp_life = NULL;
	xs_answer_rm(a->st, ctx->self, c->peer, c->id);
	if (rc < 0) {
		xs_log(XS_LOG_INFO, "offer %s to dom%u dropped: %s", c->id, c->peer,
		       strerror(-rc));
		xs_conn_abandon(c);
		rc = -ECONNABORTED;
		goto unlock;
	}
	c->state = XS_CONN_CONNECTED;
	xs_log(XS_LOG_DEBUG, "ring %s from dom%u accepted (doorbell port %u)", c->id, c->peer,
	       bell);
	*out = c;
unlock:
	pthread_mutex_unlock(&a->lock);
	free(val);
	free(req);
	return rc;
}
