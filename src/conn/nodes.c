/* SPDX-License-Identifier: MIT */
/*
 * The negotiation's store nodes, as both sides and the sweeps write and
 * remove them (the layout is <xsock/store.h>): shared directories,
 * conditional removal, answers (publish, refuse, remove), and doorbell
 * records. Each function's contract is in private.h.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/clock.h"
#include "conn/negotiate.h"
#include "conn/private.h"

/* ---- directories and ids ------------------------------------------------------ */

/*
 * Make sure @dir exists with permissions "owner self, nobody else, @peer
 * may read". Children created later inherit them.
 */
int xs_dir_ensure(struct xsp_store *st, xsp_domid_t self, const char *dir, xsp_domid_t peer)
{
	struct xsp_perm perms[2] = {
		{ .dom = self, .perm = XSP_PERM_NONE },
		{ .dom = peer, .perm = XSP_PERM_READ },
	};
	struct xsp_perm *cur = NULL;
	unsigned int ncur = 0;
	int rc;

	rc = xsp_store_get_perms(st, XSP_TXN_NONE, dir, &cur, &ncur);
	if (rc == 0) {
		bool ok = ncur == 2 && cur[0].dom == self && cur[0].perm == XSP_PERM_NONE &&
			  cur[1].dom == peer && cur[1].perm == XSP_PERM_READ;

		free(cur);
		if (ok)
			return 0;
	} else if (rc != -ENOENT) {
		return rc;
	} else {
		rc = xsp_store_write(st, XSP_TXN_NONE, dir, "", 0);
		if (rc < 0)
			return rc;
	}
	return xsp_store_set_perms(st, XSP_TXN_NONE, dir, perms, 2);
}

void xs_random_id(char *buf, size_t len)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = ((uint64_t)getpid() << 32) ^ (uint64_t)xs_now_ms() ^ (uint64_t)(uintptr_t)buf;
	snprintf(buf, len, "%016" PRIx64, v);
}

/* ---- conditional removal ------------------------------------------------------ */

/*
 * Remove @path if @match says yes to its current value, in a transaction
 * (so that a node rewritten at the same moment is never removed).
 */
static void rm_if(struct xsp_store *st, const char *path,
		  bool (*match)(const char *val, size_t len, const void *arg), const void *arg)
{
	int tries;

	for (tries = 0; tries < 16; tries++) {
		char *cur = NULL;
		size_t len = 0;
		xsp_txn_t t;
		int rc = xsp_txn_start(st, &t);

		if (rc < 0)
			return;
		rc = xsp_store_read(st, t, path, &cur, &len);
		if (rc == 0 && match(cur, len, arg))
			xsp_store_rm(st, t, path);
		free(cur);
		rc = xsp_txn_end(st, t, false);
		if (rc != -EAGAIN)
			return;
	}
}

static bool value_is(const char *val, size_t len, const void *arg)
{
	return strcmp(val, arg) == 0;
}

/*
 * Remove @path if its value still is @val (a transaction, so that a
 * listener advertising the port at the same moment is never removed).
 */
void xs_node_rm_if_unchanged(struct xsp_store *st, const char *path, const char *val)
{
	rm_if(st, path, value_is, val);
}

/* Is the advertisement @val the one of listener @id? */
static bool advert_has_id(const char *val, size_t len, const void *id)
{
	struct xs_neg_listen adv;

	return xs_neg_parse_listen(val, len, &adv) == 0 && strcmp(adv.id, id) == 0;
}

void xs_listen_rm_own(struct xsp_store *st, const char *path, const char *id)
{
	rm_if(st, path, advert_has_id, id);
}

/* ---- answers ---------------------------------------------------------------------- */

/* Remove the answer node @id of @dom (the negotiation is over). */
void xs_answer_rm(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom, const char *id)
{
	char path[160];

	snprintf(path, sizeof(path), XSOCK_CONN_PATH_FMT, self, dom, id);
	xsp_store_rm(st, XSP_TXN_NONE, path);
}

/*
 * Publish an answer unless another one exists already. An existing
 * acknowledgement ("state=wait id=<listener id>", written by a listener of
 * this domain: only we may write here) may be replaced: by any offer or
 * refusal (@ack_id NULL: the acceptor answering what a listener
 * acknowledged), or by an acknowledgement of the same listener (@ack_id).
 * When several processes of ours listen on the port (SO_REUSEPORT), each
 * sees every request and the first to answer or acknowledge wins; the
 * others get -EALREADY.
 */
int xs_answer_publish(struct xsp_store *st, const char *apath, const char *val,
		      const char *ack_id)
{
	int tries;

	for (tries = 0; tries < 16; tries++) {
		xsp_txn_t t;
		char *old;
		size_t len = 0;
		int rc = xsp_txn_start(st, &t);

		if (rc < 0)
			return rc;
		rc = xsp_store_read(st, t, apath, &old, &len);
		if (rc == 0) {
			struct xs_neg_answer prev;
			bool replace = xs_neg_parse_answer(old, len, &prev) == 0 &&
				       prev.state == XS_NEG_WAIT &&
				       (!ack_id || strcmp(prev.id, ack_id) == 0);

			free(old);
			if (!replace) {
				xsp_txn_end(st, t, true);
				return -EALREADY;
			}
		}
		rc = xsp_store_write(st, t, apath, val, strlen(val));
		if (rc < 0) {
			xsp_txn_end(st, t, true);
			return rc;
		}
		rc = xsp_txn_end(st, t, false);
		if (rc != -EAGAIN)
			return rc;
	}
	return -EAGAIN;
}

