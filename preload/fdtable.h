/* SPDX-License-Identifier: MIT */
/* The fd table and the socket records: fdtable.c. */
#ifndef XSOCK_PRELOAD_FDTABLE_H
#define XSOCK_PRELOAD_FDTABLE_H

#include <stdbool.h>

#include "preload/shim.h"

/*
 * Socket records, zeroed, with one reference (refs = 1). Their memory is
 * never given back to malloc: shim_sock_free() keeps it for the next
 * shim_sock_alloc() (type-stable, so that shim_get() needs no lock).
 * NULL when out of memory.
 */
struct shim_sock *shim_sock_alloc(void);
void shim_sock_free(struct shim_sock *s);

/* fd table. shim_get() takes a reference; shim_put() drops it. Neither
 * takes a lock, but shim_get() outside the shim makes a socket inherited
 * by fork() usable in this process first (holder_touch()). shim_peek()
 * does not: for closing and for the shim's own looks. */
struct shim_sock *shim_get(int fd);
struct shim_sock *shim_peek(int fd);
void shim_put(struct shim_sock *s);
/* Its reference count now (a snapshot). */
int shim_refs(struct shim_sock *s);
/* References on / off many sockets at once (one table lock). */
void shim_ref_many(struct shim_sock **v, int n);
void shim_put_many(struct shim_sock **v, int n);
/* Make @s the entry for @fd (the entry holds a reference of its own);
 * 0, -ENOMEM or -EMFILE. */
int shim_install(int fd, struct shim_sock *s);
/* Call @fn on every ring socket in the table (under the table lock). */
void shim_for_each_ring(void (*fn)(struct shim_sock *s));
/* fdops.c: one of this process's fds of @s went (its entry removed): on
 * the last one, a listener we serve is closed; a socket another process
 * serves is no longer watched (holder_forget()). */
void fd_released(struct shim_sock *s);
/* Forked child (one thread, atfork handler): @fn on every table entry. */
void shim_for_each_sock_child(void (*fn)(struct shim_sock *s));
/* Remove the entry for @fd and return it (the caller owns its reference). */
struct shim_sock *shim_remove(int fd);
/* The ring socket behind @fd with a reference, or NULL when the call is
 * not ours (not a ring, or the shim itself is calling): pass it to libc
 * (shim_real is resolved by then). */
struct shim_sock *shim_ring_of(int fd);

/* The table itself: shim_tab[fd], for fd < shim_tab_size; no entry at
 * or above shim_tab_hi. */
extern struct shim_sock **shim_tab;
extern int shim_tab_size;
extern int shim_tab_hi;

/* Could @fd be a shim socket? (No reference, no lock: a hint.) */
static inline bool shim_maybe_ours(int fd)
{
	return fd >= 0 && fd < shim_tab_size &&
	       __atomic_load_n(&shim_tab[fd], __ATOMIC_ACQUIRE) != NULL;
}

#endif /* XSOCK_PRELOAD_FDTABLE_H */
