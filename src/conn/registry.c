/* SPDX-License-Identifier: MIT */
/*
 * The peer registry (see registry.h for the contract).
 *
 * Store layout, per domain <self>:
 *     /local/domain/<self>/data/xsock/peers             perms "n<self>"
 *     /local/domain/<self>/data/xsock/peers/<key>       "<domid> <prefix>"
 * <key> is xs_prefix_to_key(prefix), <prefix> is xs_prefix_format(prefix),
 * <domid> is decimal without sign or leading zeros.
 *
 * Reading is defensive: the store is writable by the domain itself and by
 * domain 0, and an entry that does not decode exactly (key, domid, prefix
 * text and key agreeing) is skipped and logged, never trusted in part.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xsock/store.h>

#include "common/log.h"
#include "conn/identity.h"
#include "conn/negotiate.h"
#include "conn/registry.h"

#define PEERS_PATH_MAX 64
#define ENTRY_PATH_MAX (PEERS_PATH_MAX + XS_PREFIX_KEYLEN)
/* "<domid> <prefix>[ name=<name>][ uuid=<uuid>]" */
#define ENTRY_VALUE_MAX ((int)(8 + XS_PREFIX_STRLEN + 8 + XSOCK_NAME_MAX + 8 + XSOCK_UUID_LEN))
/* How often a conflicting transaction is retried before giving up. */
#define TXN_RETRIES 16

static void peers_path(xsp_domid_t self, char *buf)
{
	snprintf(buf, PEERS_PATH_MAX, XSOCK_PEERS_FMT, (unsigned int)self);
}

static int entry_path(xsp_domid_t self, const struct xs_prefix *pfx, char *buf)
{
	char key[XS_PREFIX_KEYLEN];
	int rc;

	rc = xs_prefix_to_key(pfx, key, sizeof(key));
	if (rc < 0)
		return rc;
	snprintf(buf, ENTRY_PATH_MAX, XSOCK_PEERS_FMT "/%s", (unsigned int)self, key);
	return 0;
}

/* Create the peers directory, private to @self, unless it exists. */
static int ensure_peers_dir(struct xsp_store *st, xsp_txn_t t, xsp_domid_t self)
{
	const struct xsp_perm perm = { .dom = self, .perm = XSP_PERM_NONE };
	char path[PEERS_PATH_MAX];
	char *val = NULL;
	int rc;

	peers_path(self, path);
	rc = xsp_store_read(st, t, path, &val, NULL);
	free(val);
	if (rc != -ENOENT)
		return rc;
	rc = xsp_store_write(st, t, path, "", 0);
	if (rc < 0)
		return rc;
	return xsp_store_set_perms(st, t, path, &perm, 1);
}

/* The store path and value of one entry; -EINVAL if @dom is not usable. */
static int entry_encode(xsp_domid_t self, const struct xs_peer *peer, char *path,
			char *val, size_t *vlen)
{
	char text[XS_PREFIX_STRLEN];
	int rc, n;

	/* A named entry's domid is only its last resolution: it may be ours. */
	if (peer->dom >= XSP_DOMID_SELF || (!peer->name[0] && peer->dom == self))
		return -EINVAL;
	if ((peer->name[0] && !xs_ident_name_ok(peer->name, strlen(peer->name))) ||
	    (peer->uuid[0] && !xs_ident_uuid_ok(peer->uuid, strlen(peer->uuid))))
		return -EINVAL;
	rc = entry_path(self, &peer->prefix, path);
	if (rc < 0)
		return rc;
	rc = xs_prefix_format(&peer->prefix, text, sizeof(text));
	if (rc < 0)
		return rc;
	n = snprintf(val, ENTRY_VALUE_MAX, XSOCK_PEER_FMT, (unsigned int)peer->dom, text);
	if (n > 0 && n < ENTRY_VALUE_MAX && peer->name[0])
		n += snprintf(val + n, ENTRY_VALUE_MAX - (size_t)n, XSOCK_PEER_NAME_FMT, peer->name);
	if (n > 0 && n < ENTRY_VALUE_MAX && peer->uuid[0])
		n += snprintf(val + n, ENTRY_VALUE_MAX - (size_t)n, XSOCK_PEER_UUID_FMT, peer->uuid);
	if (n < 0 || n >= ENTRY_VALUE_MAX)
		return -EINVAL;
	*vlen = (size_t)n;
	return 0;
}

