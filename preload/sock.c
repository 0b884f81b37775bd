/* SPDX-License-Identifier: MIT */
/*
 * Shim sockets made and ended: a ring socket for a connected ring, put on
 * the application's fd number; the end of a ring socket or a listener with
 * its last reference. And two questions about the application's own
 * socket fds (an inet stream? bound to which port?).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/fd.h"
#include "conn/status.h"
#include "preload/evloop.h"
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/pool.h"
#include "preload/ready.h"
#include "preload/sock.h"

bool fd_is_inet_stream(int fd, int family)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (family != AF_INET && family != AF_INET6)
		return false;
	if (shim_real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return false;
	return type == SOCK_STREAM;
}

uint16_t fd_bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (shim_real.getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

int sock_install(int fd, struct shim_sock *s)
{
	int rc = shim_install(fd, s);

	if (rc < 0)
		return rc;
	s->nfds = 1;
	rc = evloop_add(s);
	if (rc < 0)
		shim_put(shim_remove(fd));
	return rc;
}

/* Put a ring socket's end A (@afd) on the application's fd number @fd,
 * keeping the file status and descriptor flags the application chose. */
int sock_take_fd(int fd, int afd, bool nonblock, bool cloexec)
{
	if (dup3(afd, fd, cloexec ? O_CLOEXEC : 0) < 0) {
		int rc = -errno;

		shim_real.close(afd);
		return rc;
	}
	shim_real.close(afd);
	if (nonblock)
		fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK);
	return 0;
}

int shim_ring_new(struct xs_conn *conn, int family, struct shim_sock **out, int *afd)
{
	struct shim_sock *s;
	int sv[2], small = 1;
	int rc;

	*out = NULL;
	*afd = -1;
	s = shim_sock_alloc();
	if (!s)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		shim_sock_free(s);
		return rc;
	}
	/* B never blocks the shim. */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	/* Under the recursion guard: its close() is the real one. */
	sv[1] = xs_fd_out_of_way(sv[1]);
	/*
	 * A tiny send buffer on A: plugging it (making A unwritable while the
	 * ring is full) then takes a couple of bytes. The kernel rounds the
	 * value up to its minimum.
	 */
	shim_real.setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	s->kind = SHIM_RING;
	s->conn = conn;
	s->bfd = sv[1];
	s->family = family;
	rc = sock_ready_init(s);
	if (rc < 0) {
		shim_real.close(sv[0]);
		shim_real.close(sv[1]);
		shim_sock_free(s);
		return rc;
	}
	s->owner = getpid();
	xs_status_attach(conn->ctx, conn);
	*out = s;
	*afd = sv[0];
	return 0;
}

static void shim_ring_free(struct shim_sock *s)
{
	SHIM_ENTER();
	/*
	 * Only the process that serves it ends the connection (once every
	 * holder closed it: evloop.c); another holder lets go of what it
	 * mapped here, or, if it never used it, of nothing.
	 */
	if (s->conn && s->owner == getpid())
		evloop_conn_end(s->conn);
	else if (s->conn && s->gen == shim_gen)
		xs_conn_let_go(s->conn);
	if (s->bfd >= 0)
		shim_real.close(s->bfd);
	sock_ready_free(s);
	shim_sock_free(s);
	SHIM_LEAVE();
}

void shim_sock_end(struct shim_sock *s)
{
	if (s->kind == SHIM_RING) {
		shim_ring_free(s);
		return;
	}
	/* A forked child's copy of a listener (or of its parent's accepting
	 * half) is not its to close. */
	SHIM_ENTER();
	if (s->owner == getpid())
		xs_listener_close(s->lst);
	if (s->acc && s->acc_pid == getpid())
		xs_acceptor_close(s->acc);
	if (s->lsh)
		munmap(s->lsh, sizeof(*s->lsh));
	SHIM_LEAVE();
	shim_sock_free(s);
}
