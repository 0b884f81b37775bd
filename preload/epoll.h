/* SPDX-License-Identifier: MIT */
/* The epoll sets we track: epoll.c. */
#ifndef XSOCK_PRELOAD_EPOLL_H
#define XSOCK_PRELOAD_EPOLL_H

#include "preload/shim.h"

/* Epoll sets we track that have entries (atomic; a hint). */
extern int ep_live;

/* @fd is being closed: forget it in the epoll sets we track (or the set). */
void ep_fd_closed(int fd);
/*
 * @fd was closed earlier (defer.c) and may have been reused since: forget
 * the entries that name ring socket @s by it, or (@s NULL) the set @fd
 * was.
 */
void ep_fd_gone(int fd, struct shim_sock *s);

#endif /* XSOCK_PRELOAD_EPOLL_H */
