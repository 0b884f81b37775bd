/* SPDX-License-Identifier: MIT */
/*
 * xsp-selftest: exercise the platform layer (src/platform/platform.h)
 * against a real backend -- meant for real Xen under tests/xen/run.sh, but
 * it works on any backend XSOCK_BACKEND selects.
 *
 *   xsp-selftest local
 *       everything inside one domain: share with ourselves + map, event
 *       channel alloc/bind/notify/wait between two handles, store
 *       read/write/list/perms/transactions/watches, negative cases.
 *   xsp-selftest offer PEER TAG     (run together with, in domain PEER:)
 *   xsp-selftest accept PEER TAG
 *       across two domains: the offerer shares pages (one with an unmap
 *       notification) and allocates an event channel for PEER, publishes
 *       the numbers under /local/domain/<self>/data/xsp-TAG (readable by
 *       PEER only); the accepter maps, binds, writes back, notifies; then
 *       both directions of unmap notification are checked.
 *   xsp-selftest intrude GRANTER REF,PORT
 *       a third domain: REF and PORT were given by GRANTER to some other
 *       domain (numbers the harness read as dom0); mapping REF and binding
 *       PORT must both fail.
 *
 * Prints one "PASS name" or "FAIL name: detail" line per check and a
 * final "SELFTEST <role>: PASS (n checks)" or "SELFTEST <role>: FAIL (k of
 * n)". Exit status 0 when everything passed, 1 otherwise, 2 on usage.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform/platform.h"

#define WAIT_MS 60000		/* TCG is slow: be generous */

static int n_checks, n_failed;
static const char *role = "?";

