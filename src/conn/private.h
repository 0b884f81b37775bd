/* SPDX-License-Identifier: MIT */
/*
 * What the files of src/conn share, internal to them: the connection
 * object's allocation (conn.c), the server's parked-ring lifetime
 * (park.c), the negotiation's store nodes (nodes.c: directories, ids,
 * conditional removal, answers, doorbell records), the advertisements
 * (advert.c) and the sweeps of dead processes' nodes and stale answers
 * (sweep.c). The store layout is <xsock/store.h>.
 *
 * Error contract: functions returning int give 0 (or the count or flag
 * stated) or a negative errno; the void ones are best effort and say
 * nothing when they fail. Nothing is printed.
 */
#ifndef XSOCK_CONN_PRIVATE_H
#define XSOCK_CONN_PRIVATE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xsock/store.h>

#include "common/compiler.h"
#include "conn/conn.h"

/* ---- conn.c, and socket addresses ---------------------------------------------- */

/* A zeroed connection of @ctx to @peer on @side of the ring, or NULL (no
 * memory). Free it with xs_conn_abandon(). */
struct xs_conn *xs_conn_alloc(struct xs_ctx *ctx, xsp_domid_t peer, enum xsr_side side);

/* Keep the application's address @sa (@salen bytes, cut to fit) in @ss. */
static inline void xs_sa_keep(struct sockaddr_storage *ss, socklen_t *sslen,
			      const struct sockaddr *sa, socklen_t salen)
{
	memcpy(ss, sa, XS_MIN((size_t)salen, sizeof(*ss)));
	*sslen = salen;
}

/* Set the port of an AF_INET or AF_INET6 address (others are left alone). */
static inline void xs_sa_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* ---- park.c ---------------------------------------------------------------------- */

/* How long a server keeps a parked ring (XS_SERVER_IDLE_FACTOR times
 * XSOCK_REUSE_IDLE_MS, at most XSOCK_IDLE_MAX_MS): its offers' idle=. */
int64_t xs_server_idle_ms(const struct xs_ctx *ctx);

/* ---- nodes.c --------------------------------------------------------------------- */

/*
 * Make sure @dir exists with permissions "owner self, nobody else, @peer
 * may read". Children created later inherit them. Errors: store errors.
 */
int xs_dir_ensure(struct xsp_store *st, xsp_domid_t self, const char *dir, xsp_domid_t peer);

/* A random id of 16 hex digits into @buf (XS_NEG_ID_LEN bytes). Never fails. */
void xs_random_id(char *buf, size_t len);

/* Remove @path if its value still is @val (in a transaction). */
void xs_node_rm_if_unchanged(struct xsp_store *st, const char *path, const char *val);
/* Remove the advertisement @path if it is still the one of listener @id. */
void xs_listen_rm_own(struct xsp_store *st, const char *path, const char *id);

/*
 * Publish the answer @val at @apath unless another one exists already.
 * An existing acknowledgement may be replaced: by any offer or refusal
 * (@ack_id NULL), or by an acknowledgement of the same listener (@ack_id;
 * "" matches no listener: publish only where nothing answered yet).
 * Errors: -EALREADY another answer (or another listener's
 * acknowledgement) is there; -EAGAIN the transaction kept conflicting;
 * store errors.
 */
int xs_answer_publish(struct xsp_store *st, const char *apath, const char *val,
		      const char *ack_id);
/*
 * Answer @dom's request @id with "refused" and @err, replacing an
 * acknowledgement (xs_answer_refuse()) or only if nothing answered it yet
 * (xs_answer_refuse_first(): for a request that another listener of ours
 * may serve). Makes sure conn/<dom> exists readable by @dom first.
 * Errors: those of xs_dir_ensure() and xs_answer_publish().
 */
int xs_answer_refuse(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom, const char *id,
		     int err);
int xs_answer_refuse_first(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom,
			   const char *id, int err);
/*
 * The request (@dom, @id) is gone or has had its time: remove its answer
 * if it is a refusal (anyone's) or, @listener_id not NULL, that listener's
 * acknowledgement. Offers are the acceptor's to remove. Best effort.
 */
void xs_answer_rm_stale(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom, const char *id,
			const char *listener_id);
/* Remove the answer node of @dom's request @id (the negotiation is over). */
void xs_answer_rm(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom, const char *id);
/* One look at offered ring @c: 1 the client attached, 0 not yet,
 * -ECONNABORTED it is gone, or a channel error (acceptor.c). */
