/* SPDX-License-Identifier: MIT */
/*
 * src/conn's address rules and advertisements on the local backend's
 * store (docs/protocol.md, section 2):
 *  - a listener bound to one address advertises that address, serves
 *    requests for it only (ECONNREFUSED for others, unless another
 *    listener of ours serves them), reports it as the accepted socket's
 *    local address, and a client sees from the advertisement that another
 *    address is not served, without a request;
 *  - one advertisement node per registered domain, each readable by that
 *    domain alone, however many there are (the legacy node names them
 *    only while they fit one permission list), withdrawn from a domain
 *    taken out of the registry;
 *  - how long parked rings live on each side (xs_conn_park_deadline()).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <xsock/store.h>

#include "common/clock.h"
#include "conn/conn.h"
#include "conn/registry.h"
#include "connutil.h"
#include "testutil.h"

/* Domain 2 listens on @addr:7000 (registered: domain 1 = 10.0.0.1). */
static struct xs_listener *bound_in_2(struct xs_ctx *s, const char *addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(7000) };
	struct xs_listener *l;
	struct xsp_store *st;
	struct xs_prefix p;

	ck_assert_int_eq(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
	ck_assert_int_eq(xs_prefix_parse("10.0.0.1", &p), 0);
	ck_assert_int_eq(xsp_store_open(s->plat, &st), 0);
	ck_assert_int_eq(xs_registry_add(st, 2, &p, 1), 0);
	xsp_store_close(st);
	ck_assert_int_eq(xs_listener_open(s, (struct sockaddr *)&sin, sizeof(sin), 7000, &l), 0);
	return l;
}

static int connect_1_to(struct xs_ctx *c, const char *addr, struct xs_conn **out)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(7000) };

	ck_assert_int_eq(inet_pton(AF_INET, addr, &dst.sin_addr), 1);
	return xs_conn_connect(c, 2, (struct sockaddr *)&dst, sizeof(dst), 40000, out);
}

/* The value of @path as domain 1 reads it (NULL: none, or not for it). */
static char *read_as(struct xsp_store *st, const char *path)
{
	char *val = NULL;

	return xsp_store_read(st, XSP_TXN_NONE, path, &val, NULL) == 0 ? val : NULL;
}

START_TEST(test_bound_advertised)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s = ctx_as("2"), *c = ctx_as("1");
	struct xs_listener *l = bound_in_2(s, "10.0.0.2");
	struct xsp_store *st = client_store(c);
	struct xs_conn *conn = NULL;
	int64_t t0;
	char *val;

	/* listen/7000-1-<key of 10.0.0.2>, for domain 1; no wildcard node. */
	val = read_as(st, BASE(2) "/listen/7000-1-4-0a000002");
	ck_assert_ptr_nonnull(val);
	ck_assert_ptr_nonnull(strstr(val, " addr=10.0.0.2"));
	free(val);
	ck_assert_ptr_null(read_as(st, BASE(2) "/listen/7000-1"));
	val = read_as(st, BASE(2) "/listen/7000");	/* legacy: says the address too */
	ck_assert_ptr_nonnull(val);
	ck_assert_ptr_nonnull(strstr(val, " addr=10.0.0.2"));
	free(val);
	/* Another address: no listener there, seen without a request. */
	setenv("XSOCK_LISTENER_ACK_MS", "3000", 1);
	t0 = now_ms();
	ck_assert_int_eq(connect_1_to(c, "10.0.0.3", &conn), -ENOENT);
	ck_assert_msg(now_ms() - t0 < 500, "took %lld ms", (long long)(now_ms() - t0));
	ck_assert_ptr_null(conn);
	ck_assert_int_eq(count_subnodes(dir, BASE(1) "/req/2"), 0);
	xs_listener_close(l);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/listen"), 0);
	xsp_store_close(st);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/*
 * Raw requests (an older or hostile client does not look first): the
 * address we are bound to is acknowledged, another refused, unless a
 * second listener of ours is bound to it; that one serves it.
 */
