/* SPDX-License-Identifier: MIT */
/*
 * The shared state arena: arena.c. Where a connection's state shared by
 * every process holding it lives (struct shim_rstate, struct xsr_own):
 * slots of a memfd mapped MAP_SHARED, so that it is shared with forked
 * children (the mapping is inherited) and found again by an exec'd image
 * (the memfd is handed over: docs/protocol.md, "What crosses exec").
 *
 * Each process allocates from an arena it created itself; arenas it
 * inherited (fork) or was handed (exec) stay mapped and known, so that
 * their slots can be handed on again, and are never allocated from.
 * Error contract: 0 or -errno; nothing printed.
 */
#ifndef XSOCK_PRELOAD_ARENA_H
#define XSOCK_PRELOAD_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARENA_SLOT 256u			/* bytes per slot; a slot holds one object */

/*
 * Make this process's arena now (ctx.c: once xsock is active here), so
 * that its fd is there from the start, as the event thread's are, rather
 * than appearing with the first connection. Best effort.
 */
void arena_prepare(void);
/* A zeroed slot, or NULL (out of memory or fds). */
void *arena_get(void);
/*
 * Give slot @p back. @reuse: no process touches it any more (its
 * connection ended everywhere); then a slot of this process's own arena
 * is reused, else it is only forgotten (another process may still use it).
 */
void arena_put(void *p, bool reuse);
/* The arena fd and offset of slot @p: 0, or -ENOENT (not in an arena). */
int arena_locate(const void *p, int *fd, uint64_t *off);
/*
 * exec'd image: the arena behind inherited @fd (a memfd), mapped and
 * known from now on (FD_CLOEXEC set again); *@p the slot at @off.
 * -EBADF (@fd not an arena), -EINVAL (@off outside it or misaligned),
 * -ENOMEM, -ENOSPC (too many arenas).
 */
int arena_adopt(int fd, uint64_t off, void **p);
/*
 * Set or clear FD_CLOEXEC on every arena fd whose slots are named in a
 * hand-over (arena_mark()); arena_mark() notes one.
 */
void arena_mark(int fd);
void arena_set_cloexec(bool on);
/* In a forked child (fork handler): arena_set_cloexec(true) without the
 * lock (handover.c). */
void arena_child_cloexec(void);
/* The fds of every arena this process knows, into @v (room for @max); how many. */
int arena_fds(int *v, int max);
/* Forked child (one thread): allocate from an arena of its own from now on. */
void arena_after_fork(void);

#endif /* XSOCK_PRELOAD_ARENA_H */
