/* SPDX-License-Identifier: MIT */
/*
 * Names and identities (conn/identity.c, conn/registry.c): the grammar of
 * names, UUIDs and domain 0's directory values; the registry's name= and
 * uuid= words; resolution (names, bindings, the directory's addresses);
 * the sources and their owners on the local store; and the listener's
 * fresh identity check (an id given to another domain is refused).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn/identity.h"
#include "connutil.h"

#define U1 "11111111-2222-4333-8444-555555555555"
#define U2 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

START_TEST(test_name_grammar)
{
	static const char *good[] = { "db", "web-1", "a.b_c", "Domain-0", "7up", "x" };
	static const char *bad[] = { "", "123", "a b", "a/b", "a=b", "caf\xc3\xa9", "a\n" };
	char longest[XSOCK_NAME_MAX + 2];
	unsigned int i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(xs_ident_name_ok(good[i], strlen(good[i])), "'%s' refused", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!xs_ident_name_ok(bad[i], strlen(bad[i])), "'%s' taken", bad[i]);
	memset(longest, 'n', sizeof(longest));
	ck_assert(xs_ident_name_ok(longest, XSOCK_NAME_MAX));
	ck_assert(!xs_ident_name_ok(longest, XSOCK_NAME_MAX + 1));
	ck_assert(xs_ident_uuid_ok(U1, strlen(U1)));
	ck_assert(!xs_ident_uuid_ok("11111111-2222-4333-8444-55555555555", 35));
	ck_assert(!xs_ident_uuid_ok("11111111-2222-4333-8444-55555555555A", 36));
	ck_assert(!xs_ident_uuid_ok("11111111x2222-4333-8444-555555555555", 36));
}
END_TEST

START_TEST(test_dir_value)
{
	static const struct {
		const char *val, *why;
	} bad[] = {
		{ "uuid=" U1, "no name=" },
		{ "name=db", "no uuid=" },
		{ "name=123 uuid=" U1, "bad name=" },
		{ "name=db uuid=" U1 "x", "bad uuid=" },
		{ "name=db name=db uuid=" U1, "bad name=" },
		{ "name=db uuid=" U1 " addr=", "bad addr=" },
		{ "name=db uuid=" U1 " addr=10.0.0.1,10.0.0.300", "bad address in addr=: '10.0.0.300'" },
		{ "name=db uuid=" U1 " addr=10.0.0.1/24", "bad address in addr=: '10.0.0.1/24'" },
		{ "name=db uuid=" U1 " addr=1.0.0.1,1.0.0.2,1.0.0.3,1.0.0.4,1.0.0.5,1.0.0.6,"
		  "1.0.0.7,1.0.0.8,1.0.0.9", "more than 8" },
		{ "name=db\tuuid=" U1, "printable" },
	};
	struct xs_ident id, back;
	char why[128], buf[XSOCK_VALUE_MAX + 1], text[XS_PREFIX_STRLEN];
	const char *good = "name=db uuid=" U1 " addr=10.77.0.2,fd00::/64 future=1";
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&id, 0x5a, sizeof(id));
		why[0] = '\0';
		ck_assert_int_eq(xs_dir_parse(bad[i].val, strlen(bad[i].val), &id, why, sizeof(why)),
				 -EPROTO);
		ck_assert_msg(strstr(why, bad[i].why), "'%s': reason '%s', want '%s'", bad[i].val,
			      why, bad[i].why);
		ck_assert_int_eq(((unsigned char *)&id)[0], 0x5a);	/* untouched */
	}
	/* a NUL inside the value */
	ck_assert_int_eq(xs_dir_parse("name=db\0 uuid=" U1, 51, &id, NULL, 0), -EPROTO);

	memset(&id, 0, sizeof(id));
	id.dom = 7;
	ck_assert_int_eq(xs_dir_parse(good, strlen(good), &id, why, sizeof(why)), 0);
	ck_assert_int_eq(id.dom, 7);
	ck_assert_str_eq(id.name, "db");
	ck_assert_str_eq(id.uuid, U1);
	ck_assert_uint_eq(id.naddrs, 2);
	xs_prefix_format(&id.addrs[1], text, sizeof(text));
	ck_assert_str_eq(text, "fd00::/64");
	ck_assert_int_eq(xs_dir_format(&id, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "name=db uuid=" U1 " addr=10.77.0.2,fd00::/64");
	memset(&back, 0, sizeof(back));
	ck_assert_int_eq(xs_dir_parse(buf, strlen(buf), &back, NULL, 0), 0);
	ck_assert_int_eq(memcmp(&back.addrs, &id.addrs, sizeof(id.addrs)), 0);
	ck_assert_int_eq(xs_dir_format(&id, buf, 20), -ENOSPC);
}
END_TEST

