/* SPDX-License-Identifier: MIT */
/*
 * Dead domains (domwatch.h). The node watched for peer domain P, from
 * domain S (us):
 *   we are side B (P serves):  B(P)/conn/<S>, where P answers us
 *   we are side A (P dials):   B(P)/req/<S>,  where P asks us
 * Both exist once one negotiation happened, are readable by us, and are
 * never removed by xsock (include/xsock/store.h): they vanish only with
 * P's home, which the toolstack removes when it has released a dead
 * domain (measured on Xen 4.17: ../notes, "domain death, seen from a
 * domU"); `xsockctl domain destroy` does the same on the local backend.
 * A read of the node that says -ENOENT or -EACCES (xenstored answers
 * EACCES for a node below a home we may not read) is a dead domain.
 *
 * One store handle, opened by the first watch (or taken over from the
 * connection that needs it: xs_conn_store_take()) and closed when no ring
 * is left to watch for; its watch fd sits in the event thread's epoll set.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <xsock/store.h>

#include "common/clock.h"
#include "common/log.h"
#include "preload/domwatch.h"
#include "preload/evloop.h"

struct domw {
	struct domw *next;
	xsp_domid_t dom;
	unsigned int refs;	/* rings served or parked here with @dom */
	int64_t idle_since;	/* refs fell to 0 then; -1 while refs > 0 */
	bool watching;		/* the watch is registered */
	char path[96];
	char token[24];
};

/*
 * A domain no ring refers to any more stays watched this long: a client
 * that connects, closes and connects again (its ring parked in between,
 * or negotiated anew) would otherwise pay a store handle, a watch and a
 * read per connection.
 */
#define DOMWATCH_LINGER_MS 250

static struct domw *doms;
static struct xsp_store *dst;
static bool dst_failed;		/* could not open the store: no more tries */
static char dw_marker;

bool domwatch_is_marker(const void *ptr)
{
	return ptr == (const void *)&dw_marker;
}

static int store_get(struct xs_conn *c)
{
	int rc;

	if (dst)
		return 0;
	if (dst_failed)
		return -EIO;
	/* A new connection's negotiation handle serves, if it has one. */
	dst = xs_conn_store_take(c);
	rc = dst ? 0 : xsp_store_open(c->ctx->plat, &dst);
	if (rc == 0) {
		rc = ev_watch(xsp_watch_fd(dst), EPOLLIN, &dw_marker);
		if (rc < 0) {
			xsp_store_close(dst);
			dst = NULL;
		}
	}
	if (rc < 0) {
		dst_failed = true;
		xs_log(XS_LOG_WARN, "dead-domain watch: no store handle: %s", strerror(-rc));
	}
	return rc;
}

static struct domw *find(xsp_domid_t dom)
{
	struct domw *d;

	for (d = doms; d; d = d->next)
		if (d->dom == dom)
			return d;
	return NULL;
}

static void arm(struct domw *d, struct xs_conn *c)
{
	int rc;

	if (d->watching || store_get(c) < 0)
		return;
	if (c->side == XSR_SIDE_B)
		snprintf(d->path, sizeof(d->path), XSOCK_CONN_PEER_FMT, (unsigned int)c->peer,
			 (unsigned int)c->ctx->self);
	else
		snprintf(d->path, sizeof(d->path), XSOCK_REQ_PEER_FMT, (unsigned int)c->peer,
			 (unsigned int)c->ctx->self);
	snprintf(d->token, sizeof(d->token), "xsock-dom-%u", (unsigned int)d->dom);
	/* Queues one event at once: the first look happens then. */
	rc = xsp_watch_add(dst, d->path, d->token);
	if (rc < 0 && rc != -EEXIST) {
		xs_log(XS_LOG_WARN, "dead-domain watch on %s: %s", d->path, strerror(-rc));
		return;
	}
	d->watching = true;
}

static void disarm(struct domw *d)
{
	if (!d->watching)
		return;
	xsp_watch_rm(dst, d->path, d->token);
	d->watching = false;
}

void domwatch_ref(struct xs_conn *c)
{
	struct domw *d = find(c->peer);

	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return;		/* unwatched: as before this existed */
		d->dom = c->peer;
		d->next = doms;
		doms = d;
	}
	d->refs++;
	d->idle_since = -1;
	/* Also re-arms a domain id seen dead before: a new domain has it now. */
	arm(d, c);
}

void domwatch_unref(struct xs_conn *c)
{
	struct domw *d = find(c->peer);

	/* Never freed here: domwatch_event() may be walking the list. */
	if (d && d->refs > 0 && --d->refs == 0) {
		d->idle_since = xs_now_ms();
		/* From another thread (a parked ring dropped by accept()):
		 * the event thread's sleep may have no end yet. */
		ev_wake_by(d->idle_since + DOMWATCH_LINGER_MS);
	}
}

int64_t domwatch_expire(int64_t now)
{
	struct domw **pp, *d;
	int64_t next = -1;

	for (pp = &doms; (d = *pp);) {
		int64_t due = d->idle_since + DOMWATCH_LINGER_MS;

		if (d->refs > 0 || d->idle_since < 0) {
			pp = &d->next;
			continue;
		}
		if (now < due) {
			if (next < 0 || due < next)
				next = due;
			pp = &d->next;
			continue;
		}
		disarm(d);
		*pp = d->next;
		free(d);
	}
	/*
	 * No ring left to watch for: give the store handle back, so that a
	 * process's fds settle where they were once its rings are gone.
	 */
	if (!doms && dst) {
		ev_unwatch(xsp_watch_fd(dst));
		xsp_store_close(dst);
		dst = NULL;
	}
	return next;
}

void domwatch_event(void (*dead)(xsp_domid_t dom))
{
	struct domw *d;
	char *path, *token;

	if (!dst)
		return;
	/* Which node fired does not matter: every watched one is looked at. */
	while (xsp_watch_read(dst, &path, &token) == 0)
		free(path);
	for (d = doms; d; d = d->next) {
		char *val = NULL;
		int rc;

		if (!d->watching)
			continue;
		rc = xsp_store_read(dst, XSP_TXN_NONE, d->path, &val, NULL);
		free(val);
		if (rc != -ENOENT && rc != -EACCES)
			continue;
		xs_log(XS_LOG_INFO, "dom%u is dead (%s gone): ending its rings",
		       (unsigned int)d->dom, d->path);
		disarm(d);
		dead(d->dom);
	}
}

void domwatch_after_fork(void)
{
	struct domw *d;

	/*
	 * The handle's watches are the parent's (and on the local backend
	 * its FIFO too): forget it without closing. Its fds are close-on-exec.
	 */
	while ((d = doms)) {
		doms = d->next;
		free(d);
	}
	dst = NULL;
	dst_failed = false;
}