static void check(int ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	n_checks++;
	if (ok) {
		printf("PASS %s\n", name);
	} else {
		n_failed++;
		printf("FAIL %s: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

/* Evaluates @expr exactly once. */
static void check_rc(int rc, int want, const char *name)
{
	check(rc == want, name, "got %d (%s), want %d", rc, rc < 0 ? strerror(-rc) : "ok", want);
}

#define CHECK_RC(expr, want, name) check_rc((expr), (want), (name))

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static uint8_t pattern(unsigned int page, unsigned int i, unsigned int seed)
{
	return (uint8_t)((i * 7u + page * 13u + seed) & 0xffu);
}

static void fill(uint8_t *base, unsigned int npages, unsigned int seed)
{
	unsigned int pg, i;

	for (pg = 0; pg < npages; pg++)
		for (i = 16; i < XSP_PAGE_SIZE; i++)
			base[pg * XSP_PAGE_SIZE + i] = pattern(pg, i, seed);
}

/* Index of the first byte that differs, or -1. */
static long verify(const uint8_t *base, unsigned int npages, unsigned int seed)
{
	unsigned int pg, i;

	for (pg = 0; pg < npages; pg++)
		for (i = 16; i < XSP_PAGE_SIZE; i++)
			if (base[pg * XSP_PAGE_SIZE + i] != pattern(pg, i, seed))
				return (long)pg * XSP_PAGE_SIZE + i;
	return -1;
}

static int writes(struct xsp_store *st, xsp_txn_t t, const char *path, const char *val)
{
	return xsp_store_write(st, t, path, val, strlen(val));
}

static int write_u(struct xsp_store *st, xsp_txn_t t, const char *path, unsigned long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", v);
	return writes(st, t, path, buf);
}

static int read_u(struct xsp_store *st, xsp_txn_t t, const char *path, unsigned long *v)
{
	char *val, *end;
	int rc = xsp_store_read(st, t, path, &val, NULL);

	if (rc < 0)
		return rc;
	*v = strtoul(val, &end, 10);
	rc = (end == val || *end) ? -EINVAL : 0;
	free(val);
	return rc;
}

/* Drain watch events; returns how many were taken. */
static int drain_watch(struct xsp_store *st)
{
	char *path, *token;
	int n = 0;

	while (xsp_watch_read(st, &path, &token) == 0) {
		free(path);
		n++;
	}
	return n;
}

/*
 * Wait until @path reads @want, using a watch on it (plus a periodic
 * re-read, since a watch on another domain's node only fires once we may
 * read it). Returns 0, -ETIMEDOUT, or a store error. *events counts the
 * watch events seen.
 */
static int wait_value(struct xsp_store *st, const char *path, const char *want, int timeout_ms,
		      int *events)
{
	long deadline = now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = xsp_watch_fd(st), .events = POLLIN };
	int rc, n = 0;
	char *val;

	rc = xsp_watch_add(st, path, "wait");
	if (rc < 0)
		return rc;
	for (;;) {
		rc = xsp_store_read(st, XSP_TXN_NONE, path, &val, NULL);
		if (rc == 0) {
			int eq = strcmp(val, want) == 0;

			free(val);
			if (eq)
				break;
		} else if (rc != -ENOENT && rc != -EACCES) {
			break;
		}
		if (now_ms() > deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, 1, 250) > 0)
			n += drain_watch(st);
	}
	xsp_watch_rm(st, path, "wait");
	n += drain_watch(st);
	if (events)
		*events += n;
	return rc;
}

/* Take one watch event within @timeout_ms. */
static int next_event(struct xsp_store *st, int timeout_ms, char **path, char **token)
{
	struct pollfd pfd = { .fd = xsp_watch_fd(st), .events = POLLIN };
	long deadline = now_ms() + timeout_ms;
	int rc;

	for (;;) {
		rc = xsp_watch_read(st, path, token);
		if (rc != -EAGAIN)
			return rc;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		poll(&pfd, 1, 100);
	}
}

/* ---- store ------------------------------------------------------------------ */

static void store_suite(struct xsp *p, const char *base, xsp_domid_t peer)
{
	struct xsp_store *st = NULL, *st2 = NULL;
	char pa[256], pb[256], pt[256], pw[256];
	char *val = NULL, *path, *token;
	char **names;
	struct xsp_perm perms[2], *got;
	unsigned int n, i;
	size_t len;
	xsp_txn_t t;
	int rc, found;

	rc = xsp_store_open(p, &st);
	CHECK_RC(rc, 0, "store.open");
	if (rc < 0)
		return;
	rc = xsp_store_open(p, &st2);
	CHECK_RC(rc, 0, "store.open2");
	if (rc < 0)
		goto close_st;
	snprintf(pa, sizeof(pa), "%s/a", base);
	snprintf(pb, sizeof(pb), "%s/b/c", base);
	snprintf(pt, sizeof(pt), "%s/t", base);
	snprintf(pw, sizeof(pw), "%s/w", base);
	xsp_store_rm(st, XSP_TXN_NONE, base);

	CHECK_RC(writes(st, XSP_TXN_NONE, pa, "hello"), 0, "store.write");
	rc = xsp_store_read(st, XSP_TXN_NONE, pa, &val, &len);
	check(rc == 0 && len == 5 && strcmp(val, "hello") == 0, "store.read",
	      "rc %d len %zu val '%s'", rc, len, val ? val : "");
	free(val);
	val = NULL;
	rc = xsp_store_read(st, XSP_TXN_NONE, pt, &val, NULL);
	CHECK_RC(rc, -ENOENT, "store.read-missing");
	free(val);
	CHECK_RC(writes(st, XSP_TXN_NONE, pb, "x"), 0, "store.write-creates-parents");
	rc = xsp_store_list(st, XSP_TXN_NONE, base, &names, &n);
	found = 0;
	for (i = 0; rc == 0 && i < n; i++)
		found += strcmp(names[i], "a") == 0 || strcmp(names[i], "b") == 0;
	check(rc == 0 && n == 2 && found == 2, "store.list", "rc %d n %u found %d", rc, n, found);
	if (rc == 0)
		free(names);
	CHECK_RC(xsp_store_write(st, XSP_TXN_NONE, "/bad//path", "x", 1), -EINVAL,
		 "store.bad-path");

	/* Permissions. */
	perms[0].dom = xsp_self_domid(p);
	perms[0].perm = XSP_PERM_NONE;
	perms[1].dom = peer;
	perms[1].perm = XSP_PERM_READ;
	CHECK_RC(xsp_store_set_perms(st, XSP_TXN_NONE, pa, perms, 2), 0, "store.set-perms");
	rc = xsp_store_get_perms(st, XSP_TXN_NONE, pa, &got, &n);
	check(rc == 0 && n == 2 && got[0].dom == perms[0].dom && got[0].perm == XSP_PERM_NONE &&
	      got[1].dom == peer && got[1].perm == XSP_PERM_READ, "store.get-perms",
	      "rc %d n %u [%u:%u %u:%u]", rc, n, n > 0 ? got[0].dom : 0,
	      n > 0 ? got[0].perm : 0, n > 1 ? got[1].dom : 0, n > 1 ? got[1].perm : 0);
	if (rc == 0)
		free(got);

	/* Transactions: isolation + commit. */
	rc = xsp_txn_start(st, &t);
	CHECK_RC(rc, 0, "txn.start");
	if (rc == 0) {
		CHECK_RC(writes(st, t, pt, "1"), 0, "txn.write");
		rc = xsp_store_read(st2, XSP_TXN_NONE, pt, &val, NULL);
		CHECK_RC(rc, -ENOENT, "txn.isolated");
		if (rc == 0)
			free(val);
		CHECK_RC(xsp_txn_end(st, t, false), 0, "txn.commit");
		rc = xsp_store_read(st2, XSP_TXN_NONE, pt, &val, NULL);
		check(rc == 0 && strcmp(val, "1") == 0, "txn.committed", "rc %d", rc);
		if (rc == 0)
			free(val);
	}
	/* Conflict: -EAGAIN, nothing applied. */
	rc = xsp_txn_start(st, &t);
	if (rc == 0) {
		rc = xsp_store_read(st, t, pa, &val, NULL);
		if (rc == 0)
			free(val);
		writes(st2, XSP_TXN_NONE, pa, "changed");
		writes(st, t, pa, "intxn");
		writes(st, t, pt, "2");
		CHECK_RC(xsp_txn_end(st, t, false), -EAGAIN, "txn.conflict-eagain");
		rc = xsp_store_read(st, XSP_TXN_NONE, pa, &val, NULL);
		check(rc == 0 && strcmp(val, "changed") == 0, "txn.conflict-not-applied",
		      "rc %d val '%s'", rc, rc == 0 ? val : "");
		if (rc == 0)
			free(val);
	}
	/* Abort. */
	rc = xsp_txn_start(st, &t);
	if (rc == 0) {
		writes(st, t, pt, "3");
		CHECK_RC(xsp_txn_end(st, t, true), 0, "txn.abort");
		rc = xsp_store_read(st, XSP_TXN_NONE, pt, &val, NULL);
		check(rc == 0 && strcmp(val, "1") == 0, "txn.aborted-not-applied", "rc %d", rc);
		if (rc == 0)
			free(val);
	}

	/* Watches. */
	CHECK_RC(xsp_watch_read(st2, &path, &token), -EAGAIN, "watch.read-empty");
	CHECK_RC(xsp_watch_add(st2, pw, "tokw"), 0, "watch.add");
	rc = next_event(st2, 10000, &path, &token);
	check(rc == 0 && strcmp(path, pw) == 0 && strcmp(token, "tokw") == 0,
	      "watch.initial-event", "rc %d path '%s' token '%s'", rc, rc == 0 ? path : "",
	      rc == 0 ? token : "");
	if (rc == 0)
		free(path);
	writes(st, XSP_TXN_NONE, pw, "1");
	rc = next_event(st2, 10000, &path, &token);
	check(rc == 0 && strcmp(path, pw) == 0 && strcmp(token, "tokw") == 0, "watch.change-event",
	      "rc %d path '%s'", rc, rc == 0 ? path : "");
	if (rc == 0)
		free(path);
	CHECK_RC(xsp_watch_rm(st2, pw, "tokw"), 0, "watch.rm");
	CHECK_RC(xsp_watch_rm(st2, pw, "tokw"), -ENOENT, "watch.rm-again");
	writes(st, XSP_TXN_NONE, pw, "2");
	usleep(500000);
	rc = xsp_watch_read(st2, &path, &token);
	CHECK_RC(rc, -EAGAIN, "watch.none-after-rm");
	if (rc == 0)
		free(path);

	CHECK_RC(xsp_store_rm(st, XSP_TXN_NONE, base), 0, "store.rm");
	rc = xsp_store_read(st, XSP_TXN_NONE, pa, &val, NULL);
	CHECK_RC(rc, -ENOENT, "store.rm-removed-children");
	if (rc == 0)
		free(val);
	CHECK_RC(xsp_store_rm(st, XSP_TXN_NONE, base), -ENOENT, "store.rm-again");

	xsp_store_close(st2);
close_st:
	xsp_store_close(st);
}

/* ---- one domain ------------------------------------------------------------ */

static void local_suite(struct xsp *p)
{
	xsp_domid_t self = xsp_self_domid(p);
	struct xsp_evtchn *ea = NULL, *eb = NULL, *ex = NULL;
	struct xsp_share *s = NULL, *s1 = NULL;
	struct xsp_map *m = NULL, *m1 = NULL;
	struct xsp_unmap_notify nt;
	xsp_gref_t bogus = 0xfffff;
	uint8_t *pg;
	char base[128];
	int rc;

	printf("INFO backend %s self domid %u\n", xsp_backend_name(p), (unsigned int)self);

	/* Grants to ourselves. */
	rc = xsp_share(p, self, 4, NULL, &s);
	CHECK_RC(rc, 0, "grant.share-4");
	if (rc == 0) {
		pg = xsp_share_addr(s);
		check(verify(pg, 1, 0) >= 0 && pg[100] == 0 && pg[3 * 4096 + 4095] == 0,
		      "grant.share-zeroed", "not zeroed");
		fill(pg, 4, 5);
		rc = xsp_map(p, self, 4, xsp_share_refs(s), NULL, &m);
		CHECK_RC(rc, 0, "grant.map-4-self");
		if (rc == 0) {
			long bad = verify(xsp_map_addr(m), 4, 5);

			check(bad < 0, "grant.map-sees-data", "first difference at %ld", bad);
			((uint8_t *)xsp_map_addr(m))[3 * 4096 + 9] = 0x5a;
			check(pg[3 * 4096 + 9] == 0x5a, "grant.write-through-map", "no");
			xsp_unmap(m);
		}
		xsp_unshare(s);
	}
	rc = xsp_map(p, self, 1, &bogus, NULL, &m);
	check(rc == -ENOENT || rc == -EPERM, "grant.map-bogus-ref", "rc %d", rc);
	xsp_unmap(m);

	/* Event channels between two handles of this domain. */
	rc = xsp_evtchn_alloc(p, self, &ea);
	CHECK_RC(rc, 0, "evtchn.alloc");
	if (rc < 0)
		goto store;
	rc = xsp_evtchn_bind(p, self, xsp_evtchn_port(ea), &eb);
	CHECK_RC(rc, 0, "evtchn.bind");
	if (rc < 0)
		goto close_ea;
	check(xsp_evtchn_fd(ea) >= 0 && xsp_evtchn_fd(eb) >= 0 &&
	      xsp_evtchn_fd(ea) != xsp_evtchn_fd(eb), "evtchn.own-fds", "fds %d %d",
	      xsp_evtchn_fd(ea), xsp_evtchn_fd(eb));
	/* Xen marks a freshly bound port pending (so that notifies sent
	 * before the bind are not lost), and the upcall that reports it may
	 * come a little later: give it time, then drain it. */
	rc = xsp_evtchn_wait(eb, 2000);
	check(rc == 0 || rc == 1, "evtchn.drain-after-bind", "rc %d", rc);
	CHECK_RC(xsp_evtchn_ack(eb), 0, "evtchn.ack-none");
	CHECK_RC(xsp_evtchn_ack(ea), 0, "evtchn.ack-none-allocator");
	CHECK_RC(xsp_evtchn_wait(eb, 200), 0, "evtchn.wait-timeout");
	CHECK_RC(xsp_evtchn_notify(ea), 0, "evtchn.notify");
	CHECK_RC(xsp_evtchn_wait(eb, 10000), 1, "evtchn.wait-event");
	CHECK_RC(xsp_evtchn_ack(eb), 0, "evtchn.acked");
	CHECK_RC(xsp_evtchn_notify(eb), 0, "evtchn.notify-back");
	CHECK_RC(xsp_evtchn_wait(ea, 10000), 1, "evtchn.wait-back");
	CHECK_RC(xsp_evtchn_ack(ea), 0, "evtchn.back-only-once");
	xsp_evtchn_notify(ea);
	xsp_evtchn_notify(ea);
	usleep(100000);
	CHECK_RC(xsp_evtchn_ack(eb), 1, "evtchn.coalesced-ack");
	CHECK_RC(xsp_evtchn_ack(ea), 0, "evtchn.no-crosstalk");

	/* Binding a port allocated for another domain. */
	rc = xsp_evtchn_alloc(p, (xsp_domid_t)(self + 77), &ex);
	if (rc == 0) {
		struct xsp_evtchn *ey = NULL;

		rc = xsp_evtchn_bind(p, self, xsp_evtchn_port(ex), &ey);
		check(rc == -ENOENT || rc == -EPERM, "evtchn.bind-not-ours", "rc %d", rc);
		xsp_evtchn_close(ey);
		xsp_evtchn_close(ex);
	} else {
		check(0, "evtchn.alloc-other", "rc %d", rc);
	}

	/* Unmap notification: the mapper registers (byte 1, event on eb);
	 * its unmap clears the byte and signals ea. */
	nt.offset = 0;
	nt.ev = ea;
	rc = xsp_share(p, self, 1, &nt, &s1);
	CHECK_RC(rc, 0, "notify.share");
	if (rc == 0) {
		pg = xsp_share_addr(s1);
		pg[0] = 1;
		pg[1] = 1;
		nt.offset = 1;
		nt.ev = eb;
		rc = xsp_map(p, self, 1, xsp_share_refs(s1), &nt, &m1);
		CHECK_RC(rc, 0, "notify.map");
		if (rc == 0) {
			xsp_evtchn_ack(ea);
			xsp_unmap(m1);
			rc = xsp_evtchn_wait(ea, 10000);
			check(rc == 1 && pg[1] == 0, "notify.unmap-clears-byte-and-signals",
			      "wait %d byte %u", rc, pg[1]);
		}
		xsp_unshare(s1);
	}
	xsp_evtchn_close(eb);
close_ea:
	xsp_evtchn_close(ea);
store:
	snprintf(base, sizeof(base), "/local/domain/%u/data/xsp-local", (unsigned int)self);
	store_suite(p, base, (xsp_domid_t)(self + 1));
}

/* ---- two domains ----------------------------------------------------------- */

struct names {
	char own[128], peer[128];
	char own_state[160], peer_state[160];
};

static void names_init(struct names *nm, xsp_domid_t self, xsp_domid_t peer, const char *tag)
{
	snprintf(nm->own, sizeof(nm->own), "/local/domain/%u/data/xsp-%s", (unsigned int)self,
		 tag);
	snprintf(nm->peer, sizeof(nm->peer), "/local/domain/%u/data/xsp-%s", (unsigned int)peer,
		 tag);
	snprintf(nm->own_state, sizeof(nm->own_state), "%s/state", nm->own);
	snprintf(nm->peer_state, sizeof(nm->peer_state), "%s/state", nm->peer);
}

/* Own directory, readable by @peer only; a "secret" child it may not read. */
static int own_dir(struct xsp *p, struct xsp_store *st, const struct names *nm,
		   xsp_domid_t peer)
{
	struct xsp_perm perms[2] = {
		{ .dom = xsp_self_domid(p), .perm = XSP_PERM_NONE },
		{ .dom = peer, .perm = XSP_PERM_READ },
	};
	char path[200];
	int rc;

	xsp_store_rm(st, XSP_TXN_NONE, nm->own);
	rc = writes(st, XSP_TXN_NONE, nm->own, "");
	if (rc == 0)
		rc = xsp_store_set_perms(st, XSP_TXN_NONE, nm->own, perms, 2);
	snprintf(path, sizeof(path), "%s/secret", nm->own);
	if (rc == 0)
		rc = writes(st, XSP_TXN_NONE, path, "s3cret");
	if (rc == 0)
		rc = xsp_store_set_perms(st, XSP_TXN_NONE, path, perms, 1);
	if (rc == 0)
		rc = writes(st, XSP_TXN_NONE, nm->own_state, "init");
	return rc;
}

static void set_state(struct xsp_store *st, const struct names *nm, const char *s)
{
	int rc = writes(st, XSP_TXN_NONE, nm->own_state, s);

	if (rc < 0)
		printf("INFO cannot write state %s: %d\n", s, rc);
}

static int offer(struct xsp *p, xsp_domid_t peer, const char *tag)
{
	struct xsp_store *st = NULL;
	struct xsp_evtchn *ea = NULL;
	struct xsp_share *s1 = NULL, *s2 = NULL, *s4 = NULL;
	struct xsp_unmap_notify nt;
	struct names nm;
	char path[200], refs4[64];
	uint8_t *p1 = NULL, *p4;
	xsp_txn_t t;
	int rc, events = 0, tries;

	names_init(&nm, xsp_self_domid(p), peer, tag);
	rc = xsp_store_open(p, &st);
	CHECK_RC(rc, 0, "x.store-open");
	if (rc < 0)
		return rc;
	rc = own_dir(p, st, &nm, peer);
	CHECK_RC(rc, 0, "x.own-dir-perms");

	rc = xsp_evtchn_alloc(p, peer, &ea);
	CHECK_RC(rc, 0, "x.evtchn-alloc");
	if (rc < 0)
		goto out;
	nt.offset = 0;
	nt.ev = ea;
	rc = xsp_share(p, peer, 1, &nt, &s1);
	CHECK_RC(rc, 0, "x.share-notify");
	if (rc == 0) {
		p1 = xsp_share_addr(s1);
		fill(p1, 1, 1);
		p1[0] = 1;
	}
	rc = xsp_share(p, peer, 1, &nt, &s2);
	CHECK_RC(rc, 0, "x.share-notify-2");
	if (rc == 0)
		((uint8_t *)xsp_share_addr(s2))[0] = 1;
	rc = xsp_share(p, peer, 4, NULL, &s4);
	CHECK_RC(rc, 0, "x.share-4");
	if (!s1 || !s2 || !s4)
		goto out;
	p4 = xsp_share_addr(s4);
	fill(p4, 4, 4);
	snprintf(refs4, sizeof(refs4), "%u,%u,%u,%u", xsp_share_refs(s4)[0],
		 xsp_share_refs(s4)[1], xsp_share_refs(s4)[2], xsp_share_refs(s4)[3]);

	/* Publish atomically; retry on conflict. */
	for (tries = 0; tries < 10; tries++) {
		rc = xsp_txn_start(st, &t);
		if (rc < 0)
			break;
		snprintf(path, sizeof(path), "%s/ref1", nm.own);
		write_u(st, t, path, xsp_share_refs(s1)[0]);
		snprintf(path, sizeof(path), "%s/ref2", nm.own);
		write_u(st, t, path, xsp_share_refs(s2)[0]);
		snprintf(path, sizeof(path), "%s/refs4", nm.own);
		writes(st, t, path, refs4);
		snprintf(path, sizeof(path), "%s/port", nm.own);
		write_u(st, t, path, xsp_evtchn_port(ea));
		writes(st, t, nm.own_state, "ready");
		rc = xsp_txn_end(st, t, false);
		if (rc != -EAGAIN)
			break;
	}
	CHECK_RC(rc, 0, "x.publish-txn");

	rc = wait_value(st, nm.peer_state, "mapped", WAIT_MS, &events);
	CHECK_RC(rc, 0, "x.peer-mapped");
	if (rc < 0)
		goto out;
	check(memcmp(p1 + 8, "B-wrote!", 8) == 0, "x.peer-wrote-page", "bytes %.8s", p1 + 8);
	check(p4[3 * 4096 + 100] == 0xB4, "x.peer-wrote-page-4", "byte %#x", p4[3 * 4096 + 100]);
	check(p1[1] == 1, "x.peer-set-its-notify-byte", "byte %u", p1[1]);
	rc = xsp_evtchn_wait(ea, WAIT_MS);
	CHECK_RC(rc, 1, "x.event-from-peer");
	CHECK_RC(xsp_evtchn_notify(ea), 0, "x.notify-peer");
	set_state(st, &nm, "notified");

	rc = wait_value(st, nm.peer_state, "unmapped", WAIT_MS, &events);
	CHECK_RC(rc, 0, "x.peer-unmapped");
	if (rc == 0) {
		int w = xsp_evtchn_wait(ea, WAIT_MS);

		check(p1[1] == 0 && w == 1, "x.peer-unmap-clears-byte-and-signals",
		      "byte %u wait %d", p1[1], w);
	}
	/* Our side of the notification: unsharing page 2 clears its byte 0
	 * (the peer still maps it) and signals the peer. */
	xsp_unshare(s2);
	s2 = NULL;
	set_state(st, &nm, "unshared");
	rc = wait_value(st, nm.peer_state, "done", WAIT_MS, &events);
	CHECK_RC(rc, 0, "x.peer-done");
	printf("INFO watch events seen while waiting: %d\n", events);
out:
	xsp_unshare(s1);
	xsp_unshare(s2);
	xsp_unshare(s4);
	xsp_evtchn_close(ea);
	xsp_store_rm(st, XSP_TXN_NONE, nm.own);
	xsp_store_close(st);
	return 0;
}

static int accept_(struct xsp *p, xsp_domid_t peer, const char *tag)
{
	struct xsp_store *st = NULL;
	struct xsp_evtchn *eb = NULL;
	struct xsp_map *m1 = NULL, *m2 = NULL, *m4 = NULL;
	struct xsp_unmap_notify nt;
	struct names nm;
	char path[200], *val = NULL;
	unsigned long ref1 = 0, ref2 = 0, port = 0;
	xsp_gref_t r4[4];
	uint8_t *q1 = NULL, *q2 = NULL, *q4;
	xsp_txn_t t;
	long bad;
	int rc, events = 0;

	names_init(&nm, xsp_self_domid(p), peer, tag);
	rc = xsp_store_open(p, &st);
	CHECK_RC(rc, 0, "x.store-open");
	if (rc < 0)
		return rc;
	rc = own_dir(p, st, &nm, peer);
	CHECK_RC(rc, 0, "x.own-dir-perms");
	rc = wait_value(st, nm.peer_state, "ready", WAIT_MS, &events);
	CHECK_RC(rc, 0, "x.peer-ready");
	if (rc < 0)
		goto out;

	rc = xsp_txn_start(st, &t);
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/ref1", nm.peer);
		rc = read_u(st, t, path, &ref1);
		snprintf(path, sizeof(path), "%s/ref2", nm.peer);
		rc = rc ? rc : read_u(st, t, path, &ref2);
		snprintf(path, sizeof(path), "%s/port", nm.peer);
		rc = rc ? rc : read_u(st, t, path, &port);
		snprintf(path, sizeof(path), "%s/refs4", nm.peer);
		if (rc == 0)
			rc = xsp_store_read(st, t, path, &val, NULL);
		if (rc == 0 && sscanf(val, "%u,%u,%u,%u", &r4[0], &r4[1], &r4[2], &r4[3]) != 4)
			rc = -EINVAL;
		free(val);
		val = NULL;
		xsp_txn_end(st, t, true);
	}
	CHECK_RC(rc, 0, "x.read-peer-numbers");
	if (rc < 0)
		goto out;

	/* The peer's store: its secret is not ours to read, nor its dir to write. */
	if (xsp_self_domid(p) != 0) {	/* dom0 may do anything */
		snprintf(path, sizeof(path), "%s/secret", nm.peer);
		rc = xsp_store_read(st, XSP_TXN_NONE, path, &val, NULL);
		CHECK_RC(rc, -EACCES, "x.peer-secret-eacces");
		free(val);
		val = NULL;
		snprintf(path, sizeof(path), "%s/intrude", nm.peer);
		CHECK_RC(writes(st, XSP_TXN_NONE, path, "x"), -EACCES,
			 "x.peer-dir-write-eacces");
	}

	rc = xsp_evtchn_bind(p, peer, (xsp_port_t)port, &eb);
	CHECK_RC(rc, 0, "x.evtchn-bind");
	if (rc < 0)
		goto out;
	nt.offset = 1;
	nt.ev = eb;
	xsp_gref_t g = (xsp_gref_t)ref1;
	rc = xsp_map(p, peer, 1, &g, &nt, &m1);
	CHECK_RC(rc, 0, "x.map-notify");
	if (rc == 0) {
		q1 = xsp_map_addr(m1);
		bad = verify(q1, 1, 1);
		check(bad < 0 && q1[0] == 1, "x.map-sees-data", "diff at %ld, byte0 %u", bad,
		      q1[0]);
		q1[1] = 1;
		memcpy(q1 + 8, "B-wrote!", 8);
	}
	g = (xsp_gref_t)ref2;
	rc = xsp_map(p, peer, 1, &g, NULL, &m2);
	CHECK_RC(rc, 0, "x.map-2");
	if (rc == 0)
		q2 = xsp_map_addr(m2);
	rc = xsp_map(p, peer, 4, r4, NULL, &m4);
	CHECK_RC(rc, 0, "x.map-4");
	if (rc == 0) {
		q4 = xsp_map_addr(m4);
		bad = verify(q4, 4, 4);
		check(bad < 0, "x.map-4-sees-data", "diff at %ld", bad);
		q4[3 * 4096 + 100] = 0xB4;
	}
	g = 0xfffff;
	{
		struct xsp_map *mx = NULL;

		rc = xsp_map(p, peer, 1, &g, NULL, &mx);
		check(rc == -ENOENT || rc == -EPERM, "x.map-bogus-ref", "rc %d", rc);
		xsp_unmap(mx);
	}
	if (!m1 || !m2 || !m4)
		goto out;
	set_state(st, &nm, "mapped");
	CHECK_RC(xsp_evtchn_notify(eb), 0, "x.notify-peer");
	rc = wait_value(st, nm.peer_state, "notified", WAIT_MS, &events);
	CHECK_RC(rc, 0, "x.peer-notified");
	CHECK_RC(xsp_evtchn_wait(eb, WAIT_MS), 1, "x.event-from-peer");

	xsp_unmap(m1);
	m1 = NULL;
	set_state(st, &nm, "unmapped");
	rc = wait_value(st, nm.peer_state, "unshared", WAIT_MS, &events);
	CHECK_RC(rc, 0, "x.peer-unshared");
	if (rc == 0) {
		int w = xsp_evtchn_wait(eb, WAIT_MS);

		check(q2[0] == 0 && w == 1, "x.peer-unshare-clears-byte-and-signals",
		      "byte %u wait %d", q2[0], w);
	}
	printf("INFO watch events seen while waiting: %d\n", events);
out:
	xsp_unmap(m1);
	xsp_unmap(m2);
	xsp_unmap(m4);
	xsp_evtchn_close(eb);
	set_state(st, &nm, "done");
	/* Leave our dir for the peer to see "done"; the harness wipes it. */
	xsp_store_close(st);
	return 0;
}

