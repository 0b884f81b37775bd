/* SPDX-License-Identifier: MIT */
/*
 * The local store's permissions and quotas: a node's ".p" strings, who
 * may read, write or re-permission a node, and the count of nodes each
 * domain owns (store-quota/<domid>).
 *
 * Permissions follow xenstored: entry 0 names the owner and everybody's
 * default access; domain 0 and the owner may do anything; read/list/
 * get_perms need READ, write/rm need WRITE (creating: WRITE on the nearest
 * existing ancestor); new nodes inherit the parent's permissions with the
 * creator as owner. set_perms needs ownership (or domain 0), and a domain
 * other than 0 may not give a node away (changing entry 0's domain):
 * -EACCES. rm of "/" is -EINVAL.
 *
 * Quota: each domain other than 0 may own at most XSOCK_STORE_NODE_QUOTA
 * (default 10000) nodes; creating beyond is -ENOSPC (domain 0 is exempt,
 * as in xenstored). Inside a transaction nodes removed by it are not
 * credited back before the commit (conservative).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "platform/local/store_priv.h"

/* ---- permissions ----------------------------------------------------------- */

int perms_parse(const char *s, struct perms *pm)
{
	char tok[16];
	size_t i;

	pm->n = 0;
	while (*s) {
		while (*s == ' ' || *s == '\n' || *s == '\t')
			s++;
		if (!*s)
			break;
		for (i = 0; s[i] && s[i] != ' ' && s[i] != '\n' && s[i] != '\t'; i++)
			if (i + 1 >= sizeof(tok))
				return -EINVAL;
		memcpy(tok, s, i);
		tok[i] = '\0';
		s += i;
		if (pm->n >= MAX_PERMS || xsp_perm_parse(tok, &pm->p[pm->n]) < 0)
			return -EINVAL;
		pm->n++;
	}
	return pm->n ? 0 : -EINVAL;
}

size_t perms_format(const struct perms *pm, char *buf)
{
	size_t off = 0;
	unsigned int i;

	for (i = 0; i < pm->n; i++) {
		if (i)
			buf[off++] = ' ';
		xsp_perm_format(&pm->p[i], buf + off);
		off += strlen(buf + off);
	}
	buf[off] = '\0';
	return off;
}

unsigned int perm_for(const struct perms *pm, xsp_domid_t dom)
{
	unsigned int i;

	if (dom == 0 || dom == pm->p[0].dom)
		return XSP_PERM_BOTH;
	for (i = 1; i < pm->n; i++)
		if (pm->p[i].dom == dom)
			return pm->p[i].perm;
	return pm->p[0].perm;
}

/* ---- quota ------------------------------------------------------------------------ */

static long quota_get(struct store_priv *sp, xsp_domid_t dom)
{
	char name[64], *buf = NULL;
	size_t len;
	long v = 0;

	snprintf(name, sizeof(name), QUOTA_DIR "/%u", (unsigned int)dom);
	if (store_read_file_at(sp->dirfd, name, 64, &buf, &len) == 0)
		v = strtol(buf, NULL, 10);
	free(buf);
	return v < 0 ? 0 : v;
}

void quota_add(struct store_priv *sp, xsp_domid_t dom, long d)
{
	char name[64], buf[32];
	long v = quota_get(sp, dom) + d;
	int n;

	if (v < 0)
		v = 0;
	snprintf(name, sizeof(name), QUOTA_DIR "/%u", (unsigned int)dom);
	n = snprintf(buf, sizeof(buf), "%ld\n", v);
	if (store_write_file_atomic(sp->dirfd, name, buf, (size_t)n) < 0)
		xs_log(XS_LOG_WARN, "store: cannot update quota count of domain %u", dom);
}

/* ---- access checks -------------------------------------------------------------------------- */

/*
 * May domain self write @path as @v sees it? *created gets the number of
 * nodes a write would create, *alen the length of the nearest existing
 * ancestor (== strlen(path) when the node exists).
 */
int check_write(const struct view *v, const char *path, unsigned int *created,
		size_t *alen)
{
	char buf[XSP_STORE_PATH_MAX + 1];
	size_t len = strlen(path);
	struct perms pm;
	bool exists;
	int rc;

	memcpy(buf, path, len + 1);
	*created = 0;
	for (;;) {
		rc = view_node(v, buf, &exists, &pm, NULL, NULL);
		if (rc < 0)
			return rc;
		if (v->tx) {
			rc = acc_path(v->tx, buf, false);
			if (rc < 0)
				return rc;
		}
		if (exists)
			break;
		if (len == 1)
			return -ENOENT;		/* no root: broken store */
		(*created)++;
		len = parent_len(buf, len);
		buf[len] = '\0';
	}
	*alen = len;
	return (perm_for(&pm, v->sp->self) & XSP_PERM_WRITE) ? 0 : -EACCES;
}

int check_quota(struct store_priv *sp, long extra)
{
	if (sp->self == 0 || extra <= 0)
		return 0;
	return quota_get(sp, sp->self) + extra > sp->quota ? -ENOSPC : 0;
}

int check_set_perms(const struct view *v, const char *path, const struct perms *pm)
{
	struct perms old;
	bool exists;
	int rc;

	rc = view_node(v, path, &exists, &old, NULL, NULL);
	if (rc < 0)
		return rc;
	if (!exists)
		return -ENOENT;
	if (v->sp->self != 0 &&
	    (v->sp->self != old.p[0].dom || pm->p[0].dom != old.p[0].dom))
		return -EACCES;
	return 0;
}
