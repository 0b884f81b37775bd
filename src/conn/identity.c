/* SPDX-License-Identifier: MIT */
/*
 * Domain identities and the registry's resolution (see identity.h).
 *
 * Sources, per domain <d>, as seen from domain <self>:
 *   /local/domain/<d>/name        "<name>"          (the toolstack's)
 *   /local/domain/<d>/vm          "/vm/<uuid>"      (the toolstack's)
 *   B(self)/dir/<d>               "name=<n> uuid=<u>[ addr=<a>,...]"
 *                                                   (domain 0's directory)
 * Every node used must belong to domain 0 (entry 0 of its permissions): a
 * domain may own nodes in its own home, and could otherwise name itself,
 * or write itself a directory. The toolstack's nodes win over the
 * directory for a domain both know.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "conn/identity.h"
#include "conn/negotiate.h"
#include "conn/registry.h"

#define PATH_MAX_LEN 128

bool xs_ident_name_ok(const char *s, size_t n)
{
	bool digits = true;
	size_t i;

	if (!s || n == 0 || n > XSOCK_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
		if (c < '0' || c > '9')
			digits = false;
	}
	return !digits;
}

bool xs_ident_uuid_ok(const char *s, size_t n)
{
	size_t i;

	if (!s || n != XSOCK_UUID_LEN)
		return false;
	for (i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' :
			   !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/* -EPROTO, with @msg (and @arg, a part of the value, if any) in @why. */
static int bad(char *why, size_t whylen, const char *msg, const char *arg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s%s%.64s%s", msg, arg ? " '" : "", arg ? arg : "",
			 arg ? "'" : "");
	return -EPROTO;
}

int xs_dir_parse(const char *val, size_t len, struct xs_ident *out, char *why, size_t whylen)
{
	/* addr=: up to 8 prefixes of at most XS_PREFIX_STRLEN, and commas */
	char addrs[XSOCK_DIR_ADDRS_MAX * XS_PREFIX_STRLEN], *p, *comma;
	struct xs_ident id;
	int rc;

	memset(&id, 0, sizeof(id));
	if (!val || xs_neg_check(val, len) < 0)
		return bad(why, whylen, "not words of printable ASCII (or too long)", NULL);
	rc = xs_kv_get(val, len, XSOCK_KEY_NAME, id.name, sizeof(id.name));
	if (rc == -ENOENT)
		return bad(why, whylen, "no name=", NULL);
	if (rc < 0 || !xs_ident_name_ok(id.name, strlen(id.name)))
		return bad(why, whylen, "bad name= (1..64 of A-Z a-z 0-9 . _ -, not all digits)", NULL);
	rc = xs_kv_get(val, len, XSOCK_KEY_UUID, id.uuid, sizeof(id.uuid));
	if (rc == -ENOENT)
		return bad(why, whylen, "no uuid=", NULL);
	if (rc < 0 || !xs_ident_uuid_ok(id.uuid, strlen(id.uuid)))
		return bad(why, whylen, "bad uuid= (8-4-4-4-12 lowercase hex digits)", NULL);
	rc = xs_kv_get(val, len, XSOCK_KEY_ADDR, addrs, sizeof(addrs));
	if (rc == -EPROTO)
		return bad(why, whylen, "bad addr= (empty, repeated or too long)", NULL);
	if (rc == 0) {
		for (p = addrs; p; p = comma ? comma + 1 : NULL) {
			comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			if (id.naddrs == XSOCK_DIR_ADDRS_MAX)
				return bad(why, whylen, "more than 8 addresses in addr=", NULL);
			if (xs_prefix_parse(p, &id.addrs[id.naddrs]) < 0)
				return bad(why, whylen, "bad address in addr=:", p);
			id.naddrs++;
		}
	}
	id.dom = out->dom;
	*out = id;
	return 0;
}

int xs_dir_format(const struct xs_ident *id, char *buf, size_t len)
{
	char text[XS_PREFIX_STRLEN];
	unsigned int i;
	int n;

	n = snprintf(buf, len, XSOCK_DIR_FMT, id->name, id->uuid);
	for (i = 0; n >= 0 && (size_t)n < len && i < id->naddrs; i++) {
		if (xs_prefix_format(&id->addrs[i], text, sizeof(text)) < 0)
			return -EINVAL;
		n += snprintf(buf + n, len - (size_t)n, "%s%s", i ? "," : " " XSOCK_KEY_ADDR "=",
			      text);
	}
	if (n < 0 || (size_t)n >= len || (size_t)n > XSOCK_VALUE_MAX)
		return -ENOSPC;
	return 0;
}