const char *xs_peer_state_text(unsigned int state)
{
	switch (state) {
	case XS_PEER_UP:
		return "up";
	case XS_PEER_NONAME:
		return "down: no domain has that name";
	case XS_PEER_AMBIGUOUS:
		return "down: several domains have that name";
	case XS_PEER_MISMATCH:
		return "down: another domain holds that id";
	case XS_PEER_UNKNOWN:
		return "down: that domain is not known";
	default:
		return "down";
	}
}

int xs_registry_add_all(struct xsp_store *st, xsp_domid_t self,
			const struct xs_peer *peers, unsigned int n)
{
	char path[ENTRY_PATH_MAX], val[ENTRY_VALUE_MAX], text[XS_PREFIX_STRLEN];
	unsigned int attempt, i;
	size_t vlen;
	xsp_txn_t t;
	int rc;

	if (!st || (!peers && n))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		rc = entry_encode(self, &peers[i], path, val, &vlen);
		if (rc < 0)
			return rc;
	}
	if (n == 0)
		return 0;

	/* Directory, its permissions and the entries appear together or not at all. */
	for (attempt = 0; attempt < TXN_RETRIES; attempt++) {
		rc = xsp_txn_start(st, &t);
		if (rc < 0)
			return rc;
		rc = ensure_peers_dir(st, t, self);
		for (i = 0; rc == 0 && i < n; i++) {
			rc = entry_encode(self, &peers[i], path, val, &vlen);
			if (rc == 0)
				rc = xsp_store_write(st, t, path, val, vlen);
		}
		if (rc < 0) {
			xsp_txn_end(st, t, true);
			if (rc == -EAGAIN)
				continue;
			return rc;
		}
		rc = xsp_txn_end(st, t, false);
		if (rc != -EAGAIN)
			break;
	}
	for (i = 0; rc == 0 && i < n; i++)
		if (xs_prefix_format(&peers[i].prefix, text, sizeof(text)) == 0)
			xs_log(XS_LOG_INFO, "registry %u: %s -> domain %u%s%s%s%s",
			       (unsigned int)self, text, (unsigned int)peers[i].dom,
			       peers[i].name[0] ? " name=" : "", peers[i].name,
			       peers[i].uuid[0] ? " uuid=" : "", peers[i].uuid);
	return rc;
}

int xs_registry_add(struct xsp_store *st, xsp_domid_t self,
		    const struct xs_prefix *pfx, xsp_domid_t dom)
{
	struct xs_peer peer;

	if (!pfx)
		return -EINVAL;
	memset(&peer, 0, sizeof(peer));
	peer.prefix = *pfx;
	peer.dom = dom;
	return xs_registry_add_all(st, self, &peer, 1);
}

int xs_registry_del(struct xsp_store *st, xsp_domid_t self,
		    const struct xs_prefix *pfx)
{
	char path[ENTRY_PATH_MAX];
	int rc;

	if (!st)
		return -EINVAL;
	rc = entry_path(self, pfx, path);
	if (rc < 0)
		return rc;
	return xsp_store_rm(st, XSP_TXN_NONE, path);
}

int xs_registry_parse_domid(const char *s, size_t n, xsp_domid_t *out)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v >= XSP_DOMID_SELF)
		return -EINVAL;
	*out = (xsp_domid_t)v;
	return 0;
}

