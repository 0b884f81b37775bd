/* SPDX-License-Identifier: MIT */
/*
 * xsockctl domain: what Xen's toolstack (xl) does to the store when it
 * creates and destroys a domain, for the local backend, where nothing
 * else would (a container runtime's start and stop hooks, the tests).
 *
 *   domain create NAME [--domid N] [--uuid UUID]    (as domain 0)
 *       /local/domain/N            ""        perms n0 rN
 *       /local/domain/N/name       NAME
 *       /local/domain/N/domid      N
 *       /local/domain/N/vm         /vm/UUID
 *       /vm/UUID                   ""        perms n0
 *       /vm/UUID/name              NAME
 *     N: the lowest free id from 1 unless given; UUID random unless given.
 *     Prints N.
 *   domain destroy NAME|N                           (as domain 0)
 *       removes /local/domain/N and /vm/UUID, as the toolstack does once
 *       Xen has released a dead domain: watches on nodes below them fire.
 *       It kills nothing: the caller stops the domain's processes.
 *   domain list
 *       "N NAME UUID" per named domain, by id; "-" for what is missing.
 *
 * On Xen, create and destroy refuse (xl does that); list reads the
 * toolstack's nodes, which only dom0 may read for every domain.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <xsock/store.h>

#include "cli/domain.h"
#include "cli/peerfile.h"
#include "conn/identity.h"
#include "conn/registry.h"
#include "platform/platform.h"

#define EXIT_USAGE 2
#define NAME_MAX_LEN XSOCK_NAME_MAX
#define UUID_LEN XSOCK_UUID_LEN
#define PATH_LEN 128
#define TXN_RETRIES 16

struct dom_info {
	xsp_domid_t id;
	char name[NAME_MAX_LEN + 1];
	char uuid[UUID_LEN + 1];
};

static int usage(const char *what, const char *arg)
{
	char shown[80];

	if (arg)
		fprintf(stderr, "xsockctl: domain: %s '%s'\n", what,
			xs_cli_printable(arg, shown, sizeof(shown)));
	else
		fprintf(stderr, "xsockctl: domain: %s\n", what);
	return EXIT_USAGE;
}

static int failure(const char *what, int err)
{
	fprintf(stderr, "xsockctl: domain: %s: %s\n", what, strerror(err));
	return EXIT_FAILURE;
}

/* The names and UUIDs the store protocol allows (include/xsock/store.h). */
static bool name_ok(const char *s)
{
	return xs_ident_name_ok(s, strlen(s));
}

static bool uuid_ok(const char *s)
{
	return xs_ident_uuid_ok(s, strlen(s));
}

