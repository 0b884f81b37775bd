/* SPDX-License-Identifier: MIT */
/*
 * Shared by the unit tests of src/conn on the local backend's store
 * (check_conn_store.c, check_conn_addr.c): contexts as a domain, domain
 * 2's listener for domain 1 (10.0.0.1), what the shim does for a request
 * (serve_one()), counting store nodes, and domain 1's raw requests.
 */
#ifndef XSOCK_TEST_CONNUTIL_H
#define XSOCK_TEST_CONNUTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "conn/conn.h"
#include "conn/registry.h"
#include "testutil.h"

#define BASE(d) "/local/domain/" #d "/data/xsock"

static inline int64_t now_ms(void)
{
	return xs_now_ms();
}

/* A context as domain @dom. */
static inline struct xs_ctx *ctx_as(const char *dom)
{
	struct xs_ctx *ctx;

	setenv("XSOCK_DOMID", dom, 1);
	ck_assert_int_eq(xs_ctx_open(&ctx), 0);
	return ctx;
}

/* Domain 2 listens on 7000 for domain 1 (10.0.0.1); nobody serves it. */
static inline struct xs_listener *listen_in_2(struct xs_ctx *s)
{
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(7000) };
	struct xs_listener *l;
	struct xsp_store *st;
	struct xs_prefix p;

	ck_assert_int_eq(xs_prefix_parse("10.0.0.1", &p), 0);
	ck_assert_int_eq(xsp_store_open(s->plat, &st), 0);
	ck_assert_int_eq(xs_registry_add(st, 2, &p, 1), 0);
	xsp_store_close(st);
	ck_assert_int_eq(xs_listener_open(s, (struct sockaddr *)&any, sizeof(any), 7000, &l), 0);
	return l;
}

/*
 * What the shim does for one request: the listener takes it and records a
 * doorbell for it, and an acceptor claims that doorbell and builds the
 * ring (no TCP doorbell socket here: the bell port is made up).
 * 1 and *out connected, 0 nothing pending, or a negative errno.
 */
static inline int serve_one(struct xs_ctx *s, struct xs_listener *l, uint16_t bell,
			    struct xs_conn **out)
{
	struct xs_acceptor *a;
	struct xs_request *rq;
	int rc;

	*out = NULL;
	if (xs_listener_take(l, &rq) != 1)
		return 0;
	rc = xs_listener_bell(l, rq, bell);
	free(rq);
	if (rc < 0)
		return rc;
	rc = xs_acceptor_open(s, (struct sockaddr *)&l->addr, l->addrlen, l->port, &a);
	if (rc < 0)
		return rc;
	rc = xs_acceptor_claim(a, bell, false, out);
	xs_acceptor_close(a);
	return rc < 0 ? rc : 1;
}

static inline int connect_1_to_2(struct xs_ctx *c, struct xs_conn **out)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(7000) };

	dst.sin_addr.s_addr = htonl(0x0a000002);
	return xs_conn_connect(c, 2, (struct sockaddr *)&dst, sizeof(dst), 40000, out);
}

/* Store directories of the local backend hold ".v"/".p" files too. */
static inline int count_subnodes(const char *dir, const char *node)
{
	char path[512];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "%s/store%s", dir, node);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Domain 1's store handle on @c, with req/2 made as a client makes it. */
static inline struct xsp_store *client_store(struct xs_ctx *c)
{
	struct xsp_perm perms[2] = { { 1, XSP_PERM_NONE }, { 2, XSP_PERM_READ } };
	struct xsp_store *st;

	ck_assert_int_eq(xsp_store_open(c->plat, &st), 0);
	ck_assert_int_eq(xsp_store_write(st, XSP_TXN_NONE, BASE(1) "/req/2", "", 0), 0);
	ck_assert_int_eq(xsp_store_set_perms(st, XSP_TXN_NONE, BASE(1) "/req/2", perms, 2), 0);
	return st;
}

static inline void put(struct xsp_store *st, const char *path, const char *val)
{
	ck_assert_int_eq(xsp_store_write(st, XSP_TXN_NONE, path, val, strlen(val)), 0);
}

/* Run the listener until @path (read through @st) holds a value with
 * @want in it (NULL: until it is gone), 2 s at most. The value or NULL. */
static inline char *process_until(struct xs_listener *l, struct xsp_store *st,
				  const char *path, const char *want)
{
	int64_t end = now_ms() + 2000;
	char *val = NULL;

	do {
		xs_listener_process(l);
		free(val);
		val = NULL;
		if (xsp_store_read(st, XSP_TXN_NONE, path, &val, NULL) < 0)
			val = NULL;
		if (want ? val && strstr(val, want) : !val)
			break;
		usleep(2000);
	} while (now_ms() < end);
	return val;
}

#endif /* XSOCK_TEST_CONNUTIL_H */