/* The optional words after the prefix: name=, uuid= (others ignored). */
static int decode_words(const char *w, size_t len, struct xs_peer *out)
{
	int rc;

	size_t i = 0, start;

	if (len == 0)
		return 0;
	if (xs_neg_check(w, len) < 0)
		return -EINVAL;
	/* Every word "key=value", neither empty (a bare word is garbage). */
	while (i < len) {
		while (i < len && w[i] == ' ')
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && w[i] != ' ')
			i++;
		if (w[start] == '=' || !memchr(w + start, '=', i - start) || w[i - 1] == '=')
			return -EINVAL;
	}
	rc = xs_kv_get(w, len, XSOCK_KEY_NAME, out->name, sizeof(out->name));
	if (rc == -ENOENT)
		out->name[0] = '\0';
	else if (rc < 0 || !xs_ident_name_ok(out->name, strlen(out->name)))
		return -EINVAL;
	rc = xs_kv_get(w, len, XSOCK_KEY_UUID, out->uuid, sizeof(out->uuid));
	if (rc == -ENOENT)
		out->uuid[0] = '\0';
	else if (rc < 0 || !xs_ident_uuid_ok(out->uuid, strlen(out->uuid)))
		return -EINVAL;
	return 0;
}

/* Decode one entry; -EINVAL (and a log line saying why) if malformed. */
static int decode_entry(xsp_domid_t self, const char *key, const char *val,
			size_t len, struct xs_peer *out)
{
	struct xs_prefix from_key, from_text;
	char text[XS_PREFIX_STRLEN];
	const char *sp, *end;

	memset(out, 0, sizeof(*out));
	if (xs_prefix_from_key(key, &from_key) < 0) {
		xs_log(XS_LOG_WARN, "registry %u: skipping entry '%s': bad key",
		       (unsigned int)self, key);
		return -EINVAL;
	}
	if (strlen(val) != len || !(sp = strchr(val, ' '))) {
		xs_log(XS_LOG_WARN, "registry %u: skipping entry '%s': bad value",
		       (unsigned int)self, key);
		return -EINVAL;
	}
	end = strchr(sp + 1, ' ');
	if (!end)
		end = val + len;
	if (decode_words(*end ? end + 1 : end, (size_t)(val + len - end) - (*end ? 1 : 0),
			 out) < 0) {
		xs_log(XS_LOG_WARN, "registry %u: skipping entry '%s': bad name= or uuid=",
		       (unsigned int)self, key);
		return -EINVAL;
	}
	if (xs_registry_parse_domid(val, (size_t)(sp - val), &out->dom) < 0 ||
	    (out->dom == self && !out->name[0])) {
		xs_log(XS_LOG_WARN, "registry %u: skipping entry '%s': bad domain '%.*s'",
		       (unsigned int)self, key, (int)(sp - val), val);
		return -EINVAL;
	}
	if ((size_t)(end - (sp + 1)) >= sizeof(text)) {
		xs_log(XS_LOG_WARN, "registry %u: skipping entry '%s': bad prefix",
		       (unsigned int)self, key);
		return -EINVAL;
	}
	memcpy(text, sp + 1, (size_t)(end - (sp + 1)));
	text[end - (sp + 1)] = '\0';
	if (xs_prefix_parse(text, &from_text) < 0 ||
	    from_text.family != from_key.family || from_text.plen != from_key.plen ||
	    memcmp(from_text.addr, from_key.addr, sizeof(from_key.addr)) != 0) {
		xs_log(XS_LOG_WARN, "registry %u: skipping entry '%s': prefix does not match key",
		       (unsigned int)self, key);
		return -EINVAL;
	}
	out->prefix = from_key;
	return 0;
}

/* Longest prefix first; then IPv4 before IPv6, then by address: a total order. */
static int peer_cmp(const void *a, const void *b)
{
	const struct xs_peer *x = a, *y = b;

	if (x->prefix.plen != y->prefix.plen)
		return x->prefix.plen > y->prefix.plen ? -1 : 1;
	if (x->prefix.family != y->prefix.family)
		return x->prefix.family == AF_INET ? -1 : 1;
	return memcmp(x->prefix.addr, y->prefix.addr, sizeof(x->prefix.addr));
}