static struct xs_peer peer(const char *pfx, xsp_domid_t dom, const char *name, const char *uuid)
{
	struct xs_peer p;

	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(xs_prefix_parse(pfx, &p.prefix), 0);
	p.dom = dom;
	snprintf(p.name, sizeof(p.name), "%s", name ? name : "");
	snprintf(p.uuid, sizeof(p.uuid), "%s", uuid ? uuid : "");
	return p;
}

/* The words on the store: written, read back, malformed ones skipped. */
START_TEST(test_registry_words)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *c = ctx_as("1");
	struct xs_peer in[3], *out = NULL;
	struct xsp_store *st;
	unsigned int n = 0;
	char *val = NULL;

	in[0] = peer("10.0.0.2", 2, "db", NULL);
	in[1] = peer("10.0.0.3", 3, NULL, U1);
	in[2] = peer("10.0.0.4", 1, "me-later", NULL);	/* a name's last id may be ours */
	ck_assert_int_eq(xsp_store_open(c->plat, &st), 0);
	ck_assert_int_eq(xs_registry_add_all(st, 1, in, 3), 0);
	ck_assert_int_eq(xsp_store_read(st, XSP_TXN_NONE, BASE(1) "/peers/4-0a000002-32", &val,
					NULL), 0);
	ck_assert_str_eq(val, "2 10.0.0.2 name=db");
	free(val);
	ck_assert_int_eq(xsp_store_read(st, XSP_TXN_NONE, BASE(1) "/peers/4-0a000003-32", &val,
					NULL), 0);
	ck_assert_str_eq(val, "3 10.0.0.3 uuid=" U1);
	free(val);
	/* refused: a bad name, a bad uuid, our own id without a name */
	in[0] = peer("10.0.0.5", 2, "12", NULL);
	ck_assert_int_eq(xs_registry_add_all(st, 1, in, 1), -EINVAL);
	in[0] = peer("10.0.0.5", 2, NULL, "x");
	ck_assert_int_eq(xs_registry_add_all(st, 1, in, 1), -EINVAL);
	in[0] = peer("10.0.0.5", 1, NULL, NULL);
	ck_assert_int_eq(xs_registry_add_all(st, 1, in, 1), -EINVAL);
	/* what another writer may leave: skipped, never trusted in part */
	put(st, BASE(1) "/peers/4-0a000006-32", "6 10.0.0.6 name=");
	put(st, BASE(1) "/peers/4-0a000007-32", "7 10.0.0.7 name=99");
	put(st, BASE(1) "/peers/4-0a000008-32", "8 10.0.0.8 uuid=" U1 " uuid=" U2);
	put(st, BASE(1) "/peers/4-0a000009-32", "9 10.0.0.9  name=ok");	/* two spaces: fine */
	put(st, BASE(1) "/peers/4-0a00000a-32", "10 10.0.0.10 name=ok\x01");
	put(st, BASE(1) "/peers/4-0a00000b-32", "11 10.0.0.11 future=word");
	ck_assert_int_eq(xs_registry_list_raw(st, 1, &out, &n), 0);
	ck_assert_uint_eq(n, 5);	/* .2 .3 .4 .9 .11 */
	ck_assert_str_eq(out[0].name, "db");
	ck_assert_str_eq(out[1].uuid, U1);
	ck_assert_int_eq(out[2].dom, 1);
	ck_assert_str_eq(out[3].name, "ok");
	ck_assert_str_eq(out[4].name, "");
	free(out);
	xsp_store_close(st);
	xs_ctx_close(c);
	tu_rm_rf(dir);
}
END_TEST

