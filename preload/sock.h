/* SPDX-License-Identifier: MIT */
/* Shim sockets made and ended: sock.c. */
#ifndef XSOCK_PRELOAD_SOCK_H
#define XSOCK_PRELOAD_SOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "preload/shim.h"

/* A new ring socket for a connected @conn; returns it with one reference,
 * fd A in *afd (not yet installed). Call under SHIM_ENTER(). */
int shim_ring_new(struct xs_conn *conn, int family, struct shim_sock **out, int *afd);
/*
 * Make @s the shim socket behind the application's @fd (its first fd)
 * and have the event thread watch it. 0, or -errno with @fd's entry gone
 * again. The caller keeps its own reference.
 */
int sock_install(int fd, struct shim_sock *s);
/* Put a ring socket's end A (@afd) on the application's fd number @fd,
 * with O_NONBLOCK (@nonblock) and FD_CLOEXEC (@cloexec); closes @afd.
 * 0 or -errno. */
int sock_take_fd(int fd, int afd, bool nonblock, bool cloexec);
/* The last reference to @s went (shim_put()): end the connection (or
 * park its ring) or close the listener, as far as this process may, and
 * free the record. */
void shim_sock_end(struct shim_sock *s);

/* Is @fd, whose address family is @family, a TCP (inet stream) socket? */
bool fd_is_inet_stream(int fd, int family);
/* The port @fd is bound to, or 0. */
uint16_t fd_bound_port(int fd);

#endif /* XSOCK_PRELOAD_SOCK_H */