int xs_offer_check(struct xs_conn *c);
/* Remove the answer to (@dom, @id) if it is an acknowledgement (any listener's). */
void xs_answer_rm_wait(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom, const char *id);
/* Remove listener @listener_id's own acknowledgement of (@dom, @id), if still there. */
void xs_answer_rm_ack(struct xsp_store *st, xsp_domid_t self, xsp_domid_t dom, const char *id,
		      const char *listener_id);

/* The path of doorbell @bell of @port in domain @self. */
void xs_bell_path(char *buf, size_t len, xsp_domid_t self, uint16_t port, uint16_t bell);
/*
 * Take the doorbell record at @path away: 1 (and its value in *val, to
 * free(), if @val is not NULL) if we removed it, 0 if it was not there.
 * Errors: -EAGAIN the transaction kept conflicting; store errors.
 */
int xs_bell_take(struct xsp_store *st, const char *path, char **val);
/* Remove B(self)/bell/<port> if no doorbell is left in it. */
void xs_bell_rm_dir(struct xsp_store *st, xsp_domid_t self, uint16_t port);

/* ---- advert.c -------------------------------------------------------------------- */

/*
 * The path of an advertisement of @self's @port to domain @peer:
 * listen/<port>-<peer>, or with @key (an address key, xs_addr_key(); NULL
 * or "" for a wildcard listener) listen/<port>-<peer>-<key>.
 */
void xs_adv_path(char *buf, size_t len, xsp_domid_t self, uint16_t port, xsp_domid_t peer,
		 const char *key);
/*
 * Advertise listener @l to the @n domains @doms (distinct): one node each,
 * readable by that domain, and the legacy listen/<port> (readable by all
 * of them if they fit one permission list, else by nobody but us).
 * Errors: those of writing the legacy node or setting its permissions; a
 * per-domain node that cannot be written is logged and skipped.
 */
int xs_adv_publish(struct xs_listener *l, const xsp_domid_t *doms, unsigned int n);
/* Remove @l's own advertisements to @doms, and (@legacy) its legacy node;
 * a successor's are left alone. Best effort. */
void xs_adv_withdraw(struct xs_listener *l, const xsp_domid_t *doms, unsigned int n,
		     bool legacy);
/* Does another listener of ours on @l's port advertise to @dom that it
 * serves @daddr (a wildcard one, or one bound to @daddr)? */
bool xs_adv_other_serves(struct xs_listener *l, xsp_domid_t dom, const char *daddr);
/*
 * Client @self: does a listener of @server on @port serve @dst for us?
 * 0 yes (an advertisement to us for any address or for @dst, or a legacy
 * one without another address). Errors: -ENOENT no, -EINVAL @dst is not
 * an IP address, store errors. @found (if not NULL, @foundlen bytes, at
 * least XS_ADV_PATH_MAX) gets the advertisement's path: while it exists,
 * the listener (and its domain) lives.
 */
#define XS_ADV_PATH_MAX 160
int xs_adv_find(struct xsp_store *st, xsp_domid_t server, uint16_t port, xsp_domid_t self,
		const struct sockaddr *dst, socklen_t dstlen, char *found, size_t foundlen);

/* ---- sweep.c --------------------------------------------------------------------- */

/*
 * Remove @self's listen/<port> advertisements (xs_sweep_listen()) or
 * req/<S>/<id> requests (xs_sweep_requests()) whose pid is dead; *removed
 * (may be NULL) gets the count. Errors: store errors (an absent directory
 * is not one).
 */
int xs_sweep_listen(struct xsp_store *st, xsp_domid_t self, unsigned int *removed);
int xs_sweep_requests(struct xsp_store *st, xsp_domid_t self, unsigned int *removed);
/*
 * Remove @self's answers conn/<C>/<id> whose request B(C)/req/<self>/<id>
 * is gone (or unreadable: C cannot be waiting on it), and children of
 * conn/<C> whose name is not an id (older versions acknowledged such
 * requests); *removed (may be NULL) gets the count. An answer is removed
 * only if unchanged meanwhile. Errors: store errors (an absent directory
 * is not one).
 */
int xs_sweep_answers(struct xsp_store *st, xsp_domid_t self, unsigned int *removed);

#endif /* XSOCK_CONN_PRIVATE_H */