/*
 * Refuse: replacing any acknowledgement (@first false) or only where no
 * answer exists (@first true: an empty id matches no acknowledgement).
 * The directory first: a refusal written into a conn/<C> that does not
 * exist yet would create it readable by us alone, and C could never read
 * it.
 */
static int answer_refuse(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom,
			 const char *id, int err, bool first)
{
	char adir[128], apath[160], val[48];
	int rc;

	snprintf(adir, sizeof(adir), XSOCK_CONN_PEER_FMT, self, dom);
	rc = xs_dir_ensure(st, self, adir, dom);
	if (rc < 0)
		return rc;
	snprintf(apath, sizeof(apath), XSOCK_CONN_PATH_FMT, self, dom, id);
	snprintf(val, sizeof(val), XSOCK_ANSWER_REFUSED_FMT, err);
	return xs_answer_publish(st, apath, val, first ? "" : NULL);
}

int xs_answer_refuse(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom, const char *id,
		     int err)
{
	return answer_refuse(st, self, dom, id, err, false);
}

int xs_answer_refuse_first(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom,
			   const char *id, int err)
{
	return answer_refuse(st, self, dom, id, err, true);
}

/*
 * With its request gone, is the answer @val stale: a refusal, an offer
 * (the client removes its request once it attached or gave up: an offer
 * handed out before its client attached is removed this way, see
 * xs_acceptor_claim()), or (@arg not NULL) an acknowledgement by listener
 * @arg?
 */
static bool answer_is_stale(const char *val, size_t len, const void *arg)
{
	struct xs_neg_answer a;

	if (xs_neg_parse_answer(val, len, &a) < 0)
		return false;
	return a.state == XS_NEG_REFUSED || a.state == XS_NEG_OFFER ||
	       (arg && a.state == XS_NEG_WAIT && strcmp(a.id, arg) == 0);
}

void xs_answer_rm_stale(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom, const char *id,
			const char *listener_id)
{
	char apath[160], *val = NULL;
	size_t len = 0;

	snprintf(apath, sizeof(apath), XSOCK_CONN_PATH_FMT, self, dom, id);
	/* Mostly there is nothing (the acceptor removed its offer): look
	 * before starting a transaction. */
	if (xsp_store_read(st, XSP_TXN_NONE, apath, &val, &len) == 0 &&
	    answer_is_stale(val, len, listener_id))
		rm_if(st, apath, answer_is_stale, listener_id);
	free(val);
}

/* Remove the answer to (dom, id) if it is an acknowledgement (any listener's). */
void xs_answer_rm_wait(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom, const char *id)
{
	char apath[160], *val = NULL;
	struct xs_neg_answer a;
	size_t len = 0;

	snprintf(apath, sizeof(apath), XSOCK_CONN_PATH_FMT, self, dom, id);
	if (xsp_store_read(st, XSP_TXN_NONE, apath, &val, &len) == 0 &&
	    xs_neg_parse_answer(val, len, &a) == 0 && a.state == XS_NEG_WAIT)
		xs_node_rm_if_unchanged(st, apath, val);
	free(val);
}

/* Remove our own acknowledgement of (dom, id), if it is still there. */
void xs_answer_rm_ack(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom, const char *id,
		      const char *listener_id)
{
	char apath[160], val[48];

	snprintf(apath, sizeof(apath), XSOCK_CONN_PATH_FMT, self, dom, id);
	snprintf(val, sizeof(val), XSOCK_ANSWER_WAIT_FMT, listener_id);
	xs_node_rm_if_unchanged(st, apath, val);
}

/* ---- doorbell records ---------------------------------------------------------- */

void xs_bell_path(char *buf, size_t len, xsp_domid_t self, uint16_t port, uint16_t bell)
{
	snprintf(buf, len, XSOCK_BELL_PATH_FMT, self, port, bell);
}

/*
 * Take the doorbell record at @path away: 1 (and its value in *val if
 * @val is not NULL) if we removed it, 0 if it was not there. The store's
 * transaction makes the claim exclusive between the acceptor and the
 * listener's expiry.
 */
int xs_bell_take(struct xsp_store *st, const char *path, char **val)
{
	int tries;

	if (val)
		*val = NULL;
	for (tries = 0; tries < 16; tries++) {
		char *v = NULL;
		xsp_txn_t t;
		int rc = xsp_txn_start(st, &t);

		if (rc < 0)
			return rc;
		rc = xsp_store_read(st, t, path, &v, NULL);
		if (rc == 0)
			rc = xsp_store_rm(st, t, path);
		if (rc < 0) {
			free(v);
			xsp_txn_end(st, t, true);
			return rc == -ENOENT ? 0 : rc;
		}
		rc = xsp_txn_end(st, t, false);
		if (rc == 0) {
			if (val)
				*val = v;
			else
				free(v);
			return 1;
		}
		free(v);
		if (rc != -EAGAIN)
			return rc;
	}
	return -EAGAIN;
}

/* Remove B(self)/bell/<port> if no doorbell is left in it. */
void xs_bell_rm_dir(struct xsp_store *st, xsp_domid_t self, uint16_t port)
{
	char dir[96];
	char **names = NULL;
	unsigned int n = 0;

	snprintf(dir, sizeof(dir), XSOCK_BELL_DIR_FMT, self, port);
	if (xsp_store_list(st, XSP_TXN_NONE, dir, &names, &n) == 0 && n == 0)
		xsp_store_rm(st, XSP_TXN_NONE, dir);
	free(names);
}
