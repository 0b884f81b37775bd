/* SPDX-License-Identifier: MIT */
/*
 * The real libc, and when to call it.
 *
 * XSOCK_LIBC_CALLS lists every libc function the shim calls for real, once
 * each, as XSOCK_LIBC(name, return type, (parameter types)). The list is
 * expanded into struct shim_libc below and into the one resolver in
 * libc.c, which looks every entry up once with dlsym(RTLD_NEXT) (so that
 * stacked preloads keep working). A wrapper that passes a call on, and the
 * shim's own calls that must not come back into it, use shim_real.name
 * after shim_resolve().
 */
#ifndef XSOCK_PRELOAD_LIBC_H
#define XSOCK_PRELOAD_LIBC_H

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

/* glibc's _FORTIFY_SOURCE entry points (no public prototypes). */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *from, socklen_t *fromlen);

/* Exported by glibc, declared only under some feature macros. */
__sighandler_t bsd_signal(int sig, __sighandler_t handler);

#define XSOCK_LIBC_CALLS									\
	/* sockets */										\
	XSOCK_LIBC(socket, int, (int, int, int))						\
	XSOCK_LIBC(bind, int, (int, const struct sockaddr *, socklen_t))			\
	XSOCK_LIBC(listen, int, (int, int))							\
	XSOCK_LIBC(accept, int, (int, struct sockaddr *, socklen_t *))				\
	XSOCK_LIBC(accept4, int, (int, struct sockaddr *, socklen_t *, int))			\
	XSOCK_LIBC(connect, int, (int, const struct sockaddr *, socklen_t))			\
	XSOCK_LIBC(close, int, (int))								\
	XSOCK_LIBC(shutdown, int, (int, int))							\
	XSOCK_LIBC(getsockname, int, (int, struct sockaddr *, socklen_t *))			\
	XSOCK_LIBC(getpeername, int, (int, struct sockaddr *, socklen_t *))			\
	XSOCK_LIBC(getsockopt, int, (int, int, int, void *, socklen_t *))			\
	XSOCK_LIBC(setsockopt, int, (int, int, int, const void *, socklen_t))			\
	/* fd operations */									\
	XSOCK_LIBC(dup, int, (int))								\
	XSOCK_LIBC(dup2, int, (int, int))							\
	XSOCK_LIBC(dup3, int, (int, int, int))							\
	XSOCK_LIBC(fcntl, int, (int, int, ...))							\
	XSOCK_LIBC(fcntl64, int, (int, int, ...))						\
	XSOCK_LIBC(ioctl, int, (int, unsigned long, ...))					\
	/* data */										\
	XSOCK_LIBC(read, ssize_t, (int, void *, size_t))					\
	XSOCK_LIBC(write, ssize_t, (int, const void *, size_t))					\
	XSOCK_LIBC(readv, ssize_t, (int, const struct iovec *, int))				\
	XSOCK_LIBC(writev, ssize_t, (int, const struct iovec *, int))				\
	XSOCK_LIBC(send, ssize_t, (int, const void *, size_t, int))				\
	XSOCK_LIBC(sendto, ssize_t,								\
		   (int, const void *, size_t, int, const struct sockaddr *, socklen_t))	\
	XSOCK_LIBC(sendmsg, ssize_t, (int, const struct msghdr *, int))				\
	XSOCK_LIBC(recv, ssize_t, (int, void *, size_t, int))					\
	XSOCK_LIBC(recvfrom, ssize_t,								\
		   (int, void *, size_t, int, struct sockaddr *, socklen_t *))			\
	XSOCK_LIBC(recvmsg, ssize_t, (int, struct msghdr *, int))				\
	XSOCK_LIBC(sendfile, ssize_t, (int, int, off_t *, size_t))				\
	XSOCK_LIBC(__read_chk, ssize_t, (int, void *, size_t, size_t))				\
	XSOCK_LIBC(__recv_chk, ssize_t, (int, void *, size_t, size_t, int))			\
	XSOCK_LIBC(__recvfrom_chk, ssize_t,							\
		   (int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *))		\
	/* waits */										\
	XSOCK_LIBC(poll, int, (struct pollfd *, nfds_t, int))					\
	XSOCK_LIBC(ppoll, int,									\
		   (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *))	\
	XSOCK_LIBC(select, int, (int, fd_set *, fd_set *, fd_set *, struct timeval *))		\
	XSOCK_LIBC(pselect, int,								\
		   (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *)) \
	XSOCK_LIBC(epoll_ctl, int, (int, int, int, struct epoll_event *))			\
	XSOCK_LIBC(epoll_wait, int, (int, struct epoll_event *, int, int))			\
	XSOCK_LIBC(epoll_pwait, int,								\
		   (int, struct epoll_event *, int, int, const sigset_t *))			\
	XSOCK_LIBC(epoll_pwait2, int,								\
		   (int, struct epoll_event *, int, const struct timespec *, const sigset_t *))	\
	/* exec */										\
	XSOCK_LIBC(execve, int, (const char *, char *const *, char *const *))			\
	XSOCK_LIBC(execv, int, (const char *, char *const *))					\
	XSOCK_LIBC(execvp, int, (const char *, char *const *))					\
	XSOCK_LIBC(execvpe, int, (const char *, char *const *, char *const *))			\
	XSOCK_LIBC(fexecve, int, (int, char *const *, char *const *))				\
	XSOCK_LIBC(execveat, int, (int, const char *, char *const *, char *const *, int))	\
	XSOCK_LIBC(posix_spawn, int, (pid_t *, const char *, const posix_spawn_file_actions_t *, \
				      const posix_spawnattr_t *, char *const *, char *const *)) \
	XSOCK_LIBC(posix_spawnp, int, (pid_t *, const char *, const posix_spawn_file_actions_t *, \
				       const posix_spawnattr_t *, char *const *, char *const *)) \
	XSOCK_LIBC(system, int, (const char *))							\
	XSOCK_LIBC(popen, FILE *, (const char *, const char *))					\
	XSOCK_LIBC(close_range, int, (unsigned int, unsigned int, int))				\
	XSOCK_LIBC(closefrom, void, (int))							\
	/* signal dispositions: watched only (signals.c) */					\
	XSOCK_LIBC(sigaction, int, (int, const struct sigaction *, struct sigaction *))	\
	XSOCK_LIBC(signal, __sighandler_t, (int, __sighandler_t))				\
	XSOCK_LIBC(bsd_signal, __sighandler_t, (int, __sighandler_t))				\
	XSOCK_LIBC(sysv_signal, __sighandler_t, (int, __sighandler_t))			\
	XSOCK_LIBC(sigset, __sighandler_t, (int, __sighandler_t))				\
	XSOCK_LIBC(siginterrupt, int, (int, int))

/* The next definition (libc's) of each; NULL where libc has none. */
struct shim_libc {
#define XSOCK_LIBC(name, ret, args) ret (*name) args;
	XSOCK_LIBC_CALLS
#undef XSOCK_LIBC
};

extern struct shim_libc shim_real;

/*
 * Resolve the libc table (idempotent, safe as the very first call: a call
 * made before the library's constructor runs resolves it on demand).
 */
void shim_resolve(void);

/*
 * The recursion guard: while set, every wrapper goes straight to libc.
 * Set around everything the shim does internally (the store backends make
 * their own socket/read/write/close calls), and for the event thread's
 * whole life.
 */
extern __thread int shim_guard __attribute__((tls_model("initial-exec")));

#define SHIM_ENTER() (shim_guard++)
#define SHIM_LEAVE() (shim_guard--)

#endif /* XSOCK_PRELOAD_LIBC_H */