START_TEST(test_bound_requests)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s = ctx_as("2"), *c = ctx_as("1");
	struct xs_listener *l = bound_in_2(s, "10.0.0.2"), *l4;
	struct xsp_store *st = client_store(c);
	char *val;

	put(st, BASE(1) "/req/2/00e1", "port=7000 sport=1 daddr=10.0.0.3 evtchn=1 life=1");
	val = process_until(l, st, BASE(2) "/conn/1/00e1", "state=");
	ck_assert_ptr_nonnull(val);
	ck_assert_str_eq(val, "state=refused err=111");
	free(val);
	put(st, BASE(1) "/req/2/00e2", "port=7000 sport=1 daddr=::ffff:10.0.0.2 evtchn=1 life=1");
	val = process_until(l, st, BASE(2) "/conn/1/00e2", "state=");
	ck_assert_ptr_nonnull(val);
	ck_assert_ptr_nonnull(strstr(val, "state=wait"));
	free(val);
	/* 10.0.0.4 has its own listener: the first leaves its request alone. */
	l4 = bound_in_2(s, "10.0.0.4");
	put(st, BASE(1) "/req/2/00e3", "port=7000 sport=1 daddr=10.0.0.4 evtchn=1 life=1");
	val = process_until(l, st, BASE(2) "/conn/1/00e3", "state=");
	ck_assert_ptr_null(val);
	val = process_until(l4, st, BASE(2) "/conn/1/00e3", "state=");
	ck_assert_ptr_nonnull(val);
	ck_assert_ptr_nonnull(strstr(val, "state=wait"));
	ck_assert_ptr_nonnull(strstr(val, l4->id));
	free(val);
	xs_listener_close(l4);
	xs_listener_close(l);
	xsp_store_close(st);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/* A connection to the bound address: accepted, with that local address. */
START_TEST(test_bound_connects)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s = ctx_as("2");
	struct xs_listener *l = bound_in_2(s, "10.0.0.2");
	struct xs_conn *got = NULL;
	struct sockaddr_in *la;
	int64_t end = now_ms() + 5000;
	pid_t pid;
	int st;

	setenv("XSOCK_LISTENER_ACK_MS", "3000", 1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct xs_conn *conn;

		_exit(connect_1_to(ctx_as("1"), "10.0.0.2", &conn) == 0 ? 0 : 1);
	}
	while (!got && now_ms() < end) {
		xs_listener_process(l);
		serve_one(s, l, 1001, &got);
		usleep(2000);
	}
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	la = (struct sockaddr_in *)&got->laddr;
	ck_assert_int_eq(la->sin_family, AF_INET);
	ck_assert_uint_eq(ntohl(la->sin_addr.s_addr), 0x0a000002);
	ck_assert_uint_eq(ntohs(la->sin_port), 7000);
	xs_conn_close(got);
	xs_listener_close(l);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/* The permissions of @path: n entries, the first @self's "none". */
static unsigned int perms_of(struct xsp_store *st, const char *path, xsp_domid_t self,
			     xsp_domid_t *second)
{
	struct xsp_perm *p = NULL;
	unsigned int n = 0;

	ck_assert_int_eq(xsp_store_get_perms(st, XSP_TXN_NONE, path, &p, &n), 0);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_eq(p[0].dom, self);
	ck_assert_int_eq(p[0].perm, XSP_PERM_NONE);
	if (n > 1 && second) {
		*second = p[1].dom;
		ck_assert_int_eq(p[1].perm, XSP_PERM_READ);
	}
	free(p);
	return n;
}

/*
 * 70 registered domains: each gets its own advertisement, readable by it
 * alone; the legacy node (70 do not fit) by nobody else. A domain taken
 * out of the registry loses its node.
 */