/* Does @path belong to domain 0? */
static bool owned_by_dom0(struct xsp_store *st, const char *path)
{
	struct xsp_perm *perms = NULL;
	unsigned int n = 0;
	bool ok;

	if (xsp_store_get_perms(st, XSP_TXN_NONE, path, &perms, &n) < 0)
		return false;
	ok = n > 0 && perms[0].dom == 0;
	free(perms);
	return ok;
}

/* Read a small node that domain 0 owns. -EPERM: another owner. */
static int read_dom0(struct xsp_store *st, const char *path, char **val, size_t *len)
{
	int rc = xsp_store_read(st, XSP_TXN_NONE, path, val, len);

	if (rc < 0)
		return rc;
	if (!owned_by_dom0(st, path)) {
		free(*val);
		*val = NULL;
		return -EPERM;
	}
	return 0;
}

/* From the toolstack's nodes. -ENOENT/-EACCES/-EPERM/-EPROTO: not known so. */
static int ident_toolstack(struct xsp_store *st, xsp_domid_t dom, struct xs_ident *out)
{
	char path[PATH_MAX_LEN], *val = NULL;
	struct xs_ident id;
	size_t len = 0;
	int rc;

	memset(&id, 0, sizeof(id));
	id.dom = dom;
	snprintf(path, sizeof(path), XSOCK_XS_NAME_FMT, (unsigned int)dom);
	rc = read_dom0(st, path, &val, &len);
	if (rc < 0)
		return rc;
	if (!xs_ident_name_ok(val, len) || strlen(val) != len) {
		free(val);
		return -EPROTO;
	}
	memcpy(id.name, val, len + 1);
	free(val);
	snprintf(path, sizeof(path), XSOCK_XS_VM_FMT, (unsigned int)dom);
	rc = read_dom0(st, path, &val, &len);
	if (rc < 0)
		return rc;
	if (len != strlen(XSOCK_XS_VM_PREFIX) + XSOCK_UUID_LEN ||
	    strncmp(val, XSOCK_XS_VM_PREFIX, strlen(XSOCK_XS_VM_PREFIX)) != 0 ||
	    !xs_ident_uuid_ok(val + strlen(XSOCK_XS_VM_PREFIX), XSOCK_UUID_LEN)) {
		free(val);
		return -EPROTO;
	}
	memcpy(id.uuid, val + strlen(XSOCK_XS_VM_PREFIX), XSOCK_UUID_LEN + 1);
	free(val);
	*out = id;
	return 0;
}

/* From B(self)/dir/<dom>. */
static int ident_dir(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom,
		     struct xs_ident *out)
{
	char path[PATH_MAX_LEN], why[128], *val = NULL;
	size_t len = 0;
	int rc;

	snprintf(path, sizeof(path), XSOCK_DIR_PATH_FMT, (unsigned int)self, (unsigned int)dom);
	rc = read_dom0(st, path, &val, &len);
	if (rc == -EPERM)
		xs_log(XS_LOG_WARN, "%s: not written by domain 0, ignored", path);
	if (rc < 0)
		return rc;
	out->dom = dom;
	rc = xs_dir_parse(val, len, out, why, sizeof(why));
	if (rc < 0)
		xs_log(XS_LOG_WARN, "%s: ignored: %s", path, why);
	free(val);
	return rc;
}

int xs_ident_of(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom,
		struct xs_ident *out)
{
	if (ident_toolstack(st, dom, out) == 0)
		return 0;
	return ident_dir(st, self, dom, out) == 0 ? 0 : -ENOENT;
}

