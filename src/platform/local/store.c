/* SPDX-License-Identifier: MIT */
/* STUB: to be implemented. */
#include "config.h"
#include <errno.h>
#include "platform/local/local.h"

int local_store_open(struct xsp *p, struct xsp_store *st)
{
	return -ENOSYS;
}

void local_store_close(struct xsp_store *st)
{
}

int local_store_read(struct xsp_store *st, xsp_txn_t t, const char *path,
		     char **val, size_t *len)
{
	return -ENOSYS;
}

int local_store_write(struct xsp_store *st, xsp_txn_t t, const char *path,
		      const void *val, size_t len)
{
	return -ENOSYS;
}

int local_store_rm(struct xsp_store *st, xsp_txn_t t, const char *path)
{
	return -ENOSYS;
}

int local_store_list(struct xsp_store *st, xsp_txn_t t, const char *path,
		     char ***names, unsigned int *n)
{
	return -ENOSYS;
}

int local_store_set_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			  const struct xsp_perm *perms, unsigned int n)
{
	return -ENOSYS;
}

int local_store_get_perms(struct xsp_store *st, xsp_txn_t t, const char *path,
			  struct xsp_perm **perms, unsigned int *n)
{
	return -ENOSYS;
}

int local_txn_start(struct xsp_store *st, xsp_txn_t *t)
{
	return -ENOSYS;
}

int local_txn_end(struct xsp_store *st, xsp_txn_t t, bool abort)
{
	return -ENOSYS;
}

int local_watch_add(struct xsp_store *st, const char *path, const char *token)
{
	return -ENOSYS;
}

int local_watch_rm(struct xsp_store *st, const char *path, const char *token)
{
	return -ENOSYS;
}

int local_watch_read(struct xsp_store *st, char **path, char **token)
{
	return -ENOSYS;
}
