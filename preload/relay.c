/* SPDX-License-Identifier: MIT */
/*
 * exec: a ring handed over as the new program's stdin, stdout or stderr
 * (adopt.c) is relayed through a plain socketpair (docs/protocol.md,
 * "What crosses exec").
 *
 * Why: stdio (fread, fgets, printf) reads and writes its fd from inside
 * libc, through no call the shim can intercept, so a program that uses
 * stdio on a ring fd would read the shim's readiness bytes. An inetd-style
 * handler is exactly such a program. So its fds 0, 1 and 2 that name the
 * ring get one end (P) of a socketpair whose other end (Q) a relay process
 * joins to the ring: bytes each way, end of stream each way (shutdown),
 * and the end when the program has closed P everywhere (exit).
 *
 * The relay is a grandchild of the program's first instant (fork twice,
 * the middle process reaped at once), so the program never sees it among
 * its children; it holds the ring as a forked holder does (holder.c) and
 * takes the connection over when the process serving it exits.
 * getsockname() and getpeername() on those fds answer the ring's addresses
 * (names.c asks relay_name()).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/log.h"
#include "conn/conn.h"
#include "preload/evloop.h"
#include "preload/fdtable.h"
#include "preload/handover.h"
#include "preload/libc.h"
#include "preload/shim.h"

#define RELAY_BUF 65536

struct dir {
	int from, to;
	bool ring_to;			/* @to is the ring (our wrappers), else Q */
	bool open;			/* still reading @from */
	size_t len, off;		/* pending bytes in @buf */
	char buf[RELAY_BUF];
};

static struct dir in, out;		/* ring -> Q, Q -> ring */

/*
 * The ring's addresses, for getsockname()/getpeername() on the program's
 * stdio fds that are its end of the relay (P, known by its inode: an fd
 * the program has since pointed elsewhere is not it). Set before main().
 */
struct relay_name {
	bool set;
	dev_t dev;
	ino_t ino;
	struct sockaddr_storage addr[2];	/* ours, the peer's */
	socklen_t len[2];
};

static struct relay_name names[3];

bool relay_name(int fd, bool peer, struct sockaddr *addr, socklen_t *addrlen)
{
	struct relay_name *n;
	struct stat st;

	if (fd < 0 || fd > 2 || !names[fd].set)
		return false;
	n = &names[fd];
	if (fstat(fd, &st) < 0 || st.st_dev != n->dev || st.st_ino != n->ino)
		return false;
	if (!addr || !addrlen)
		return false;	/* the kernel says EFAULT */
	memcpy(addr, &n->addr[peer], *addrlen < n->len[peer] ? *addrlen : n->len[peer]);
	*addrlen = n->len[peer];
	return true;
}

