/* SPDX-License-Identifier: MIT */
/* The epoll sets we track: epoll.c. */
#ifndef XSOCK_PRELOAD_EPOLL_H
#define XSOCK_PRELOAD_EPOLL_H

/* @fd is being closed: forget it in the epoll sets we track (or the set). */
void ep_fd_closed(int fd);

#endif /* XSOCK_PRELOAD_EPOLL_H */