START_TEST(test_many_domains)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *s = ctx_as("2"), *c72 = ctx_as("72");
	struct xs_listener *l;
	struct xsp_store *st, *st72;
	struct xs_prefix p;
	char text[32], path[128], *val;
	xsp_domid_t d, who = 0;

	ck_assert_int_eq(xsp_store_open(s->plat, &st), 0);
	for (d = 3; d <= 72; d++) {
		snprintf(text, sizeof(text), "10.1.0.%u", d);
		ck_assert_int_eq(xs_prefix_parse(text, &p), 0);
		ck_assert_int_eq(xs_registry_add(st, 2, &p, d), 0);
	}
	l = listen_in_2(s);	/* and domain 1: 71 domains */
	for (d = 3; d <= 72; d++) {
		snprintf(path, sizeof(path), BASE(2) "/listen/7000-%u", d);
		ck_assert_uint_eq(perms_of(st, path, 2, &who), 2);
		ck_assert_uint_eq(who, d);
	}
	ck_assert_uint_eq(perms_of(st, BASE(2) "/listen/7000", 2, NULL), 1);
	ck_assert_int_eq(xsp_store_open(c72->plat, &st72), 0);
	val = read_as(st72, BASE(2) "/listen/7000-72");
	ck_assert_ptr_nonnull(val);
	free(val);
	ck_assert_ptr_null(read_as(st72, BASE(2) "/listen/7000-3"));
	ck_assert_ptr_null(read_as(st72, BASE(2) "/listen/7000"));
	/* Domain 72 out of the registry: its node goes with the next event. */
	ck_assert_int_eq(xs_prefix_parse("10.1.0.72", &p), 0);
	ck_assert_int_eq(xs_registry_del(st, 2, &p), 0);
	ck_assert_ptr_null(process_until(l, st, BASE(2) "/listen/7000-72", NULL));
	ck_assert_ptr_null(read_as(st72, BASE(2) "/listen/7000-72"));
	/* Down to 3 domains: the legacy node names them, and then 2. */
	for (d = 4; d <= 71; d++) {
		snprintf(text, sizeof(text), "10.1.0.%u", d);
		ck_assert_int_eq(xs_prefix_parse(text, &p), 0);
		ck_assert_int_eq(xs_registry_del(st, 2, &p), 0);
	}
	ck_assert_ptr_null(process_until(l, st, BASE(2) "/listen/7000-71", NULL));
	ck_assert_uint_eq(perms_of(st, BASE(2) "/listen/7000", 2, NULL), 3);
	ck_assert_int_eq(xs_prefix_parse("10.1.0.3", &p), 0);
	ck_assert_int_eq(xs_registry_del(st, 2, &p), 0);
	ck_assert_ptr_null(process_until(l, st, BASE(2) "/listen/7000-3", NULL));
	ck_assert_uint_eq(perms_of(st, BASE(2) "/listen/7000", 2, &who), 2);
	ck_assert_uint_eq(who, 1);
	xs_listener_close(l);
	ck_assert_int_eq(count_subnodes(dir, BASE(2) "/listen"), 0);
	xsp_store_close(st72);
	xsp_store_close(st);
	xs_ctx_close(c72);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

/* Parked rings: the client's life within half the server's. */
START_TEST(test_park_deadline)
{
	struct xs_ctx ctx = { .reuse_idle_ms = 2000 };
	struct xs_conn c = { .ctx = &ctx, .state = XS_CONN_IDLE, .idle_since_ms = 1000 };

	c.side = XSR_SIDE_A;
	ck_assert_int_eq(xs_conn_park_deadline(&c), 1000 + 2000 * XS_SERVER_IDLE_FACTOR);
	c.state = XS_CONN_PARKING;	/* a client that never parks does not hold it */
	ck_assert_int_eq(xs_conn_park_deadline(&c), 1000 + 2000 * XS_SERVER_IDLE_FACTOR);
	c.side = XSR_SIDE_B;
	ck_assert_int_eq(xs_conn_park_deadline(&c), 3000);
	c.peer_idle_ms = 3000;		/* the server keeps it 3 s: we 1.5 s */
	ck_assert_int_eq(xs_conn_park_deadline(&c), 2500);
	c.peer_idle_ms = 10000;
	ck_assert_int_eq(xs_conn_park_deadline(&c), 3000);
	c.state = XS_CONN_CONNECTED;
	ck_assert(xs_conn_park_deadline(&c) == INT64_MAX);
	ctx.reuse_idle_ms = 3600000;	/* what an offer can say: an hour at most */
	c.side = XSR_SIDE_A;
	c.state = XS_CONN_IDLE;
	ck_assert_int_eq(xs_conn_park_deadline(&c), 1000 + (int64_t)XSOCK_IDLE_MAX_MS);
}
END_TEST

static Suite *conn_addr_suite(void)
{
	Suite *s = suite_create("conn_addr");
	TCase *tc = tcase_create("addresses");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_bound_advertised);
	tcase_add_test(tc, test_bound_requests);
	tcase_add_test(tc, test_bound_connects);
	tcase_add_test(tc, test_many_domains);
	tcase_add_test(tc, test_park_deadline);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(conn_addr_suite());
}