/* Flush what @d holds; false when @to is gone. */
static bool dir_flush(struct dir *d)
{
	while (d->off < d->len) {
		ssize_t n = write(d->to, d->buf + d->off, d->len - d->off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		d->off += (size_t)n;
	}
	d->len = d->off = 0;
	return true;
}

/* Read more for @d; at end of stream, pass it on. */
static void dir_fill(struct dir *d)
{
	ssize_t n = read(d->from, d->buf, sizeof(d->buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		d->len = (size_t)n;
		d->off = 0;
		return;
	}
	d->open = false;
	shutdown(d->to, SHUT_WR);
}

static void relay_run(int h, int q)
{
	struct pollfd p[2];

	in = (struct dir){ .from = h, .to = q, .open = true };
	out = (struct dir){ .from = q, .to = h, .ring_to = true, .open = true };
	for (;;) {
		bool q_gone;

		p[0].fd = h;
		p[0].events = (in.open && !in.len ? POLLIN : 0) | (out.len ? POLLOUT : 0);
		p[1].fd = q;
		p[1].events = (out.open && !out.len ? POLLIN : 0) | (in.len ? POLLOUT : 0);
		p[0].revents = p[1].revents = 0;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return;
		if (in.open && !in.len && p[0].revents)
			dir_fill(&in);
		if (out.open && !out.len && p[1].revents & (POLLIN | POLLHUP | POLLERR))
			dir_fill(&out);
		if (in.len && !dir_flush(&in)) {
			in.len = 0;
			in.open = false;	/* the program is gone */
		}
		if (out.len && !dir_flush(&out))
			return;			/* the ring is gone */
		/* The program closed P everywhere, and what it wrote is passed on. */
		q_gone = p[1].revents & POLLHUP;
		if (!out.open && !out.len && (q_gone || !in.open) && !in.len)
			return;
	}
}

/* Under the relay: the program's fds it must not hold (P, other rings). */
static void relay_shed(int h, int q)
{
	/* Acquire: the entries below the mark are published (fdtable.c). */
	int fd, null, hi = __atomic_load_n(&shim_tab_hi, __ATOMIC_ACQUIRE);

	for (fd = 0; fd < hi; fd++) {
		if (fd != h && shim_maybe_ours(fd))
			close(fd);
	}
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (fd = 0; fd < 3; fd++) {
		if (fd != h && fd != q && null >= 0)
			dup2(null, fd);
	}
	if (null > 2)
		shim_real.close(null);
}

static int relay_fork(int afd, const int *stdio, int n);

int relay_start(int afd, const int *stdio, int n, const struct xs_conn *c)
{
	int i, rc, guard = shim_guard;
	struct sockaddr_storage la = c->laddr, pa = c->paddr;
	socklen_t llen = c->laddr_len, plen = c->paddr_len;
	struct stat st;

	/*
	 * Called from inside the shim: what follows goes through it. Once
	 * the relay holds the ring, our last fd of it goes and so may @c:
	 * its addresses are copied first.
	 */
	shim_guard = 0;
	rc = relay_fork(afd, stdio, n);
	shim_guard = guard;
	for (i = 0; rc == 0 && i < n; i++) {
		struct relay_name *r = &names[stdio[i]];

		if (fstat(stdio[i], &st) < 0)
			continue;
		r->dev = st.st_dev;
		r->ino = st.st_ino;
		memcpy(&r->addr[0], &la, llen);
		r->len[0] = llen;
		memcpy(&r->addr[1], &pa, plen);
		r->len[1] = plen;
		r->set = true;
	}
	return rc;
}

static int relay_fork(int afd, const int *stdio, int n)
{
	int sv[2], h, i, rc;
	pid_t pid, mid;

	/* Our own fd of the ring (the table knows it), out of the way. */
	h = fcntl(afd, F_DUPFD_CLOEXEC, xs_fd_floor() > 0 ? xs_fd_floor() : 3);
	if (h < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		close(h);
		return rc;
	}
	for (i = 0; i < n; i++)
		dup2(sv[0], stdio[i]);	/* (our dup2: the ring's entry goes) */
	shim_real.close(sv[0]);
	mid = fork();
	if (mid < 0) {
		rc = -errno;
		close(h);
		shim_real.close(sv[1]);
		return rc;
	}
	if (mid == 0) {
		pid = fork();
		if (pid != 0)
			_exit(0);
		signal(SIGPIPE, SIG_IGN);
		setsid();
		relay_shed(h, sv[1]);
		fcntl(h, F_SETFL, O_NONBLOCK);
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		xs_log(XS_LOG_DEBUG, "exec: relay for stdio fd %d started", stdio[0]);
		relay_run(h, sv[1]);
		xs_log(XS_LOG_DEBUG, "exec: relay for stdio fd %d done (in %zu, out %zu)",
		       stdio[0], in.len, out.len);
		shim_real.close(sv[1]);
		close(h);	/* ends the ring in order if we are its last holder */
		evloop_flush();
		_exit(0);
	}
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	close(h);
	shim_real.close(sv[1]);
	return 0;
}