int xs_registry_list_raw(struct xsp_store *st, xsp_domid_t self,
			 struct xs_peer **peers, unsigned int *n)
{
	char dir[PEERS_PATH_MAX], path[ENTRY_PATH_MAX];
	char **names = NULL;
	unsigned int nnames = 0, i, count = 0;
	struct xs_peer *out = NULL;
	int rc;

	if (!peers || !n)
		return -EINVAL;
	*peers = NULL;
	*n = 0;
	if (!st)
		return -EINVAL;
	peers_path(self, dir);
	rc = xsp_store_list(st, XSP_TXN_NONE, dir, &names, &nnames);
	if (rc == -ENOENT)
		return 0;	/* nothing registered yet */
	if (rc < 0)
		return rc;
	if (nnames) {
		out = calloc(nnames, sizeof(*out));
		if (!out) {
			rc = -ENOMEM;
			goto free_names;
		}
	}
	for (i = 0; i < nnames; i++) {
		char *val = NULL;
		size_t len = 0;

		if (strlen(names[i]) >= XS_PREFIX_KEYLEN) {
			xs_log(XS_LOG_WARN, "registry %u: skipping entry with an overlong key",
			       (unsigned int)self);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = xsp_store_read(st, XSP_TXN_NONE, path, &val, &len);
		if (rc == -ENOENT || rc == -EACCES || rc == -EINVAL) {
			/* removed meanwhile, or not ours to read, or not a valid path */
			xs_log(XS_LOG_WARN, "registry %u: skipping entry '%s': %s",
			       (unsigned int)self, names[i], strerror(-rc));
			continue;
		}
		if (rc < 0)
			goto free_out;
		if (decode_entry(self, names[i], val, len, &out[count]) == 0)
			count++;
		free(val);
	}
	if (count > 1)
		qsort(out, count, sizeof(*out), peer_cmp);
	if (count == 0) {
		free(out);
		out = NULL;
	}
	*peers = out;
	*n = count;
	rc = 0;
	goto free_names;

free_out:
	free(out);
free_names:
	free(names);
	return rc;
}

/* Does any entry need the identities (a name, a binding)? */
static bool needs_identity(const struct xs_peer *peers, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (peers[i].name[0] || peers[i].uuid[0])
			return true;
	return false;
}

/*
 * The identities resolution needs: every domain's when an entry has a
 * name (domain 0 lists them all), else only those of the domains bound
 * by id (a host may have many domains), and domain 0's directory.
 */
static int idents_for(struct xsp_store *st, xsp_domid_t self, const struct xs_peer *peers,
		      unsigned int n, struct xs_idents *ids)
{
	xsp_domid_t *doms;
	unsigned int i, k = 0;
	int rc;

	for (i = 0; i < n; i++)
		if (peers[i].name[0])
			return xs_idents_read(st, self, ids);
	doms = calloc(n ? n : 1, sizeof(*doms));
	if (!doms)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if (peers[i].uuid[0])
			doms[k++] = peers[i].dom;
	rc = xs_idents_read_some(st, self, doms, k, ids);
	free(doms);
	return rc;
}

int xs_registry_list(struct xsp_store *st, xsp_domid_t self,
		     struct xs_peer **peers, unsigned int *n)
{
	struct xs_idents ids;
	char dir[PEERS_PATH_MAX];
	char *val = NULL;
	int rc;