static int uuid_random(char *out)
{
	unsigned char b[16];
	size_t i, o = 0;

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (b[6] & 0x0f) | 0x40;	/* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		o += (size_t)sprintf(out + o, "%02x", b[i]);
	}
	out[o] = '\0';
	return 0;
}

/* Read @path into @buf (at most @len - 1 bytes); -ENOENT, -EINVAL too long. */
static int read_small(struct xsp_store *st, xsp_txn_t t, const char *path, char *buf, size_t len)
{
	char *val = NULL;
	size_t n = 0;
	int rc;

	rc = xsp_store_read(st, t, path, &val, &n);
	if (rc < 0)
		return rc;
	if (n >= len) {
		free(val);
		return -EINVAL;
	}
	memcpy(buf, val, n + 1);
	free(val);
	return 0;
}

/* What the toolstack's nodes say of domain @id ("-" where missing or malformed). */
static void dom_read(struct xsp_store *st, xsp_txn_t t, xsp_domid_t id, struct dom_info *d)
{
	char path[PATH_LEN], vm[PATH_LEN];

	d->id = id;
	snprintf(path, sizeof(path), "/local/domain/%u/name", (unsigned int)id);
	if (read_small(st, t, path, d->name, sizeof(d->name)) < 0 || !name_ok(d->name))
		strcpy(d->name, "-");
	snprintf(path, sizeof(path), "/local/domain/%u/vm", (unsigned int)id);
	if (read_small(st, t, path, vm, sizeof(vm)) < 0 || strncmp(vm, "/vm/", 4) != 0 ||
	    !uuid_ok(vm + 4))
		strcpy(d->uuid, "-");
	else
		strcpy(d->uuid, vm + 4);
}

/* Every domain with a home in the store, by id. *out malloc()ed. */
static int dom_all(struct xsp_store *st, xsp_txn_t t, struct dom_info **out, unsigned int *n)
{
	char **names = NULL;
	unsigned int cnt = 0, i, k = 0;
	struct dom_info *d;
	int rc;

	rc = xsp_store_list(st, t, "/local/domain", &names, &cnt);
	if (rc == -ENOENT)
		cnt = 0;
	else if (rc < 0)
		return rc;
	d = calloc(cnt ? cnt : 1, sizeof(*d));
	if (!d) {
		free(names);
		return -ENOMEM;
	}
	for (i = 0; i < cnt; i++) {
		xsp_domid_t id;

		if (xs_registry_parse_domid(names[i], strlen(names[i]), &id) < 0 &&
		    strcmp(names[i], "0") != 0)
			continue;
		if (strcmp(names[i], "0") == 0)
			id = 0;
		dom_read(st, t, id, &d[k++]);
	}
	free(names);
	/* insertion sort by id: a handful of domains */
	for (i = 1; i < k; i++) {
		struct dom_info x = d[i];
		unsigned int j = i;

		while (j > 0 && d[j - 1].id > x.id) {
			d[j] = d[j - 1];
			j--;
		}
		d[j] = x;
	}
	*out = d;
	*n = k;
	return 0;
}

/* Find a domain by name or decimal id among @d. */
static const struct dom_info *dom_find(const struct dom_info *d, unsigned int n, const char *key)
{
	xsp_domid_t id;
	bool by_id = strcmp(key, "0") == 0 ||
		     xs_registry_parse_domid(key, strlen(key), &id) == 0;
	unsigned int i;

	if (strcmp(key, "0") == 0)
		id = 0;
	for (i = 0; i < n; i++)
		if (by_id ? d[i].id == id : strcmp(d[i].name, key) == 0)
			return &d[i];
	return NULL;
}

static int open_store(struct xsp **p, struct xsp_store **st, bool toolstack)
{
	int rc;

	rc = xsp_open(p);
	if (rc < 0)
		return failure("cannot open the platform backend (check XSOCK_BACKEND, XSOCK_DOMID, "
			       "XSOCK_LOCAL_DIR)", -rc);
	if (toolstack && strcmp(xsp_backend_name(*p), "local") != 0) {
		xsp_close(*p);
		fprintf(stderr, "xsockctl: domain: on Xen the toolstack (xl) creates and "
			"destroys domains\n");
		return EXIT_FAILURE;
	}
	if (toolstack && xsp_self_domid(*p) != 0) {
		xsp_close(*p);
		fprintf(stderr, "xsockctl: domain: only domain 0 may create or destroy "
			"domains (XSOCK_DOMID=0)\n");
		return EXIT_FAILURE;
	}
	rc = xsp_store_open(*p, st);
	if (rc < 0) {
		xsp_close(*p);
		return failure("cannot open the store", -rc);
	}
	return 0;
}

/* One attempt at creating domain @id, inside transaction @t. */
static int create_in(struct xsp_store *st, xsp_txn_t t, const char *name, xsp_domid_t id,
		     bool id_given, const char *uuid, xsp_domid_t *made)
{
	struct dom_info *all = NULL;
	unsigned int n = 0, i;
	char path[PATH_LEN], val[PATH_LEN];
	struct xsp_perm home[2] = { { 0, XSP_PERM_NONE }, { 0, XSP_PERM_READ } };
	const struct xsp_perm vmp = { 0, XSP_PERM_NONE };
	int rc;

	rc = dom_all(st, t, &all, &n);
	if (rc < 0)
		return rc;
	rc = -EEXIST;
	if (dom_find(all, n, name))
		goto free_all;
	for (i = 0; i < n; i++)
		if (strcmp(all[i].uuid, uuid) == 0)
			goto free_all;
	if (id_given) {
		for (i = 0; i < n; i++)
			if (all[i].id == id)
				goto free_all;
	} else {
		for (id = 1; id < XSP_DOMID_SELF; id++) {
			for (i = 0; i < n && all[i].id != id; i++)
				;
			if (i == n)
				break;
		}
		rc = -ENOSPC;
		if (id >= XSP_DOMID_SELF)
			goto free_all;
	}
	home[1].dom = id;
#define W(p, v)                                                                       \
	do {                                                                          \
		rc = xsp_store_write(st, t, (p), (v), strlen(v));                     \
		if (rc < 0)                                                           \
			goto free_all;                                                \
	} while (0)
	snprintf(path, sizeof(path), "/local/domain/%u", (unsigned int)id);
	W(path, "");
	rc = xsp_store_set_perms(st, t, path, home, 2);
	if (rc < 0)
		goto free_all;
	snprintf(path, sizeof(path), "/local/domain/%u/name", (unsigned int)id);
	W(path, name);
	snprintf(path, sizeof(path), "/local/domain/%u/domid", (unsigned int)id);
	snprintf(val, sizeof(val), "%u", (unsigned int)id);
	W(path, val);
	snprintf(path, sizeof(path), "/local/domain/%u/vm", (unsigned int)id);
	snprintf(val, sizeof(val), "/vm/%s", uuid);
	W(path, val);
	W(val, "");
	rc = xsp_store_set_perms(st, t, val, &vmp, 1);
	if (rc < 0)
		goto free_all;
	snprintf(path, sizeof(path), "/vm/%s/name", uuid);
	W(path, name);
#undef W
	*made = id;
free_all:
	free(all);
	return rc;
}

static int do_create(char **argv, int argc)
{
	const char *name = NULL, *uuid_arg = NULL;
	char uuid[UUID_LEN + 1];
	xsp_domid_t id = 0, made = 0;
	bool id_given = false;
	struct xsp_store *st;
	struct xsp *p;
	unsigned int attempt;
	xsp_txn_t t;
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--domid") == 0) {
			if (++i == argc)
				return usage("--domid needs a domain id", NULL);
			if (xs_registry_parse_domid(argv[i], strlen(argv[i]), &id) < 0 || id == 0)
				return usage("invalid domain id (1..32751)", argv[i]);
			id_given = true;
		} else if (strcmp(argv[i], "--uuid") == 0) {
			if (++i == argc)
				return usage("--uuid needs a UUID", NULL);
			if (!uuid_ok(argv[i]))
				return usage("invalid UUID (8-4-4-4-12 lowercase hex digits)", argv[i]);
			uuid_arg = argv[i];
		} else if (argv[i][0] == '-') {
			return usage("unknown option", argv[i]);
		} else if (name) {
			return usage("unexpected argument", argv[i]);
		} else {
			if (!name_ok(argv[i]))
				return usage("invalid domain name (1-64 of A-Z a-z 0-9 . _ -, "
					     "not all digits)", argv[i]);
			name = argv[i];
		}
	}
	if (!name)
		return usage("create needs a NAME", NULL);
	if (uuid_arg)
		strcpy(uuid, uuid_arg);
	else if (uuid_random(uuid) < 0)
		return failure("cannot make a UUID", EIO);

	rc = open_store(&p, &st, true);
	if (rc)
		return rc;
	for (attempt = 0; attempt < TXN_RETRIES; attempt++) {
		rc = xsp_txn_start(st, &t);
		if (rc < 0)
			break;
		rc = create_in(st, t, name, id, id_given, uuid, &made);
		if (rc < 0) {
			xsp_txn_end(st, t, true);
			break;
		}
		rc = xsp_txn_end(st, t, false);
		if (rc != -EAGAIN)
			break;
	}
	if (rc == 0)	/* as xenstored when the toolstack introduces it */
		xsp_store_fire_special(st, "@introduceDomain");
	xsp_store_close(st);
	xsp_close(p);
	if (rc == -EEXIST)
		return failure(id_given ? "a domain with that name, id or UUID exists"
					: "a domain with that name or UUID exists", EEXIST);
	if (rc < 0)
		return failure("cannot create the domain", -rc);
	printf("%u\n", (unsigned int)made);
	return EXIT_SUCCESS;
}

