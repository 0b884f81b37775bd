/* SPDX-License-Identifier: MIT */
/*
 * Ring reuse for connections (conn.h, docs/protocol.md section 2b):
 * parking a closed connection's ring, opening the next use on it (the
 * client) and taking that use up (the server). The ring's side of it is
 * src/ring/reuse.c.
 */
#include "config.h"

#include <errno.h>

#include "common/clock.h"
#include "common/log.h"
#include "conn/private.h"
#include "conn/status.h"

void xs_conn_park_begin(struct xs_conn *c)
{
	xs_status_detach(c);
	if (c->state == XS_CONN_CONNECTED)
		xsr_close(&c->ring);
	/* Nobody of ours waits on it any more: no events for the data of a
	 * use that is over (the peer's close, its unmap still signal). */
	xsr_set_wait(&c->ring, 0);
	c->state = XS_CONN_PARKING;
	c->idle_since_ms = xs_now_ms();
}

int xs_conn_park_step(struct xs_conn *c)
{
	int rc;

	if (c->state == XS_CONN_IDLE)
		return xsr_alive(&c->ring) ? 1 : -ECONNRESET;
	if (c->state != XS_CONN_PARKING)
		return -EINVAL;
	rc = xsr_park(&c->ring, c->use);
	if (rc == 1) {
		c->state = XS_CONN_IDLE;
		c->idle_since_ms = xs_now_ms();
		xs_log(XS_LOG_DEBUG, "ring %s to dom%u parked after use %u", c->id, c->peer,
		       c->use);
	}
	return rc;
}

/*
 * The ring carries its next use from now on, between the same two
 * addresses, one side's port (@port, in @addr too) now @sport.
 */
static void use_next(struct xs_conn *c, uint16_t *port, struct sockaddr_storage *addr,
		     uint16_t sport)
{
	c->use++;
	*port = sport;
	xs_sa_set_port(addr, sport);
	c->state = XS_CONN_CONNECTED;
}

int xs_conn_reopen(struct xs_conn *c, uint16_t sport)
{
	int rc;

	if (c->side != XSR_SIDE_B || c->state != XS_CONN_IDLE)
		return -EINVAL;
	rc = xsr_reopen(&c->ring, c->use + 1, sport);
	if (rc < 0)
		return rc;
	/* The same route as the ring's first use, from the new port. */
	use_next(c, &c->lport, &c->laddr, sport);
	return 0;
}

int xs_conn_reaccept(struct xs_conn *c)
{
	uint16_t sport = 0;
	int rc;

	if (c->side != XSR_SIDE_A || c->state != XS_CONN_IDLE)
		return -EINVAL;
	rc = xsr_peer_opened(&c->ring, c->use + 1, &sport);
	if (rc <= 0)
		return rc;
	rc = xsr_reaccept(&c->ring);
	if (rc < 0)
		return rc;
	use_next(c, &c->pport, &c->paddr, sport);
	return 1;
}

int64_t xs_server_idle_ms(const struct xs_ctx *ctx)
{
	int64_t ms = (int64_t)ctx->reuse_idle_ms * XS_SERVER_IDLE_FACTOR;

	return ms < (int64_t)XSOCK_IDLE_MAX_MS ? ms : (int64_t)XSOCK_IDLE_MAX_MS;
}

int64_t xs_conn_park_deadline(const struct xs_conn *c)
{
	int64_t life;

	if (c->state != XS_CONN_PARKING && c->state != XS_CONN_IDLE)
		return INT64_MAX;
	if (c->side == XSR_SIDE_A) {
		life = xs_server_idle_ms(c->ctx);
	} else {
		life = c->ctx->reuse_idle_ms;
		/* Well inside the server's lifetime: never open a use on a
		 * ring the server is about to close. */
		if (c->peer_idle_ms && (int64_t)c->peer_idle_ms / 2 < life)
			life = (int64_t)c->peer_idle_ms / 2;
	}
	return c->idle_since_ms + life;
}