/* Resolution against a given set of identities. */
START_TEST(test_resolve)
{
	struct xs_ident v[4];
	struct xs_idents ids = { .v = v, .n = 4, .dir = true };
	struct xs_peer *p = calloc(8, sizeof(*p));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	unsigned int n = 7;
	xsp_domid_t dom = 0;

	memset(v, 0, sizeof(v));
	v[0].dom = 5, strcpy(v[0].name, "db"), strcpy(v[0].uuid, U1);
	v[1].dom = 6, strcpy(v[1].name, "twin"), strcpy(v[1].uuid, U1);
	v[2].dom = 7, strcpy(v[2].name, "twin"), strcpy(v[2].uuid, U2);
	v[3].dom = 8, strcpy(v[3].name, "web"), strcpy(v[3].uuid, U2);
	v[3].naddrs = 2;
	ck_assert_int_eq(xs_prefix_parse("10.0.8.0/24", &v[3].addrs[0]), 0);
	ck_assert_int_eq(xs_prefix_parse("10.0.0.1", &v[3].addrs[1]), 0);

	p[0] = peer("10.0.0.1", 2, "db", NULL);		/* follows db to 5 */
	p[1] = peer("10.0.0.2", 0, "twin", NULL);		/* two domains: down */
	p[2] = peer("10.0.0.3", 3, "gone", NULL);		/* nobody: down */
	p[3] = peer("10.0.0.4", 5, NULL, U1);			/* 5 is still U1: up */
	p[4] = peer("10.0.0.5", 8, NULL, U1);			/* 8 is U2 now: down */
	p[5] = peer("10.0.0.6", 9, NULL, U1);			/* 9 unknown: down */
	p[6] = peer("10.0.0.7", 9, NULL, NULL);		/* plain: as it was */
	ck_assert_int_eq(xs_registry_resolve(&ids, 1, &p, &n), 0);
	ck_assert_int_eq(p[0].state, XS_PEER_UP);
	ck_assert_int_eq(p[0].dom, 5);
	ck_assert_int_eq(p[1].state, XS_PEER_AMBIGUOUS);
	ck_assert_int_eq(p[2].state, XS_PEER_NONAME);
	ck_assert_int_eq(p[3].state, XS_PEER_UP);
	ck_assert_int_eq(p[4].state, XS_PEER_MISMATCH);
	ck_assert_int_eq(p[5].state, XS_PEER_UNKNOWN);
	ck_assert_int_eq(p[6].state, XS_PEER_UP);
	/* web's addresses: 10.0.8.0/24 added; 10.0.0.1 is ours (db's) already */
	ck_assert_uint_eq(n, 8);
	ck_assert_int_eq(p[7].dom, 8);
	ck_assert_int_eq(p[7].origin, XS_PEER_DIR);
	ck_assert_str_eq(p[7].name, "web");

	/* Down entries route nowhere and accept nobody. */
	sa.sin_addr.s_addr = htonl(0x0a000005);
	ck_assert_int_eq(xs_registry_lookup(p, n, (struct sockaddr *)&sa, sizeof(sa), &dom),
			 -EHOSTUNREACH);
	ck_assert_int_eq(dom, 8);
	ck_assert(xs_registry_has_domain(p, n, 8));	/* by the directory's entry */
	ck_assert(!xs_registry_has_domain(p, n, 3));
	ck_assert(xs_registry_has_domain(p, n, 5));
	sa.sin_addr.s_addr = htonl(0x0a000801);
	ck_assert_int_eq(xs_registry_lookup(p, n, (struct sockaddr *)&sa, sizeof(sa), &dom), 0);
	ck_assert_int_eq(dom, 8);
	/* a name resolving to ourselves is not a peer */
	n = 1;
	p[0] = peer("10.0.0.1", 2, "db", NULL);
	ck_assert_int_eq(xs_registry_resolve(&ids, 5, &p, &n), 0);
	ck_assert_int_eq(p[0].state, XS_PEER_NONAME);
	free(p);
}
END_TEST

/* Domain 0 writes the toolstack's nodes for domain @d (as `xsockctl domain`). */
static void toolstack(struct xsp_store *st0, unsigned int d, const char *name, const char *uuid)
{
	struct xsp_perm pm[2] = { { 0, XSP_PERM_NONE }, { (xsp_domid_t)d, XSP_PERM_READ } };
	char path[96], val[64];

	snprintf(path, sizeof(path), "/local/domain/%u", d);
	put(st0, path, "");
	ck_assert_int_eq(xsp_store_set_perms(st0, XSP_TXN_NONE, path, pm, 2), 0);
	snprintf(path, sizeof(path), "/local/domain/%u/name", d);
	put(st0, path, name);
	snprintf(path, sizeof(path), "/local/domain/%u/vm", d);
	snprintf(val, sizeof(val), "/vm/%s", uuid);
	put(st0, path, val);
}

