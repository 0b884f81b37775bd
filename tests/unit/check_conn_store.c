/* SPDX-License-Identifier: MIT */
/*
 * src/conn on the local backend's store, domains 1 (client) and 2
 * (server) in one process or in forked children:
 *  - liveness: a listener that never reacts is given up on after
 *    XSOCK_LISTENER_ACK_MS (-ENOENT, request withdrawn), one that
 *    acknowledges keeps the client waiting up to XSOCK_CONNECT_TIMEOUT_MS,
 *    dead listeners' advertisements are swept, and clients that die are
 *    told by their life page;
 *  - answers' lifetime: a refusal is readable by its client (also the
 *    first one to that domain), requests whose name is not an id get no
 *    node at all, answers go when their request goes or after
 *    XSOCK_REFUSED_KEEP_MS, and the sweep removes what closed listeners
 *    left; at most XSOCK_MAX_INFLIGHT_PER_PEER requests of a domain in
 *    flight;
 *  - addresses and advertisements: a listener bound to one address serves
 *    that one only, and says so; one advertisement per registered domain,
 *    whatever their number, withdrawn from a domain taken out of the
 *    registry;
 *  - how long parked rings live (xs_conn_park_deadline()).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "common/clock.h"
#include "conn/conn.h"
#include "conn/negotiate.h"
#include "conn/registry.h"
#include "connutil.h"
#include "testutil.h"

/* ---- liveness ------------------------------------------------------------------------------- */

START_TEST(test_unacknowledged_listener)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s, *c;
	struct xs_listener *l;
	struct xs_conn *conn = NULL;
	int64_t t0, dt;

	setenv("XSOCK_LISTENER_ACK_MS", "300", 1);
	setenv("XSOCK_CONNECT_TIMEOUT_MS", "5000", 1);
	s = ctx_as("2");
	l = listen_in_2(s);	/* advertised, never processed: stopped or dead */
	c = ctx_as("1");
	t0 = now_ms();
	ck_assert_int_eq(connect_1_to_2(c, &conn), -ENOENT);
	dt = now_ms() - t0;
	ck_assert_ptr_null(conn);
	ck_assert_msg(dt >= 300 && dt < 1500, "gave up after %lld ms", (long long)dt);
	/* The request was withdrawn; nothing answered. */
	ck_assert_int_eq(count_subnodes(dir, BASE(1) "/req/2"), 0);
	ck_assert_int_le(count_subnodes(dir, BASE(2) "/conn/1"), 0);
	xs_listener_close(l);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/listen"), 0);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/* A helper domain 2 that acknowledges every request of domain 1, never
 * offers. Runs until killed. */
static void acknowledger(void)
{
	struct xs_ctx *s = ctx_as("2");
	struct xsp_perm perms[2] = { { 2, XSP_PERM_NONE }, { 1, XSP_PERM_READ } };
	struct xsp_store *st;

	if (xsp_store_open(s->plat, &st) < 0)
		_exit(2);
	xsp_store_write(st, XSP_TXN_NONE, BASE(2) "/conn/1", "", 0);
	xsp_store_set_perms(st, XSP_TXN_NONE, BASE(2) "/conn/1", perms, 2);
	for (;;) {
		char **names = NULL, path[256];
		unsigned int n = 0, i;

		if (xsp_store_list(st, XSP_TXN_NONE, BASE(1) "/req/2", &names, &n) == 0) {
			for (i = 0; i < n; i++) {
				snprintf(path, sizeof(path), BASE(2) "/conn/1/%s", names[i]);
				xsp_store_write(st, XSP_TXN_NONE, path, "state=wait id=0a", 16);
			}
			free(names);
		}
		usleep(10000);
	}
}

