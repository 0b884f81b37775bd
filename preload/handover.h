/* SPDX-License-Identifier: MIT */
/*
 * exec: ring connections handed over to the new process image:
 * handover.c (docs/protocol.md, "What crosses exec").
 */
#ifndef XSOCK_PRELOAD_HANDOVER_H
#define XSOCK_PRELOAD_HANDOVER_H

#include <stdbool.h>
#include <sys/socket.h>

/*
 * Before an exec (@spawn false), or before posix_spawn()/system()/popen()
 * start a program in a child (@spawn true), of a program that will run
 * under the shim (@follows): write the hand-over record of every ring fd
 * the program inherits (no FD_CLOEXEC) and make the fds its kernel
 * objects are inheritable; before an exec, disarm the unmap notification
 * of each side-B ring this process serves (exec unmaps its pages; the new
 * image arms its own). A ring that cannot be handed over (a ring not
 * settled yet, a backend that cannot), and every ring when the program will
 * not run under the shim, is not inherited as it is: before an exec its
 * fds are replaced by sockets whose peer is closed (end of file, EPIPE);
 * for a spawn they are marked close-on-exec until handover_end().
 * Returns the record's fd (for XSOCK_EXEC_FD) or -1 when there is none.
 * Takes a lock that handover_end() drops (a successful exec drops it with
 * the process image). Never fails otherwise: what cannot be done is
 * logged and falls back as above.
 */
int handover_begin(bool follows, bool spawn);
/* The exec failed or the spawn returned: undo what handover_begin() did
 * to this process's fds (replaced fds stay replaced) and notifications,
 * and close the record. */
void handover_end(void);
/*
 * adopt.c, the new image: rebuild what the old one handed over
 * (XSOCK_EXEC_FD), before main(). Never fails: a ring that cannot be
 * rebuilt is closed for the program; a record that fails its check is
 * logged and ignored.
 */
void handover_adopt(void);
/*
 * relay.c, the new image: ring fd @afd (connection @c) is also the
 * program's stdio fds @stdio (@n of them): give them a plain socketpair
 * relayed to the ring by a process of ours. 0 or -errno (then the fds are
 * as they were).
 * relay_name(): @fd is such a stdio fd still: put the ring's own (@peer
 * false) or peer's address in @addr as getsockname()/getpeername() would
 * and return true; false when @fd is not one (or @addr is NULL).
 */
struct xs_conn;
struct sockaddr;
int relay_start(int afd, const int *stdio, int n, const struct xs_conn *c);
bool relay_name(int fd, bool peer, struct sockaddr *addr, socklen_t *addrlen);
/* exec.c: replace ring fd @fd by a socket whose peer is closed. */
void exec_eof_fd(int fd);

#endif /* XSOCK_PRELOAD_HANDOVER_H */