/* Sources: the toolstack's nodes (domain 0), the directory (a domU); owners. */
START_TEST(test_sources)
{
	const char *dir = tu_fresh_local_dir();
	struct xs_ctx *c0 = ctx_as("0"), *c1 = ctx_as("1"), *c2 = ctx_as("2");
	struct xsp_perm dp[2] = { { 0, XSP_PERM_NONE }, { 1, XSP_PERM_READ } };
	struct xsp_perm home = { 1, XSP_PERM_NONE };
	struct xsp_store *st0, *st1, *st2;
	struct xs_idents ids;
	struct xs_ident id;

	ck_assert_int_eq(xsp_store_open(c0->plat, &st0), 0);
	ck_assert_int_eq(xsp_store_open(c1->plat, &st1), 0);
	ck_assert_int_eq(xsp_store_open(c2->plat, &st2), 0);
	toolstack(st0, 1, "one", U1);
	toolstack(st0, 2, "two", U2);
	/* domain 0 reads them all; domain 1 none but its own */
	ck_assert_int_eq(xs_ident_of(st0, 0, 2, &id), 0);
	ck_assert_str_eq(id.name, "two");
	ck_assert_str_eq(id.uuid, U2);
	ck_assert_int_eq(xs_idents_read(st0, 0, &ids), 0);
	ck_assert_uint_eq(ids.n, 2);
	ck_assert(ids.toolstack);
	xs_idents_free(&ids);
	ck_assert_int_eq(xs_ident_of(st1, 1, 2, &id), -ENOENT);
	/* the directory domain 0 writes for domain 1 */
	put(st0, BASE(1), "");	/* as discover does: B(1) stays domain 1's */
	ck_assert_int_eq(xsp_store_set_perms(st0, XSP_TXN_NONE, BASE(1), &home, 1), 0);
	put(st0, BASE(1) "/dir", "");
	ck_assert_int_eq(xsp_store_set_perms(st0, XSP_TXN_NONE, BASE(1) "/dir", dp, 2), 0);
	put(st0, BASE(1) "/dir/2", "name=two uuid=" U2);
	ck_assert_int_eq(xs_ident_of(st1, 1, 2, &id), 0);
	ck_assert_str_eq(id.name, "two");
	ck_assert_int_eq(xs_ident_of(st2, 2, 2, &id), 0);	/* its own toolstack node */
	ck_assert_int_eq(xsp_store_read(st2, XSP_TXN_NONE, BASE(1) "/dir/2", &(char *){ NULL },
					NULL), -EACCES);	/* not 2's to read */
	/* a directory entry written by anyone but domain 0 is not trusted */
	put(st1, BASE(1) "/mine", "");
	put(st1, BASE(1) "/mine/3", "name=fake uuid=" U1);
	ck_assert_int_eq(xsp_store_write(st1, XSP_TXN_NONE, BASE(1) "/dir/3", "x", 1), -EACCES);
	put(st0, BASE(1) "/dir/4", "name=four uuid=" U1);
	{
		struct xsp_perm own[2] = { { 1, XSP_PERM_NONE }, { 0, XSP_PERM_READ } };

		/* domain 0 gives it to domain 1: no longer domain 0's word */
		ck_assert_int_eq(xsp_store_set_perms(st0, XSP_TXN_NONE, BASE(1) "/dir/4", own, 2),
				 0);
	}
	ck_assert_int_eq(xs_ident_of(st1, 1, 4, &id), -ENOENT);
	ck_assert_int_eq(xs_idents_read(st1, 1, &ids), 0);
	ck_assert_uint_eq(ids.n, 1);
	ck_assert(ids.dir && !ids.toolstack);
	xs_idents_free(&ids);
	/* a domain cannot rename itself, and one that names itself in a home
	 * of its own (no toolstack made it) is not believed */
	ck_assert_int_eq(xsp_store_write(st2, XSP_TXN_NONE, "/local/domain/2/name", "x", 1),
			 -EACCES);
	{
		struct xs_ctx *c3 = ctx_as("3");
		struct xsp_store *st3;

		ck_assert_int_eq(xsp_store_open(c3->plat, &st3), 0);
		put(st3, "/local/domain/3/name", "one");
		put(st3, "/local/domain/3/vm", "/vm/" U1);
		ck_assert_int_eq(xs_ident_of(st0, 0, 3, &id), -ENOENT);
		xsp_store_close(st3);
		xs_ctx_close(c3);
	}
	xsp_store_close(st0);
	xsp_store_close(st1);
	xsp_store_close(st2);
	xs_ctx_close(c0);
	xs_ctx_close(c1);
	xs_ctx_close(c2);
	tu_rm_rf(dir);
}
END_TEST