	rc = xs_registry_list_raw(st, self, peers, n);
	if (rc < 0)
		return rc;
	/*
	 * Plain entries need nothing more, unless domain 0 publishes to us
	 * (its directory's addresses are entries too): one read says.
	 */
	if (!needs_identity(*peers, *n)) {
		snprintf(dir, sizeof(dir), XSOCK_DIR_DIR_FMT, (unsigned int)self);
		rc = xsp_store_read(st, XSP_TXN_NONE, dir, &val, NULL);
		free(val);
		if (rc < 0)
			return 0;
	}
	rc = idents_for(st, self, *peers, *n, &ids);
	if (rc == 0) {
		rc = xs_registry_resolve(&ids, self, peers, n);
		xs_idents_free(&ids);
	}
	if (rc == 0 && *n > 1)
		qsort(*peers, *n, sizeof(**peers), peer_cmp);
	if (rc < 0) {
		free(*peers);
		*peers = NULL;
		*n = 0;
	}
	return rc;
}

int xs_registry_lookup(const struct xs_peer *peers, unsigned int n,
		       const struct sockaddr *sa, socklen_t salen,
		       xsp_domid_t *dom)
{
	const struct xs_peer *best = NULL;
	unsigned int i;

	if (!peers && n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (best && peers[i].prefix.plen <= best->prefix.plen)
			continue;
		if (xs_prefix_match(&peers[i].prefix, sa, salen))
			best = &peers[i];
	}
	if (!best)
		return -ENOENT;
	if (dom)
		*dom = best->dom;
	return xs_peer_up(best) ? 0 : -EHOSTUNREACH;
}

bool xs_registry_has_domain(const struct xs_peer *peers, unsigned int n,
			    xsp_domid_t dom)
{
	unsigned int i;

	if (!peers)
		return false;
	for (i = 0; i < n; i++)
		if (peers[i].dom == dom && xs_peer_up(&peers[i]))
			return true;
	return false;
}

/* The longest prefix of @family registered for @dom, or NULL. */
static const struct xs_peer *longest_of(const struct xs_peer *peers, unsigned int n,
					xsp_domid_t dom, int family)
{
	const struct xs_peer *best = NULL;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (peers[i].dom != dom || peers[i].prefix.family != family ||
		    !xs_peer_up(&peers[i]))
			continue;
		if (!best || peers[i].prefix.plen > best->prefix.plen)
			best = &peers[i];
	}
	return best;
}

/*
 * The address reported is the prefix's own address (host bits clear): for
 * a full-length entry the peer's exact address, for a shorter one the first
 * address of its range. Fallbacks when @dom has no prefix of @family:
 *  - AF_INET6 wanted, only IPv4 registered: the IPv4-mapped IPv6 address
 *    (::ffff:a.b.c.d), as the kernel reports IPv4 peers of an IPv6 socket;
 *  - AF_INET wanted, only IPv6 registered: the IPv6 address (AF_INET6).
 * @family AF_UNSPEC: IPv4 if @dom has any IPv4 prefix, else IPv6.
 * Errors: -ENOENT @dom has no entry, -EINVAL bad arguments or family.
 */
int xs_registry_addr_of(const struct xs_peer *peers, unsigned int n,
			xsp_domid_t dom, int family,
			struct sockaddr_storage *out, socklen_t *outlen)
{
	const struct xs_peer *v4, *v6, *p;

	if ((!peers && n) || !out || !outlen)
		return -EINVAL;
	if (family != AF_INET && family != AF_INET6 && family != AF_UNSPEC)
		return -EINVAL;
	v4 = longest_of(peers, n, dom, AF_INET);
	v6 = longest_of(peers, n, dom, AF_INET6);
	if (family == AF_INET)
		p = v4 ? v4 : v6;
	else if (family == AF_INET6)
		p = v6 ? v6 : v4;
	else
		p = v4 ? v4 : v6;
	if (!p)
		return -ENOENT;

	memset(out, 0, sizeof(*out));
	if (p->prefix.family == AF_INET && family != AF_INET6) {
		struct sockaddr_in sin = { .sin_family = AF_INET };

		memcpy(&sin.sin_addr, p->prefix.addr, 4);
		memcpy(out, &sin, sizeof(sin));
		*outlen = sizeof(sin);
	} else {
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

		if (p->prefix.family == AF_INET) {
			sin6.sin6_addr.s6_addr[10] = 0xFF;
			sin6.sin6_addr.s6_addr[11] = 0xFF;
			memcpy(&sin6.sin6_addr.s6_addr[12], p->prefix.addr, 4);
		} else {
			memcpy(&sin6.sin6_addr, p->prefix.addr, 16);
		}
		memcpy(out, &sin6, sizeof(sin6));
		*outlen = sizeof(sin6);
	}
	return 0;
}
