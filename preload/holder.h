/* SPDX-License-Identifier: MIT */
/*
 * Fork: holder.c. A ring connection or a listener is held by every
 * process that has its fd; one of them, the server (struct shim_rstate's
 * and struct shim_lshared's @server), serves its events. The others watch
 * the server and take over when it is gone (docs/protocol.md, "Process
 * model").
 */
#ifndef XSOCK_PRELOAD_HOLDER_H
#define XSOCK_PRELOAD_HOLDER_H

#include <stdbool.h>
#include <sys/types.h>

#include "preload/shim.h"

/* A server watch (struct srv_watch, malloc()ed: bit 3 free) in epoll data. */
#define SRV_TAG 8u

struct srv_watch;

/*
 * @s was inherited by fork() (s->gen != shim_gen): make it usable in this
 * process -- a mapped ring is mapped again -- and watch its server, taking
 * over at once if the server is already gone. Called by shim_get() on the
 * first use outside the shim; idempotent. Never fails: a ring that cannot
 * be mapped again reports ECONNRESET on its next read or write.
 */
void holder_touch(struct shim_sock *s);
/*
 * This process closed its last fd of @s and does not serve it: stop
 * watching its server. Under no lock of the shim's.
 */
void holder_forget(struct shim_sock *s);
/*
 * Process exit: this process serves ring @s but others still hold it:
 * disarm what would tell the peer we are gone (the mapped side's "alive"
 * notification); a holder that watches us takes over.
 */
void holder_leave(struct shim_sock *s);
/*
 * exec'd image: ring @s was rebuilt from the hand-over (handover.c),
 * mapped and usable: serve it if the image before us did (same pid),
 * else watch its server (taking over if it is gone). Never fails; what
 * goes wrong is logged.
 */
void holder_adopt(struct shim_sock *s);
/*
 * Under ev_lock, in the server: the application closed its last fd of ring
 * @s here while another process holds it (a handler forked after
 * accept()): offer the serving to whichever holder uses the ring next
 * (holder_claim()); we serve on until one does.
 */
void holder_resign(struct shim_sock *s);
/* Under ev_lock, in the server: was @s, which we resigned, claimed by
 * another holder? Then it is no longer ours to serve or to end. */
bool holder_claimed_away(const struct shim_sock *s);
/*
 * Ring @s's server closed its last fd of it while this process holds it
 * (struct shim_rstate's @resigned): serve it from here, so that our
 * waits are woken directly (direct.c), and stop watching the old server,
 * which stops serving it at its next notification (evloop.c). Called
 * by shim_get() outside the shim; a no-op if another holder claimed it
 * first or the claim fails (the old server serves on). Never fails.
 */
void holder_claim(struct shim_sock *s);
/*
 * Stop watching @s's server and give back our count of its watchers.
 * True if we watched it: the watch's reference is then the caller's.
 * exec() of this image (handover.c) does this for the rings it hands
 * over, so that the new image, which counts itself, is not counted twice
 * (a count too high only forbids claims: holder_claim()); if the exec
 * fails, holder_rewatch() watches the server again and drops that
 * reference. Under no lock of the shim's.
 */
bool holder_unwatch(struct shim_sock *s);
void holder_rewatch(struct shim_sock *s);
/* Process exit: an inherited @s whose server is gone is taken over first,
 * so that the last holder's exit ends the connection in an orderly way. */
void holder_exit_touch(struct shim_sock *s);
/* Event thread, under ev_lock: the server watched by @w exited. */
void holder_server_gone(struct srv_watch *w);
/* Forked child (atfork handler, one thread): forget the parent's watches. */
void holder_after_fork(void);

#endif /* XSOCK_PRELOAD_HOLDER_H */