START_TEST(test_acknowledged_listener)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s, *c;
	struct xs_listener *l;
	struct xs_conn *conn = NULL;
	int64_t t0, dt;
	pid_t pid;

	/* 600 ms: the acknowledger, a forked child, may start late on a
	 * loaded machine; still well inside the connect timeout. */
	setenv("XSOCK_LISTENER_ACK_MS", "600", 1);
	setenv("XSOCK_CONNECT_TIMEOUT_MS", "1200", 1);
	s = ctx_as("2");
	l = listen_in_2(s);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		acknowledger();
	c = ctx_as("1");
	t0 = now_ms();
	ck_assert_int_eq(connect_1_to_2(c, &conn), -ETIMEDOUT);
	dt = now_ms() - t0;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_msg(dt >= 1200 && dt < 3000, "gave up after %lld ms", (long long)dt);
	ck_assert_int_eq(count_subnodes(dir, BASE(1) "/req/2"), 0);
	xs_listener_close(l);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/* A live listener (served in a child process) connects at once. */
START_TEST(test_live_listener)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s, *c;
	struct xs_listener *l;
	struct xs_conn *conn = NULL;
	int64_t t0, dt;
	pid_t pid;
	int st;

	setenv("XSOCK_LISTENER_ACK_MS", "300", 1);
	s = ctx_as("2");
	l = listen_in_2(s);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int64_t end = now_ms() + 5000;
		struct xs_conn *got = NULL;

		while (!got && now_ms() < end) {
			xs_listener_process(l);
			serve_one(s, l, 1001, &got);
			usleep(2000);
		}
		_exit(got ? 0 : 1);
	}
	c = ctx_as("1");
	t0 = now_ms();
	ck_assert_int_eq(connect_1_to_2(c, &conn), 0);
	dt = now_ms() - t0;
	ck_assert_ptr_nonnull(conn);
	ck_assert_msg(dt < 300, "connect took %lld ms", (long long)dt);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	xs_conn_close(conn);
	ck_assert_int_eq(count_subnodes(dir, BASE(1) "/req/2"), 0);
	xs_listener_close(l);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/*
 * Two requests waiting at once: the listener acknowledges both
 * ("state=wait"), the acceptor's offers replace the acknowledgements.
 * Both clients must connect.
 */
START_TEST(test_batched_requests)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_conn *got[2] = { NULL, NULL };
	struct xs_ctx *s;
	struct xs_listener *l;
	pid_t kids[2];
	int64_t end;
	int i, n = 0, st;

	setenv("XSOCK_LISTENER_ACK_MS", "3000", 1);
	s = ctx_as("2");
	l = listen_in_2(s);
	for (i = 0; i < 2; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			struct xs_ctx *c = ctx_as("1");
			struct xs_conn *conn;

			_exit(connect_1_to_2(c, &conn) == 0 ? 0 : 1);
		}
	}
	/* Serve only once both requests are there: one batch. */
	end = now_ms() + 5000;
	while (count_subnodes(dir, BASE(1) "/req/2") < 2 && now_ms() < end)
		usleep(2000);
	ck_assert_int_eq(count_subnodes(dir, BASE(1) "/req/2"), 2);
	while (n < 2 && now_ms() < end) {
		xs_listener_process(l);
		while (n < 2 && serve_one(s, l, (uint16_t)(1001 + n), &got[n]) == 1)
			n++;
		usleep(2000);
	}
	ck_assert_int_eq(n, 2);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client %d failed", i);
		xs_conn_close(got[i]);
	}
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn/1"), 0);
	xs_listener_close(l);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/*
 * The client's life page (protocol.md, section 2, step 5). A hand-made
 * client in domain 1 sends a request naming its channel and a life page,
 * waits for the offer, then plays each case while its channel stays open
 * (so only the life byte can tell):
 *   LIFE_DROP   unshares the life page without attaching: what Xen's
 *               unmap notification does when a client dies there;
 *   LIFE_BOGUS  names a grant it never made;
 *   LIFE_ZERO   shares a page whose byte is already 0.
 * The acceptor must drop the offer (-ECONNABORTED) at once, not after
 * XSOCK_ACCEPT_TIMEOUT_MS (10 s here), and leave no answer node.
 */
enum life_case { LIFE_DROP, LIFE_BOGUS, LIFE_ZERO };

