/* SPDX-License-Identifier: MIT */
/*
 * Live connection status, as printed by `xsockctl status`.
 *
 * Every process with ring connections keeps a small shared-memory table of
 * them in a per-domain status directory (the local backend:
 * $XSOCK_LOCAL_DIR/status/<domid>/<pid>; Xen: /dev/shm/xsock-status/<domid>/
 * <pid>, inside the domain). The shim updates a record with plain stores
 * as bytes move; xsockctl reads the tables of live processes. The table's
 * layout, its magic and version, and the rules for writer and reader are
 * the ABI header <xsock/status.h>.
 *
 * Error contract: 0 or a negative errno. Status keeping is best effort:
 * a failure to keep it never affects a connection.
 */
#ifndef XSOCK_CONN_STATUS_H
#define XSOCK_CONN_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <xsock/status.h>

#include "conn/conn.h"

/* Give @c a record (sets c->status). Best effort: on failure c->status
 * stays NULL. */
void xs_status_attach(struct xs_ctx *ctx, struct xs_conn *c);
/* Copy the byte counters and error into the record. */
static inline void xs_status_update(struct xs_conn *c, int err)
{
	struct xsock_status_rec *r = c->status;

	if (!r)
		return;
	/* A sender and a receiver thread may both update one record:
	 * relaxed atomics (counters only; a racing older value is overwritten
	 * by the next update), the first error wins. */
	__atomic_store_n(&r->tx, __atomic_load_n(&c->ring.bytes_tx, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&r->rx, __atomic_load_n(&c->ring.bytes_rx, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
	if (err) {
		int32_t none = 0;

		__atomic_compare_exchange_n(&r->err, &none, err, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
	}
}
void xs_status_detach(struct xs_conn *c);

/*
 * Print this domain's live connections: a table, or with @json one JSON
 * object and a newline. Errors: -ENOMEM, -EIO writing @out, errors of
 * xs_ctx_open().
 */
int xs_status_print(FILE *out, bool json);

#endif /* XSOCK_CONN_STATUS_H */
