/* SPDX-License-Identifier: MIT */
/* Intercepted waits: wait.c. */
#ifndef XSOCK_PRELOAD_WAIT_H
#define XSOCK_PRELOAD_WAIT_H

/* @fd is being closed: forget it in the epoll sets we track (or the set). */
void wait_fd_closed(int fd);

#endif /* XSOCK_PRELOAD_WAIT_H */