static void life_client(int arg)
{
	enum life_case how = (enum life_case)arg;
	struct xsp_unmap_notify n = { .offset = 0 };
	struct xs_ctx *c = ctx_as("1");
	struct xsp_evtchn *ev;
	struct xsp_share *life;
	struct xsp_store *st;
	struct xsp_perm perms[2] = {
		{ .dom = 1, .perm = XSP_PERM_NONE },
		{ .dom = 2, .perm = XSP_PERM_READ },
	};
	char req[160], *val = NULL;
	int64_t end = now_ms() + (how == LIFE_DROP ? 5000 : 1000);
	uint32_t ref;

	if (xsp_store_open(c->plat, &st) < 0 || xsp_evtchn_alloc(c->plat, 2, &ev) < 0)
		_exit(2);
	n.ev = ev;
	if (xsp_share(c->plat, 2, 1, &n, &life) < 0)
		_exit(2);
	*(volatile uint8_t *)xsp_share_addr(life) = how == LIFE_ZERO ? 0 : 1;
	ref = how == LIFE_BOGUS ? xsp_share_refs(life)[0] + 1000 : xsp_share_refs(life)[0];
	if (xsp_store_write(st, XSP_TXN_NONE, BASE(1) "/req/2", "", 0) < 0 ||
	    xsp_store_set_perms(st, XSP_TXN_NONE, BASE(1) "/req/2", perms, 2) < 0)
		_exit(2);
	snprintf(req, sizeof(req), "port=7000 sport=40000 daddr=10.0.0.2 evtchn=%u life=%u",
		 xsp_evtchn_port(ev), ref);
	if (xsp_store_write(st, XSP_TXN_NONE, BASE(1) "/req/2/00aa", req, strlen(req)) < 0)
		_exit(2);
	/* The offer (not the listener's "state=wait"), or a drop. */
	while (now_ms() < end) {
		free(val);
		val = NULL;
		if (xsp_store_read(st, XSP_TXN_NONE, BASE(2) "/conn/1/00aa", &val, NULL) == 0 &&
		    strstr(val, "state=offer"))
			break;
		usleep(1000);
	}
	if (how == LIFE_DROP)
		xsp_unshare(life);
	sleep(1);	/* the channel (and for LIFE_BOGUS/ZERO the page) held meanwhile */
	_exit(val && strstr(val, "state=offer") ? 0 : 1);
}

/*
 * Domain 2 listens (XSOCK_ACCEPT_TIMEOUT_MS 10 s) while @client(@arg)
 * plays domain 1's doomed client in a child. Serves until accept() has an
 * outcome: returns it (serve_one()'s), how long the deciding call took in
 * *dt, the child's wait status in *st; checks that no connection came out
 * and no answer node is left.
 */
static int serve_doomed(void (*client)(int), int arg, const char *dir, int64_t *dt, int *st)
{
	struct xs_conn *got = NULL;
	struct xs_ctx *s;
	struct xs_listener *l;
	int64_t end, t0 = 0;
	int rc = 0;
	pid_t pid;

	setenv("XSOCK_ACCEPT_TIMEOUT_MS", "10000", 1);
	setenv("XSOCK_LISTENER_ACK_MS", "3000", 1);
	s = ctx_as("2");
	l = listen_in_2(s);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		client(arg);
	end = now_ms() + 5000;
	while (rc == 0 && now_ms() < end) {
		xs_listener_process(l);
		t0 = now_ms();
		rc = serve_one(s, l, 1001, &got);
		if (rc == 0)
			usleep(2000);
	}
	*dt = now_ms() - t0;
	unsetenv("XSOCK_ACCEPT_TIMEOUT_MS");
	ck_assert_ptr_null(got);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn/1"), 0);
	ck_assert_int_eq(waitpid(pid, st, 0), pid);
	xs_listener_close(l);
	xs_ctx_close(s);
	return rc;
}

