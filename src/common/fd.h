/* SPDX-License-Identifier: MIT */
/*
 * Keeping the library's own long-lived fds out of the application's way.
 *
 * Programs size fd-indexed tables by the connections they make (wrk allows
 * three fds per connection) and select() sees only fds below FD_SETSIZE,
 * so every fd xsock keeps open for a connection (event channel FIFOs,
 * share files, the socketpair end) lives in the upper half of the fd
 * limit, never among the low numbers the application's own socket() and
 * accept() calls are given.
 */
#ifndef XSOCK_COMMON_FD_H
#define XSOCK_COMMON_FD_H

/*
 * The lowest number for such fds: half of RLIMIT_NOFILE's soft limit,
 * capped at 65536; -1 when the limit is below 256 (no room to split).
 * Read on every call: the application may raise its limit (nginx's
 * worker_rlimit_nofile).
 */
int xs_fd_floor(void);

/*
 * Move @fd to xs_fd_floor() or above (close-on-exec), closing @fd; returns
 * the new fd. Best effort: returns @fd itself if it is already there, the
 * limit is too small, or the upper half is full. Never fails.
 */
int xs_fd_out_of_way(int fd);

#endif /* XSOCK_COMMON_FD_H */