static int do_destroy(char **argv, int argc)
{
	struct dom_info *all = NULL;
	const struct dom_info *d;
	char path[PATH_LEN];
	struct xsp_store *st;
	struct xsp *p;
	unsigned int n = 0;
	int rc;

	if (argc != 1)
		return usage(argc ? "destroy takes one NAME or id" : "destroy needs a NAME or id",
			     NULL);
	if (strcmp(argv[0], "0") == 0)
		return usage("domain 0 cannot be destroyed", NULL);
	rc = open_store(&p, &st, true);
	if (rc)
		return rc;
	rc = dom_all(st, XSP_TXN_NONE, &all, &n);
	d = rc == 0 ? dom_find(all, n, argv[0]) : NULL;
	if (rc == 0 && !d)
		rc = -ENOENT;
	if (rc == 0) {
		snprintf(path, sizeof(path), "/local/domain/%u", (unsigned int)d->id);
		rc = xsp_store_rm(st, XSP_TXN_NONE, path);
		if (rc == 0 && strcmp(d->uuid, "-") != 0) {
			snprintf(path, sizeof(path), "/vm/%s", d->uuid);
			if (xsp_store_rm(st, XSP_TXN_NONE, path) == -ENOENT)
				rc = 0;
		}
	}
	free(all);
	if (rc == 0)	/* as xenstored once Xen has released the domain */
		xsp_store_fire_special(st, "@releaseDomain");
	xsp_store_close(st);
	xsp_close(p);
	if (rc == -ENOENT)
		return failure("no such domain", ENOENT);
	if (rc < 0)
		return failure("cannot destroy the domain", -rc);
	return EXIT_SUCCESS;
}