START_TEST(test_life_page)
{
	static const char *const names[] = { "dropped", "bogus", "zero" };
	const char *dir = tu_fresh_local_dir();
	int64_t dt;
	int rc, st;

	rc = serve_doomed(life_client, _i, dir, &dt, &st);
	ck_assert_msg(rc == -ECONNABORTED, "%s life page: serve_one %d", names[_i], rc);
	/* The bogus and zero pages fail at the offer, the dropped one within
	 * one 50 ms poll of the client's drop (the client waits for the offer
	 * in 1 ms steps). */
	ck_assert_msg(dt < 1000, "%s life page: offer dropped after %lld ms", names[_i],
		      (long long)dt);
	/* The dropped case saw the offer; the others were refused before it. */
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == (_i == LIFE_DROP ? 0 : 1));
	tu_rm_rf(dir);
}
END_TEST

/* A real client with XSOCK_FAULT=die-before-attach (it never returns). */
static void dying_client(int unused)
{
	struct xs_conn *conn;

	(void)unused;
	setenv("XSOCK_FAULT", "die-before-attach", 1);
	connect_1_to_2(ctx_as("1"), &conn);
	_exit(3);	/* not reached: the fault kills */
}

/*
 * XSOCK_FAULT=die-before-attach: a real client killed between reading the
 * offer and attaching. The acceptor drops it at once; nothing is left in
 * the store.
 */
START_TEST(test_client_dies_before_attach)
{
	const char *dir = tu_fresh_local_dir();
	int64_t dt;
	int rc, st;

	rc = serve_doomed(dying_client, 0, dir, &dt, &st);
	ck_assert_int_eq(rc, -ECONNABORTED);
	ck_assert_msg(dt < 1000, "offer to the dead client dropped after %lld ms", (long long)dt);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	tu_rm_rf(dir);
}
END_TEST

START_TEST(test_sweep)
{
	const char *dir = tu_fresh_local_dir();
	struct xsp_store *st;
	struct xs_ctx *s;
	unsigned int removed = 99;
	char mine[64];
	pid_t dead;

	dead = fork();
	ck_assert_int_ge(dead, 0);
	if (dead == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(dead, NULL, 0), dead);
	s = ctx_as("2");
	ck_assert_int_eq(xs_ctx_sweep_listeners(s, &removed), 0);	/* nothing there */
	ck_assert_uint_eq(removed, 0);
	ck_assert_int_eq(xsp_store_open(s->plat, &st), 0);
	snprintf(mine, sizeof(mine), "pid=%d id=00fe", (int)dead);
	ck_assert_int_eq(xsp_store_write(st, XSP_TXN_NONE, BASE(2) "/listen/7000", mine,
					 strlen(mine)), 0);
	snprintf(mine, sizeof(mine), "pid=%d id=00ff", (int)getpid());
	ck_assert_int_eq(xsp_store_write(st, XSP_TXN_NONE, BASE(2) "/listen/7001", mine,
					 strlen(mine)), 0);
	snprintf(mine, sizeof(mine), "pid=1 id=0001");	/* alive (init), not ours */
	ck_assert_int_eq(xsp_store_write(st, XSP_TXN_NONE, BASE(2) "/listen/7002", mine,
					 strlen(mine)), 0);
	ck_assert_int_eq(xsp_store_write(st, XSP_TXN_NONE, BASE(2) "/listen/7003", "garbage",
					 7), 0);
	ck_assert_int_eq(xs_ctx_sweep_listeners(s, &removed), 0);
	ck_assert_uint_eq(removed, 1);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/listen"), 3);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/listen/7000"), -1);
	xsp_store_close(st);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST


/* ---- answers' lifetime ---------------------------------------------------------------------- */

/*
 * The first refusal to a domain (no conn/1 yet) is readable by it; once
 * the client removed its request, the refusal goes too.
 */
