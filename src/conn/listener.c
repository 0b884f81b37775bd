/* SPDX-License-Identifier: MIT */
/*
 * The listening half of a ring listener (conn.h, "Listener"), in the
 * process that called listen(): the advertisement of the port, the
 * watches on the registered domains' requests, the queue of requests
 * waiting for a doorbell, the acknowledgements and refusals, and the
 * doorbell records it writes and withdraws.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/log.h"
#include "conn/identity.h"
#include "conn/negotiate.h"
#include "conn/private.h"

int xs_listener_fd(const struct xs_listener *l)
{
	return xsp_watch_fd(l->st);
}

/* @d is in @v (@n entries)? */
static bool dom_in(const xsp_domid_t *v, unsigned int n, xsp_domid_t d)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (v[i] == d)
			return true;
	return false;
}

static void seen_forget_dom(struct xs_listener *l, xsp_domid_t dom);

/*
 * Watch req/<self> of every registered domain, and advertise to each
 * (conn/advert.c); a domain no longer registered loses its watch, its
 * advertisement, and what we kept of its requests.
 */
static int listener_refresh(struct xs_listener *l)
{
	struct xs_ctx *ctx = l->ctx;
	struct xs_peer *peers = NULL;
	xsp_domid_t *watched, *gone;
	unsigned int n = 0, i, nw = 0, ngone = 0;
	char path[128];
	int rc;

	rc = xs_registry_list(l->st, ctx->self, &peers, &n);
	if (rc < 0)
		return rc;
	watched = calloc(n ? n : 1, sizeof(*watched));
	gone = calloc(l->nwatched ? l->nwatched : 1, sizeof(*gone));
	if (!watched || !gone) {
		free(watched);
		free(gone);
		free(peers);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		if (xs_peer_up(&peers[i]) && !dom_in(watched, nw, peers[i].dom))
			watched[nw++] = peers[i].dom;
	/* Drop watches of domains no longer registered, add new ones. */
	for (i = 0; i < l->nwatched; i++) {
		if (dom_in(watched, nw, l->watched[i]))
			continue;
		snprintf(path, sizeof(path), XSOCK_REQ_PEER_FMT, l->watched[i], ctx->self);
		xsp_watch_rm(l->st, path, "req");
		seen_forget_dom(l, l->watched[i]);
		gone[ngone++] = l->watched[i];
	}
	xs_adv_withdraw(l, gone, ngone, false);
	free(gone);
	for (i = 0; i < nw; i++) {
		if (dom_in(l->watched, l->nwatched, watched[i]))
			continue;
		snprintf(path, sizeof(path), XSOCK_REQ_PEER_FMT, watched[i], ctx->self);
		rc = xsp_watch_add(l->st, path, "req");
		if (rc < 0)
			xs_log(XS_LOG_WARN, "watch %s: %s", path, strerror(-rc));
	}
	free(l->watched);
	l->watched = watched;
	l->nwatched = nw;
	free(l->peers);
	l->peers = peers;
	l->npeers = n;
	l->stale = false;
	return xs_adv_publish(l, l->watched, l->nwatched);
}

int xs_listener_open(struct xs_ctx *ctx, const struct sockaddr *addr, socklen_t addrlen,
		     uint16_t port, struct xs_listener **out)
{
	struct xs_listener *l;
	char path[128];
	int rc;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	xs_random_id(l->id, sizeof(l->id));
	l->ctx = ctx;
	l->port = port;
	l->tidy_ms = -1;
	xs_sa_keep(&l->addr, &l->addrlen, addr, addrlen);
	/* Bound to one address: that one only is served, and said so. */
	if (!xs_addr_is_any(addr, addrlen) &&
	    (xs_addr_key(addr, addrlen, l->addr_key, sizeof(l->addr_key)) < 0 ||
	     xs_addr_text(addr, addrlen, l->addr_text, sizeof(l->addr_text)) < 0)) {
		rc = -EINVAL;
		goto free_listener;
	}
	rc = xsp_store_open(ctx->plat, &l->st);
	if (rc < 0)
		goto free_listener;
	/* Best effort: a failed sweep must not stop us from listening. */
	xs_sweep_listen(l->st, ctx->self, NULL);
	xs_sweep_answers(l->st, ctx->self, NULL);
	snprintf(path, sizeof(path), XSOCK_PEERS_FMT, ctx->self);
	rc = xsp_watch_add(l->st, path, "peers");
	if (rc < 0)
		goto close_store;
	/*
	 * Names and identities change with the domains (docs/protocol.md,
	 * "Names and identity"): domain 0's directory for us, and, where we
	 * may hear them (domain 0), domains coming and going. Best effort.
	 */
	l->refused_dom = XSP_DOMID_SELF;
	snprintf(path, sizeof(path), XSOCK_DIR_DIR_FMT, ctx->self);
	xsp_watch_add(l->st, path, "peers");
	if (ctx->self == 0) {
		xsp_watch_add(l->st, XSOCK_XS_INTRODUCE, "peers");
		xsp_watch_add(l->st, XSOCK_XS_RELEASE, "peers");
	}
	rc = listener_refresh(l);
	if (rc < 0)
		goto close_store;
	*out = l;
	return 0;

close_store:
	xsp_store_close(l->st);
free_listener:
	free(l);
	return rc;
}

void xs_listener_close(struct xs_listener *l)
{
	struct xs_request *rq, *next;

	if (!l)
		return;
	/*
	 * Remove our advertisement -- only if it is still ours: the same
	 * program may already listen on the port again (iperf3 does between
	 * tests), and a close that is finished late must not take the new one
	 * away.
	 */
	xs_adv_withdraw(l, l->watched, l->nwatched, true);
	/* Requests nobody rang for: the port is closed, as TCP would say. */
	for (rq = l->pending; rq; rq = next) {
		next = rq->next;
		xs_listener_refuse(l, rq, ECONNREFUSED);
		free(rq);
	}
	xs_bell_rm_dir(l->st, l->ctx->self, l->port);
	xsp_store_close(l->st);
	free(l->seen);
	free(l->watched);
	free(l->peers);
	free(l);
}

/* The entry of request (@dom, @id), still there; a gone one (its
 * doorbell still out) is not found: a new request may reuse its id. */
static struct xs_seen *seen_find(struct xs_listener *l, xsp_domid_t dom, const char *id)
{
	unsigned int i;

	for (i = 0; i < l->nseen; i++)
		if (l->seen[i].dom == dom && !l->seen[i].gone && strcmp(l->seen[i].id, id) == 0)
			return &l->seen[i];
	return NULL;
}

/*
 * Remember (@dom, @id) as handled: its entry (valid until the next
 * seen_add() or seen_drop()). Out of memory, NULL: it is not remembered,
 * nor answered; the request is looked at again with the next event.
 */
static struct xs_seen *seen_add(struct xs_listener *l, xsp_domid_t dom, const char *id)
{
	struct xs_seen *e;
	int64_t due;

	if (l->nseen == l->seen_cap) {
		unsigned int cap = l->seen_cap ? l->seen_cap * 2 : 16;
		struct xs_seen *n = realloc(l->seen, cap * sizeof(*n));

		if (!n)
			return NULL;
		l->seen = n;
		l->seen_cap = cap;
	}
	e = &l->seen[l->nseen++];
	memset(e, 0, sizeof(*e));
	e->dom = dom;
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->since_ms = xs_now_ms();
	due = e->since_ms + XSOCK_REFUSED_KEEP_MS;
	if (l->tidy_ms < 0 || due < l->tidy_ms)
		l->tidy_ms = due;
	return e;
}

/* Forget entry @i; the request is gone: so goes a refusal, an offer or our
 * own acknowledgement of it. */
static void seen_drop(struct xs_listener *l, unsigned int i)
{
	struct xs_seen *e = &l->seen[i];

	if (!e->tidied)
		xs_answer_rm_stale(l->st, l->ctx->self, e->dom, e->id, l->id);
	l->seen[i] = l->seen[--l->nseen];
}

/*
 * Is the doorbell of @e out? A doorbell ends (xs_listener_unbell()) by
 * XSOCK_ACCEPT_TIMEOUT_MS after it was rung; one not heard of well after
 * that was lost to us (the copy of a listener a fork() made, whose
 * doorbells the parent keeps): it no longer counts.
 */
static bool seen_bell_out(const struct xs_listener *l, const struct xs_seen *e, int64_t now)
{
	return e->bell && now - e->bell_ms <= (int64_t)l->ctx->accept_timeout_ms + 1000;
}

/*
 * Forget @dom's requests whose node is gone (keeps the list short). One
 * whose doorbell is still out stays, as gone, until that doorbell is done
 * (xs_listener_unbell()): it still costs us a socket and a node, and
 * counts against @dom's cap; its answers go now.
 */
static void seen_prune(struct xs_listener *l, xsp_domid_t dom, char **names, unsigned int n)
{
	int64_t now = xs_now_ms();
	unsigned int i, j;

	for (i = 0; i < l->nseen;) {
		struct xs_seen *e = &l->seen[i];
		bool keep = e->dom != dom;

		for (j = 0; !keep && !e->gone && j < n; j++)
			keep = strcmp(e->id, names[j]) == 0;
		if (!keep && seen_bell_out(l, e, now)) {
			if (!e->tidied)
				xs_answer_rm_stale(l->st, l->ctx->self, e->dom, e->id, l->id);
			e->tidied = true;
			e->gone = true;
			keep = true;
		}
		if (keep)
			i++;
		else
			seen_drop(l, i);
	}
}

/* @dom is no longer registered: forget its requests. */
static void seen_forget_dom(struct xs_listener *l, xsp_domid_t dom)
{
	unsigned int i;

	for (i = 0; i < l->nseen;) {
		if (l->seen[i].dom == dom)
			seen_drop(l, i);
		else
			i++;
	}
}

/*
 * Requests the client keeps for longer than XSOCK_REFUSED_KEEP_MS (it
 * never read its refusal, or is hostile): remove their refusals now, and
 * look again later at those still waiting for an acceptor.
 */
static void seen_tidy(struct xs_listener *l, int64_t now)
{
	int64_t next = -1;
	unsigned int i;

	for (i = 0; i < l->nseen; i++) {
		struct xs_seen *e = &l->seen[i];
		int64_t due = e->since_ms + XSOCK_REFUSED_KEEP_MS;

		if (e->tidied)
			continue;
		if (due <= now) {
			char apath[160], *val = NULL;
			struct xs_neg_answer a;
			size_t len = 0;
			int rc;

			snprintf(apath, sizeof(apath), XSOCK_CONN_PATH_FMT, l->ctx->self, e->dom,
				 e->id);
			rc = xsp_store_read(l->st, XSP_TXN_NONE, apath, &val, &len);
			if (rc == -ENOENT) {
				e->tidied = true;
			} else if (rc == 0 && xs_neg_parse_answer(val, len, &a) == 0 &&
				   a.state == XS_NEG_REFUSED) {
				xs_node_rm_if_unchanged(l->st, apath, val);
				e->tidied = true;
			}
			free(val);
			if (e->tidied)
				continue;
			due = now + XSOCK_REFUSED_KEEP_MS;	/* still in negotiation */
		}
		if (next < 0 || due < next)
			next = due;
	}
	l->tidy_ms = next;
}

int64_t xs_listener_deadline(const struct xs_listener *l)
{
	return l->tidy_ms;
}

/* Do we serve @daddr (a request's, as text)? */
static bool listener_serves(const struct xs_listener *l, const char *daddr)
{
	char key[XS_ADDR_KEYLEN];
	struct sockaddr_storage ss;
	socklen_t sslen;

	if (!l->addr_key[0])
		return true;	/* a wildcard listener: as before */
	return xs_neg_text_to_sa(daddr, l->port, &ss, &sslen) == 0 &&
	       xs_addr_key((struct sockaddr *)&ss, sslen, key, sizeof(key)) == 0 &&
	       strcmp(key, l->addr_key) == 0;
}

/*
 * Acknowledge a request: tells the client that a live listener has it
 * while the offer waits for a process to accept() (docs/protocol.md,
 * "Liveness"). -EALREADY: another listener of ours has it.
 */
static int acknowledge(struct xs_listener *l, xsp_domid_t dom, const char *id)
{
	char adir[128], apath[160], val[48];
	int rc;

	snprintf(adir, sizeof(adir), XSOCK_CONN_PEER_FMT, l->ctx->self, dom);
	rc = xs_dir_ensure(l->st, l->ctx->self, adir, dom);
	if (rc < 0)
		return rc;
	snprintf(apath, sizeof(apath), "%s/%s", adir, id);
	snprintf(val, sizeof(val), XSOCK_ANSWER_WAIT_FMT, l->id);
	return xs_answer_publish(l->st, apath, val, l->id);
}

int xs_listener_refuse(struct xs_listener *l, const struct xs_request *rq, int err)
{
	struct xs_seen *e = seen_find(l, rq->dom, rq->id);

	/* Final: it no longer counts against its domain's cap. */
	if (e) {
		e->inflight = false;
		e->bell = 0;
	}
	return xs_answer_refuse(l->st, l->ctx->self, rq->dom, rq->id, err);
}

/* ---- requests in flight, per peer (docs/protocol.md, "Limits per peer") ---------- */

/* Does an answer of ours still stand for @e: our acknowledgement or an
 * offer (an acceptor's)? A store error other than -ENOENT counts as yes. */
static bool seen_answered(struct xs_listener *l, const struct xs_seen *e)
{
	char apath[160], *val = NULL;
	struct xs_neg_answer a;
	size_t len = 0;
	bool held;
	int rc;

	snprintf(apath, sizeof(apath), XSOCK_CONN_PATH_FMT, l->ctx->self, e->dom, e->id);
	rc = xsp_store_read(l->st, XSP_TXN_NONE, apath, &val, &len);
	if (rc < 0)
		return rc != -ENOENT;
	held = xs_neg_parse_answer(val, len, &a) == 0 &&
	       (a.state == XS_NEG_OFFER ||
		(a.state == XS_NEG_WAIT && strcmp(a.id, l->id) == 0));
	free(val);
	return held;
}

/*
 * @dom's requests in flight here: acknowledged by us and not refused,
 * while their doorbell is out or an answer of ours (acknowledgement,
 * offer) stands for them. With @recheck, the answers are read again
 * (those an acceptor has done with leave the count: attached, dropped);
 * else the count is the last one known, an upper bound.
 */
static unsigned int inflight_of(struct xs_listener *l, xsp_domid_t dom, bool recheck)
{
	int64_t now = xs_now_ms();
	unsigned int i, n = 0;

	for (i = 0; i < l->nseen; i++) {
		struct xs_seen *e = &l->seen[i];

		if (e->dom != dom || !e->inflight)
			continue;
		if (recheck && !seen_bell_out(l, e, now)) {
			e->bell = 0;
			if (e->gone || !seen_answered(l, e))
				e->inflight = false;
		}
		n += e->inflight;
	}
	return n;
}

/* The most requests of one domain in flight at once (XSOCK_MAX_INFLIGHT_PER_PEER). */
static unsigned int inflight_cap(const struct xs_listener *l)
{
	return l->ctx->inflight_max > 0 ? (unsigned int)l->ctx->inflight_max :
					  XS_DEFAULT_INFLIGHT_MAX;
}

/*
 * May @dom connect now? The registry snapshot says it is registered; an
 * entry bound to a name or an identity holds only while the domain that
 * has the id now is that one (read afresh: the domain may have been
 * destroyed and its id given to another since the snapshot). A plain
 * entry holds as it is.
 */
static bool dom_allowed_now(struct xs_listener *l, xsp_domid_t dom)
{
	struct xs_ident id;
	bool have = false;
	unsigned int i;

	for (i = 0; i < l->npeers; i++) {
		const struct xs_peer *p = &l->peers[i];

		if (p->dom != dom || !xs_peer_up(p))
			continue;
		if (!p->name[0] && !p->uuid[0])
			return true;
		if (!have && xs_ident_of(l->st, l->ctx->self, dom, &id) < 0)
			return false;
		have = true;
		if ((!p->name[0] || strcmp(p->name, id.name) == 0) &&
		    (!p->uuid[0] || strcmp(p->uuid, id.uuid) == 0))
			return true;
	}
	return false;
}

/*
 * Refuse @dom's requests not seen yet: it is not the domain registered.
 * The registry is resolved again at the next pass (not in this one: the
 * client must be able to read its refusal first; a domain taken out of
 * the registry loses what we wrote for it).
 */
static void refuse_impostor(struct xs_listener *l, xsp_domid_t dom, char **names, unsigned int n)
{
	unsigned int i, count = 0;

	for (i = 0; i < n; i++) {
		if (xs_neg_check_id(names[i]) < 0 || seen_find(l, dom, names[i]) ||
		    !seen_add(l, dom, names[i]))
			continue;
		xs_answer_refuse(l->st, l->ctx->self, dom, names[i], ECONNREFUSED);
		count++;
	}
	if (count && l->refused_dom != dom) {
		xs_log(XS_LOG_WARN, "port %u: dom%u is not the domain registered under that id "
		       "(its name or identity changed): %u request%s refused", l->port, dom,
		       count, count == 1 ? "" : "s");
		l->refused_dom = dom;
	}
	l->stale = true;
}

/* Does @names hold a request of @dom not seen yet? */
static bool has_new(struct xs_listener *l, xsp_domid_t dom, char **names, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (xs_neg_check_id(names[i]) == 0 && !seen_find(l, dom, names[i]))
			return true;
	return false;
}

static void process_requests_of(struct xs_listener *l, xsp_domid_t dom)
{
	struct xs_ctx *ctx = l->ctx;
	char dir[128], path[192];
	char **names = NULL;
	unsigned int n = 0, i, held, over = 0, cap = inflight_cap(l);
	bool rechecked = false;
	int rc;

	snprintf(dir, sizeof(dir), XSOCK_REQ_PEER_FMT, dom, ctx->self);
	rc = xsp_store_list(l->st, XSP_TXN_NONE, dir, &names, &n);
	if (rc < 0)
		return;
	seen_prune(l, dom, names, n);
	if (has_new(l, dom, names, n) && !dom_allowed_now(l, dom)) {
		refuse_impostor(l, dom, names, n);
		free(names);
		return;
	}
	held = inflight_of(l, dom, false);
	for (i = 0; i < n; i++) {
		struct xs_request *rq, **pp;
		struct xs_neg_request req;
		struct xs_seen *e;
		unsigned long port;
		size_t len = 0;
		char *val;

		/* Not an id: no client of ours could read an answer to it,
		 * so none is written (nor anything else). */
		if (xs_neg_check_id(names[i]) < 0)
			continue;
		if (seen_find(l, dom, names[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = xsp_store_read(l->st, XSP_TXN_NONE, path, &val, &len);
		if (rc < 0)
			continue;
		rc = xs_kv_get_uint(val, len, XSOCK_KEY_PORT, 65535, &port);
		if (rc == 0 && port != l->port) {
			free(val);	/* another listener's */
			continue;
		}
		if (!seen_add(l, dom, names[i])) {
			free(val);	/* out of memory: with the next event */
			continue;
		}
		if (rc == 0)
			rc = xs_neg_parse_request(val, len, &req);
		free(val);
		if (rc < 0) {
			xs_log(XS_LOG_WARN, "malformed request %s", path);
			xs_answer_refuse(l->st, ctx->self, dom, names[i], EPROTO);
			continue;
		}
		/*
		 * Bound to one address: a request for another is refused, as
		 * TCP refuses a connection to an address nothing listens on,
		 * unless another listener of ours says it serves that one.
		 */
		if (!listener_serves(l, req.daddr)) {
			if (!xs_adv_other_serves(l, dom, req.daddr))
				xs_answer_refuse_first(l->st, ctx->self, dom, names[i],
						       ECONNREFUSED);
			continue;
		}
		/*
		 * At most cap requests of one domain in flight: one more is
		 * refused at once (ENOBUFS: the client may fall back to TCP),
		 * where nothing answered it yet (another listener of ours may
		 * have room), and costs us nothing but that refusal, which
		 * goes with the request. Those an acceptor has done with are
		 * counted out first, once per pass.
		 */
		if (held >= cap && !rechecked) {
			held = inflight_of(l, dom, true);
			rechecked = true;
		}
		if (held >= cap) {
			xs_answer_refuse_first(l->st, ctx->self, dom, names[i], ENOBUFS);
			over++;
			continue;
		}
		/*
		 * The offer comes from whichever process accept()s the
		 * doorbell, maybe much later: acknowledge now, so that the
		 * client does not take a busy server for a dead one.
		 */
		rc = acknowledge(l, dom, names[i]);
		if (rc == -EALREADY)
			continue;	/* another listener of ours has it */
		if (rc < 0)
			xs_log(XS_LOG_WARN, "acknowledge dom%u: %s", dom, strerror(-rc));
		rq = calloc(1, sizeof(*rq));
		if (!rq) {
			xs_answer_refuse(l->st, ctx->self, dom, names[i], ENOMEM);
			continue;
		}
		e = seen_find(l, dom, names[i]);
		if (e) {
			e->inflight = true;
			held++;
		}
		rq->dom = dom;
		snprintf(rq->id, sizeof(rq->id), "%s", names[i]);
		/* Oldest first: accept() then hands out connections roughly in
		 * the order their clients arrived, as TCP's accept queue does. */
		for (pp = &l->pending; *pp; pp = &(*pp)->next)
			;
		*pp = rq;
	}
	free(names);
	if (over)
		xs_log(XS_LOG_INFO, "port %u: %u requests of dom%u refused: %u in flight, "
		       "XSOCK_MAX_INFLIGHT_PER_PEER=%u", l->port, over, dom, held, cap);
}

int xs_listener_process(struct xs_listener *l)
{
	bool peers_changed = false, reqs = false;
	char *path, *token;
	unsigned int i;

	while (xsp_watch_read(l->st, &path, &token) == 0) {
		if (strcmp(token, "peers") == 0)
			peers_changed = true;
		else
			reqs = true;
		free(path);
	}
	if (peers_changed || l->stale) {
		int rc = listener_refresh(l);

		if (rc < 0)
			xs_log(XS_LOG_WARN, "registry refresh: %s", strerror(-rc));
		reqs = true;
	}
	if (reqs)
		for (i = 0; i < l->nwatched; i++)
			process_requests_of(l, l->watched[i]);
	if (l->tidy_ms >= 0 && xs_now_ms() >= l->tidy_ms)
		seen_tidy(l, xs_now_ms());
	return 0;
}

int xs_listener_take(struct xs_listener *l, struct xs_request **out)
{
	*out = l->pending;
	if (!*out)
		return 0;
	l->pending = (*out)->next;
	(*out)->next = NULL;
	return 1;
}

int xs_listener_bell(struct xs_listener *l, const struct xs_request *rq, uint16_t bell)
{
	char path[128], val[64];
	struct xs_seen *e;
	int rc;

	/* B(S) is readable by S alone, and so is everything created below it. */
	xs_bell_path(path, sizeof(path), l->ctx->self, l->port, bell);
	snprintf(val, sizeof(val), XSOCK_BELL_FMT, rq->dom, rq->id);
	rc = xsp_store_write(l->st, XSP_TXN_NONE, path, val, strlen(val));
	e = seen_find(l, rq->dom, rq->id);
	if (rc == 0 && e) {	/* it counts while it is out */
		e->bell = bell;
		e->bell_ms = xs_now_ms();
	}
	return rc;
}

int xs_listener_unbell(struct xs_listener *l, uint16_t bell)
{
	char path[128], id[XS_NEG_ID_LEN], *val = NULL;
	unsigned long dom;
	unsigned int i;
	int rc;

	/* That doorbell is done: its request (if gone) with it. */
	for (i = 0; i < l->nseen; i++) {
		if (l->seen[i].bell != bell)
			continue;
		l->seen[i].bell = 0;
		if (l->seen[i].gone)
			seen_drop(l, i);
		break;
	}
	xs_bell_path(path, sizeof(path), l->ctx->self, l->port, bell);
	rc = xs_bell_take(l->st, path, &val);
	/* Withdrawn unclaimed: our acknowledgement must not outlive it. */
	if (rc == 1 && val &&
	    xs_kv_get_uint(val, strlen(val), XSOCK_KEY_DOM, XSP_DOMID_SELF - 1, &dom) == 0 &&
	    xs_kv_get_id(val, strlen(val), XSOCK_KEY_ID, id) == 0)
		xs_answer_rm_ack(l->st, l->ctx->self, (xsp_domid_t)dom, id, l->id);
	free(val);
	return rc;
}