static int do_list(char **argv, int argc)
{
	struct dom_info *all = NULL;
	struct xsp_store *st;
	struct xsp *p;
	unsigned int n = 0, i;
	int rc;

	if (argc)
		return usage("unexpected argument", argv[0]);
	rc = open_store(&p, &st, false);
	if (rc)
		return rc;
	rc = dom_all(st, XSP_TXN_NONE, &all, &n);
	xsp_store_close(st);
	xsp_close(p);
	if (rc < 0)
		return failure("cannot list the domains", -rc);
	for (i = 0; i < n; i++)
		if (strcmp(all[i].name, "-") != 0 || strcmp(all[i].uuid, "-") != 0)
			printf("%u %s %s\n", (unsigned int)all[i].id, all[i].name, all[i].uuid);
	free(all);
	return EXIT_SUCCESS;
}

int cmd_domain(char **argv, int argc)
{
	if (argc < 1)
		return usage("missing subcommand (create, destroy, list)", NULL);
	if (strcmp(argv[0], "create") == 0)
		return do_create(argv + 1, argc - 1);
	if (strcmp(argv[0], "destroy") == 0)
		return do_destroy(argv + 1, argc - 1);
	if (strcmp(argv[0], "list") == 0)
		return do_list(argv + 1, argc - 1);
	return usage("unknown subcommand", argv[0]);
}