/*
 * Domain 0 listens, with domain 1 registered by id and bound to its UUID.
 * Domain 1 is replaced under the same id (the toolstack's nodes rewritten:
 * nothing tells the listener): its next request is refused.
 */
START_TEST(test_listener_checks_identity)
{
	const char *dir = tu_fresh_local_dir();
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(7000) };
	struct xsp_perm rp[2] = { { 1, XSP_PERM_NONE }, { 0, XSP_PERM_READ } };
	struct xs_ctx *s = ctx_as("0"), *c = ctx_as("1");
	struct xs_peer in = peer("10.0.0.1", 1, NULL, U1);
	struct xsp_store *st0, *st1;
	struct xs_listener *l;
	char *val;

	ck_assert_int_eq(xsp_store_open(s->plat, &st0), 0);
	ck_assert_int_eq(xsp_store_open(c->plat, &st1), 0);
	toolstack(st0, 1, "one", U1);
	ck_assert_int_eq(xs_registry_add_all(st0, 0, &in, 1), 0);
	ck_assert_int_eq(xs_listener_open(s, (struct sockaddr *)&any, sizeof(any), 7000, &l), 0);
	put(st1, BASE(1) "/req/0", "");
	ck_assert_int_eq(xsp_store_set_perms(st1, XSP_TXN_NONE, BASE(1) "/req/0", rp, 2), 0);
	/* the registered domain: acknowledged */
	put(st1, BASE(1) "/req/0/00a1", "port=7000 sport=40000 daddr=10.0.0.0 evtchn=9");
	val = process_until(l, st1, BASE(0) "/conn/1/00a1", "state=");
	ck_assert_ptr_nonnull(val);
	ck_assert_msg(strncmp(val, "state=wait ", 11) == 0, "answer '%s'", val);
	free(val);
	ck_assert_int_eq(xsp_store_rm(st1, XSP_TXN_NONE, BASE(1) "/req/0/00a1"), 0);
	ck_assert_ptr_null(process_until(l, st1, BASE(0) "/conn/1/00a1", NULL));
	/* another domain gets id 1: its request is refused */
	toolstack(st0, 1, "intruder", U2);
	put(st1, BASE(1) "/req/0/00a2", "port=7000 sport=40001 daddr=10.0.0.0 evtchn=9");
	val = process_until(l, st1, BASE(0) "/conn/1/00a2", "state=");
	ck_assert_ptr_nonnull(val);
	ck_assert_str_eq(val, "state=refused err=111");
	free(val);
	/* ... and the listener no longer advertises to it */
	xs_listener_process(l);
	ck_assert_int_eq(xsp_store_read(st0, XSP_TXN_NONE, BASE(0) "/listen/7000-1", &val, NULL),
			 -ENOENT);
	ck_assert_int_eq(xsp_store_rm(st1, XSP_TXN_NONE, BASE(1) "/req/0/00a2"), 0);
	ck_assert_ptr_null(process_until(l, st1, BASE(0) "/conn/1/00a2", NULL));
	ck_assert_int_eq(count_subnodes(dir, BASE(0) "/conn/1"), 0);
	xs_listener_close(l);
	xsp_store_close(st0);
	xsp_store_close(st1);
	xs_ctx_close(c);
	xs_ctx_close(s);
	tu_rm_rf(dir);
}
END_TEST

static Suite *identity_suite(void)
{
	Suite *s = suite_create("identity");
	TCase *tg = tcase_create("grammar");
	TCase *ts = tcase_create("store");

	tcase_add_test(tg, test_name_grammar);
	tcase_add_test(tg, test_dir_value);
	tcase_add_test(tg, test_resolve);
	suite_add_tcase(s, tg);
	tcase_set_timeout(ts, 20);
	tcase_add_test(ts, test_registry_words);
	tcase_add_test(ts, test_sources);
	tcase_add_test(ts, test_listener_checks_identity);
	suite_add_tcase(s, ts);
	return s;
}

int main(void)
{
	return tu_run(identity_suite());
}