START_TEST(test_refusal_readable)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s = ctx_as("2"), *c = ctx_as("1");
	struct xs_listener *l = listen_in_2(s);
	struct xsp_store *st = client_store(c);
	char *val;

	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn"), -1);
	put(st, BASE(1) "/req/2/00aa", "port=7000 sport=1 daddr=10.0.0.2");	/* no evtchn */
	val = process_until(l, st, BASE(2) "/conn/1/00aa", "state=refused");
	ck_assert_ptr_nonnull(val);
	ck_assert_str_eq(val, "state=refused err=71");		/* EPROTO, read by domain 1 */
	free(val);
	ck_assert_int_eq(xsp_store_rm(st, XSP_TXN_NONE, BASE(1) "/req/2/00aa"), 0);
	ck_assert_ptr_null(process_until(l, st, BASE(2) "/conn/1/00aa", NULL));
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn/1"), 0);
	ck_assert_int_eq(l->nseen, 0);
	xsp_store_close(st);
	xs_listener_close(l);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/* Requests whose name is not an id: no answer, no node, no doorbell. */
START_TEST(test_bad_ids_ignored)
{
	static const char *const names[] = { "0123456789abcdef0", "XYZ0123456789abc", "ABCD" };
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s = ctx_as("2"), *c = ctx_as("1");
	struct xs_listener *l = listen_in_2(s);
	struct xsp_store *st = client_store(c);
	struct xs_request *rq;
	char path[128], *val;
	unsigned int i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), BASE(1) "/req/2/%s", names[i]);
		put(st, path, "port=7000 sport=1 daddr=10.0.0.2 evtchn=1 life=1");
	}
	/* A good one after them: once it is acknowledged, they were seen. */
	put(st, BASE(1) "/req/2/00ab", "port=7000 sport=1 daddr=10.0.0.2 evtchn=1 life=1");
	val = process_until(l, st, BASE(2) "/conn/1/00ab", "state=wait");
	ck_assert_ptr_nonnull(val);
	free(val);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn/1"), 1);
	ck_assert_int_eq(xs_listener_take(l, &rq), 1);
	ck_assert_str_eq(rq->id, "00ab");
	free(rq);
	ck_assert_int_eq(xs_listener_take(l, &rq), 0);
	/* The good one withdrawn: our acknowledgement goes with it. */
	ck_assert_int_eq(xsp_store_rm(st, XSP_TXN_NONE, BASE(1) "/req/2/00ab"), 0);
	ck_assert_ptr_null(process_until(l, st, BASE(2) "/conn/1/00ab", NULL));
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn/1"), 0);
	xsp_store_close(st);
	xs_listener_close(l);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/* A client that never removes its request: its refusal goes after
 * XSOCK_REFUSED_KEEP_MS (the clock moved here by moving the request back). */
START_TEST(test_refusal_kept_bounded)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s = ctx_as("2"), *c = ctx_as("1");
	struct xs_listener *l = listen_in_2(s);
	struct xsp_store *st = client_store(c);
	int64_t t0 = now_ms(), due;
	char *val;

	ck_assert_int_eq(xs_listener_deadline(l), -1);
	put(st, BASE(1) "/req/2/00ac", "port=7000 sport=1 daddr=10.0.0.2 evtchn=x");
	val = process_until(l, st, BASE(2) "/conn/1/00ac", "state=refused");
	ck_assert_ptr_nonnull(val);
	free(val);
	due = xs_listener_deadline(l);
	ck_assert_msg(due >= t0 + XSOCK_REFUSED_KEEP_MS && due <= now_ms() + XSOCK_REFUSED_KEEP_MS,
		      "deadline %lld ms from now", (long long)(due - now_ms()));
	/* Not yet due: it stays. */
	xs_listener_process(l);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn/1"), 1);
	ck_assert_uint_eq(l->nseen, 1);
	l->seen[0].since_ms -= XSOCK_REFUSED_KEEP_MS + 1;
	l->tidy_ms = now_ms();
	xs_listener_process(l);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn/1"), 0);
	ck_assert_int_eq(xs_listener_deadline(l), -1);
	/* The request is still there, and still not answered again. */
	xs_listener_process(l);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn/1"), 0);
	ck_assert_int_eq(count_subnodes(dir, BASE(1) "/req/2"), 1);
	xsp_store_close(st);
	xs_listener_close(l);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/* Answers whose request is gone (a listener closed before its clients
 * removed them), and names no client can have: swept. */