/* A domain the grant and the channel were not meant for. */
static void intrude(struct xsp *p, xsp_domid_t granter, const char *nums)
{
	struct xsp_map *m = NULL;
	struct xsp_evtchn *e = NULL;
	unsigned int ref, port;
	xsp_gref_t g;
	int rc;

	if (sscanf(nums, "%u,%u", &ref, &port) != 2) {
		check(0, "intrude.args", "want REF,PORT, got %s", nums);
		return;
	}
	g = (xsp_gref_t)ref;
	rc = xsp_map(p, granter, 1, &g, NULL, &m);
	check(rc < 0, "intrude.map-refused", "rc %d (%s)", rc, rc < 0 ? strerror(-rc) : "mapped!");
	printf("INFO map of dom%u's ref %u: %d (%s)\n", (unsigned int)granter, ref, rc,
	       rc < 0 ? strerror(-rc) : "ok");
	xsp_unmap(m);
	rc = xsp_evtchn_bind(p, granter, (xsp_port_t)port, &e);
	check(rc < 0, "intrude.bind-refused", "rc %d (%s)", rc, rc < 0 ? strerror(-rc) : "bound!");
	printf("INFO bind of dom%u's port %u: %d (%s)\n", (unsigned int)granter, port, rc,
	       rc < 0 ? strerror(-rc) : "ok");
	xsp_evtchn_close(e);
}