static int idents_add(struct xs_idents *ids, const struct xs_ident *id, unsigned int *cap)
{
	if (ids->n == *cap) {
		unsigned int c = *cap ? *cap * 2 : 16;
		struct xs_ident *v = realloc(ids->v, c * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ids->v = v;
		*cap = c;
	}
	ids->v[ids->n++] = *id;
	return 0;
}

int xs_idents_read(struct xsp_store *st, xsp_domid_t self, struct xs_idents *out)
{
	return xs_idents_read_some(st, self, NULL, 0, out);
}

int xs_idents_read_some(struct xsp_store *st, xsp_domid_t self, const xsp_domid_t *doms,
			unsigned int ndoms, struct xs_idents *out)
{
	char path[PATH_MAX_LEN], **names = NULL;
	unsigned int nnames = 0, i, cap = 0;
	struct xs_ident id;
	xsp_domid_t dom;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	/* Only some domains: their toolstack nodes, where we may read them. */
	for (i = 0; doms && rc == 0 && i < ndoms; i++) {
		if (doms[i] == self || xs_idents_by_dom(out, doms[i]) ||
		    ident_toolstack(st, doms[i], &id) < 0)
			continue;
		rc = idents_add(out, &id, &cap);
		out->toolstack = true;
	}
	/* All of them, where we may read them (domain 0). */
	if (!doms && xsp_store_list(st, XSP_TXN_NONE, XSOCK_XS_DOMAIN_DIR, &names, &nnames) == 0) {
		for (i = 0; rc == 0 && i < nnames; i++) {
			if (xs_registry_parse_domid(names[i], strlen(names[i]), &dom) < 0 ||
			    dom == self || ident_toolstack(st, dom, &id) < 0)
				continue;
			rc = idents_add(out, &id, &cap);
			out->toolstack = true;
		}
		free(names);
		names = NULL;
	}
	/* Domain 0's directory, for the domains not known so. */
	snprintf(path, sizeof(path), XSOCK_DIR_DIR_FMT, (unsigned int)self);
	if (rc == 0 && xsp_store_list(st, XSP_TXN_NONE, path, &names, &nnames) == 0) {
		out->dir = true;
		for (i = 0; rc == 0 && i < nnames; i++) {
			if (xs_registry_parse_domid(names[i], strlen(names[i]), &dom) < 0 ||
			    dom == self || xs_idents_by_dom(out, dom) ||
			    ident_dir(st, self, dom, &id) < 0)
				continue;
			rc = idents_add(out, &id, &cap);
		}
		free(names);
	}
	if (rc < 0)
		xs_idents_free(out);
	return rc;
}

void xs_idents_free(struct xs_idents *ids)
{
	free(ids->v);
	memset(ids, 0, sizeof(*ids));
}

const struct xs_ident *xs_idents_by_dom(const struct xs_idents *ids, xsp_domid_t dom)
{
	unsigned int i;

	for (i = 0; i < ids->n; i++)
		if (ids->v[i].dom == dom)
			return &ids->v[i];
	return NULL;
}

int xs_idents_by_name(const struct xs_idents *ids, const char *name,
		      const struct xs_ident **out)
{
	const struct xs_ident *found = NULL;
	unsigned int i;

	for (i = 0; i < ids->n; i++) {
		if (strcmp(ids->v[i].name, name) != 0)
			continue;
		if (found)
			return -EEXIST;
		found = &ids->v[i];
	}
	if (!found)
		return -ENOENT;
	*out = found;
	return 0;
}

static bool same_prefix(const struct xs_prefix *a, const struct xs_prefix *b)
{
	return a->family == b->family && a->plen == b->plen &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* One entry of the registry, against what is known now. */
static void resolve_one(const struct xs_idents *ids, xsp_domid_t self, struct xs_peer *p)
{
	const struct xs_ident *id;
	int rc;

	p->state = XS_PEER_UP;
	if (p->name[0]) {
		/* The name decides; a uuid bound with it must agree too. */
		rc = xs_idents_by_name(ids, p->name, &id);
		if (rc == -EEXIST) {
			p->state = XS_PEER_AMBIGUOUS;
			return;
		}
		if (rc < 0) {
			p->state = XS_PEER_NONAME;
			return;
		}
		p->dom = id->dom;
		if (id->dom == self)
			p->state = XS_PEER_NONAME;
		else if (p->uuid[0] && strcmp(p->uuid, id->uuid) != 0)
			p->state = XS_PEER_MISMATCH;
		return;
	}
	if (p->uuid[0]) {
		id = xs_idents_by_dom(ids, p->dom);
		if (!id)
			p->state = XS_PEER_UNKNOWN;
		else if (strcmp(p->uuid, id->uuid) != 0)
			p->state = XS_PEER_MISMATCH;
	}
}

int xs_registry_resolve(const struct xs_idents *ids, xsp_domid_t self,
			struct xs_peer **peers, unsigned int *n)
{
	unsigned int i, j, k, extra = 0, own = *n;
	struct xs_peer *v;

	for (i = 0; i < own; i++)
		resolve_one(ids, self, &(*peers)[i]);
	for (i = 0; i < ids->n; i++)
		extra += ids->v[i].naddrs;
	if (extra == 0)
		return 0;
	v = realloc(*peers, (own + extra) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	*peers = v;
	for (i = 0; i < ids->n; i++) {
		const struct xs_ident *id = &ids->v[i];

		for (j = 0; j < id->naddrs; j++) {
			bool dup = false;

			/* This domain's own entry for the prefix wins; so does the first. */
			for (k = 0; k < *n && !dup; k++)
				dup = same_prefix(&v[k].prefix, &id->addrs[j]);
			if (dup)
				continue;
			memset(&v[*n], 0, sizeof(v[*n]));
			v[*n].prefix = id->addrs[j];
			v[*n].dom = id->dom;
			snprintf(v[*n].name, sizeof(v[*n].name), "%s", id->name);
			snprintf(v[*n].uuid, sizeof(v[*n].uuid), "%s", id->uuid);
			v[*n].state = XS_PEER_UP;
			v[*n].origin = XS_PEER_DIR;
			(*n)++;
		}
	}
	return 0;
}