START_TEST(test_sweep_answers)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s = ctx_as("2"), *c = ctx_as("1");
	struct xsp_perm perms[2] = { { 2, XSP_PERM_NONE }, { 1, XSP_PERM_READ } };
	struct xsp_store *st1 = client_store(c), *st2;
	unsigned int removed = 99;

	ck_assert_int_eq(xs_ctx_sweep_answers(s, &removed), 0);	/* nothing there */
	ck_assert_uint_eq(removed, 0);
	ck_assert_int_eq(xsp_store_open(s->plat, &st2), 0);
	put(st2, BASE(2) "/conn/1", "");
	ck_assert_int_eq(xsp_store_set_perms(st2, XSP_TXN_NONE, BASE(2) "/conn/1", perms, 2), 0);
	put(st1, BASE(1) "/req/2/00cc", "port=7000 sport=1 daddr=10.0.0.2 evtchn=1");
	put(st2, BASE(2) "/conn/1/00cc", "state=wait id=01");		/* still wanted */
	put(st2, BASE(2) "/conn/1/00cd", "state=refused err=111");	/* request gone */
	put(st2, BASE(2) "/conn/1/00ce", "state=offer ref=1 order=0");	/* request gone */
	put(st2, BASE(2) "/conn/1/XYZ0", "state=wait id=01");		/* not an id */
	ck_assert_int_eq(xs_ctx_sweep_answers(s, &removed), 0);
	ck_assert_uint_eq(removed, 3);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn/1"), 1);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/conn/1/00cc"), 0);
	xsp_store_close(st2);
	xsp_store_close(st1);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/* Wait for the answer to request @id (a literal) to hold @want (NULL: gone). */
#define ANSWER(l, st, id, want) process_until(l, st, BASE(2) "/conn/1/" id, want)

static void expect_answer(struct xs_listener *l, struct xsp_store *st, const char *path,
			  const char *want)
{
	char *val = process_until(l, st, path, want);

	if (want) {
		ck_assert_msg(val != NULL, "%s: no %s", path, want);
		ck_assert_str_eq(val, want);
	} else {
		ck_assert_msg(val == NULL, "%s: still %s", path, val);
	}
	free(val);
}

/*
 * At most XSOCK_MAX_INFLIGHT_PER_PEER (2 here) requests of one domain in
 * flight: one more is refused with ENOBUFS and gets nothing else (no
 * acknowledgement, no pending entry for a doorbell); a request an
 * acceptor is done with is counted out, one removed while its doorbell is
 * still out only once that doorbell is done.
 */