int main(int argc, char **argv)
{
	struct xsp *p;
	unsigned long peer = 0;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || (strcmp(argv[1], "local") != 0 && argc != 4)) {
		fprintf(stderr, "usage: %s local | offer PEER TAG | accept PEER TAG |"
			" intrude GRANTER REF,PORT\n", argv[0]);
		return 2;
	}
	role = argv[1];
	if (argc == 4) {
		char *end;

		peer = strtoul(argv[2], &end, 10);
		if (*end || peer >= XSP_DOMID_SELF) {
			fprintf(stderr, "bad PEER\n");
			return 2;
		}
	}
	rc = xsp_open(&p);
	check(rc == 0, "open", "xsp_open: %s", strerror(-rc));
	if (rc < 0)
		goto done;
	if (strcmp(role, "local") == 0)
		local_suite(p);
	else if (strcmp(role, "offer") == 0)
		offer(p, (xsp_domid_t)peer, argv[3]);
	else if (strcmp(role, "accept") == 0)
		accept_(p, (xsp_domid_t)peer, argv[3]);
	else if (strcmp(role, "intrude") == 0)
		intrude(p, (xsp_domid_t)peer, argv[3]);
	else
		check(0, "role", "unknown role %s", role);
	xsp_close(p);
done:
	if (n_failed)
		printf("SELFTEST %s: FAIL (%d of %d)\n", role, n_failed, n_checks);
	else
		printf("SELFTEST %s: PASS (%d checks)\n", role, n_checks);
	return n_failed ? 1 : 0;
}