START_TEST(test_inflight_cap)
{
	static const char req[] = "port=7000 sport=1 daddr=10.0.0.2 evtchn=1 life=1";
	static const char ack_pfx[] = "state=wait";
	static const char nobufs[] = "state=refused err=105";
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s, *c;
	struct xs_listener *l;
	struct xsp_store *st, *st2;
	struct xs_request *rq;
	char *val;

	setenv("XSOCK_MAX_INFLIGHT_PER_PEER", "2", 1);
	s = ctx_as("2");
	unsetenv("XSOCK_MAX_INFLIGHT_PER_PEER");
	c = ctx_as("1");
	l = listen_in_2(s);
	st = client_store(c);
	ck_assert_int_eq(xsp_store_open(s->plat, &st2), 0);

	/* Two in flight, their doorbells rung. */
	put(st, BASE(1) "/req/2/00a1", req);
	put(st, BASE(1) "/req/2/00a2", req);
	val = ANSWER(l, st, "00a2", ack_pfx);
	ck_assert_ptr_nonnull(val);
	free(val);
	val = ANSWER(l, st, "00a1", ack_pfx);
	ck_assert_ptr_nonnull(val);
	free(val);
	while (xs_listener_take(l, &rq) == 1) {
		ck_assert_int_eq(xs_listener_bell(l, rq, strcmp(rq->id, "00a1") ? 40002 : 40001),
				 0);
		free(rq);
	}
	/* A third: refused, and nothing else. */
	put(st, BASE(1) "/req/2/00a3", req);
	expect_answer(l, st, BASE(2) "/conn/1/00a3", nobufs);
	ck_assert_int_eq(xs_listener_take(l, &rq), 0);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/bell/7000"), 2);
	/* It goes with its request, as every refusal. */
	ck_assert_int_eq(xsp_store_rm(st, XSP_TXN_NONE, BASE(1) "/req/2/00a3"), 0);
	expect_answer(l, st, BASE(2) "/conn/1/00a3", NULL);

	/* An acceptor claims 00a1's doorbell and drops it (client gone):
	 * record and acknowledgement go, the doorbell socket closes. */
	ck_assert_int_eq(xsp_store_rm(st2, XSP_TXN_NONE, BASE(2) "/bell/7000/40001"), 0);
	ck_assert_int_eq(xsp_store_rm(st2, XSP_TXN_NONE, BASE(2) "/conn/1/00a1"), 0);
	ck_assert_int_eq(xs_listener_unbell(l, 40001), 0);
	/* Counted out: 00a4 gets its place, 00a5 does not. */
	put(st, BASE(1) "/req/2/00a4", req);
	val = ANSWER(l, st, "00a4", ack_pfx);
	ck_assert_ptr_nonnull(val);
	free(val);
	ck_assert_int_eq(xs_listener_take(l, &rq), 1);
	ck_assert_str_eq(rq->id, "00a4");
	free(rq);
	put(st, BASE(1) "/req/2/00a5", req);
	expect_answer(l, st, BASE(2) "/conn/1/00a5", nobufs);

	/* 00a2's client gives up while its doorbell is out: its
	 * acknowledgement goes, it still counts (00a6 refused)... */
	ck_assert_int_eq(xsp_store_rm(st, XSP_TXN_NONE, BASE(1) "/req/2/00a2"), 0);
	expect_answer(l, st, BASE(2) "/conn/1/00a2", NULL);
	put(st, BASE(1) "/req/2/00a6", req);
	expect_answer(l, st, BASE(2) "/conn/1/00a6", nobufs);
	/* ... until the doorbell is withdrawn: then 00a7 gets the place. */
	ck_assert_int_eq(xs_listener_unbell(l, 40002), 1);
	put(st, BASE(1) "/req/2/00a7", req);
	val = ANSWER(l, st, "00a7", ack_pfx);
	ck_assert_ptr_nonnull(val);
	free(val);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/bell/7000"), 0);

	xsp_store_close(st2);
	xsp_store_close(st);
	xs_listener_close(l);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

static Suite *conn_store_suite(void)
{
	Suite *s = suite_create("conn_store");
	TCase *tl = tcase_create("liveness");
	TCase *ta = tcase_create("answers");

	tcase_set_timeout(tl, 20);
	tcase_add_test(tl, test_unacknowledged_listener);
	tcase_add_test(tl, test_acknowledged_listener);
	tcase_add_test(tl, test_live_listener);
	tcase_add_test(tl, test_batched_requests);
	tcase_add_test(tl, test_sweep);
	tcase_add_loop_test(tl, test_life_page, LIFE_DROP, LIFE_ZERO + 1);
	tcase_add_test(tl, test_client_dies_before_attach);
	suite_add_tcase(s, tl);
	tcase_set_timeout(ta, 20);
	tcase_add_test(ta, test_refusal_readable);
	tcase_add_test(ta, test_bad_ids_ignored);
	tcase_add_test(ta, test_refusal_kept_bounded);
	tcase_add_test(ta, test_sweep_answers);
	tcase_add_test(ta, test_inflight_cap);
	suite_add_tcase(s, ta);
	return s;
}

int main(void)
{
	return tu_run(conn_store_suite());
}
