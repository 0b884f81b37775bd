/* SPDX-License-Identifier: MIT */
/*
 * Cross-process helpers for the local backend suites: "domains" are forked
 * children that set XSOCK_DOMID before opening the backend, and talk to the
 * test over a pair of pipes. Children report failure through their exit
 * status (the line of the failed check), never through Check itself.
 */
#ifndef XSOCK_TESTS_XPROC_H
#define XSOCK_TESTS_XPROC_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include "platform/platform.h"

/* In a child: exit with a non-zero status naming the failed line. */
#define CHILD_CHECK(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "child check failed: %s (line %d)\n",  \
				#cond, __LINE__);                              \
			_exit(1 + __LINE__ % 250);                             \
		}                                                              \
	} while (0)

struct kid {
	pid_t pid;
	int to;		/* test -> child */
	int from;	/* child -> test */
};

/* Open the local backend as domain @domid. */
static inline struct xsp *xp_open_as(unsigned int domid)
{
	struct xsp *p = NULL;
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", domid);
	setenv("XSOCK_DOMID", buf, 1);
	if (xsp_open_backend("local", &p) < 0)
		return NULL;
	return p;
}

static inline int xp_send(int fd, uint32_t v)
{
	return write(fd, &v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : -1;
}

/* Receive one value, waiting at most @ms; -1 on timeout or EOF. */
static inline int xp_recv_ms(int fd, uint32_t *v, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	return read(fd, v, sizeof(*v)) == (ssize_t)sizeof(*v) ? 0 : -1;
}

static inline int xp_recv(int fd, uint32_t *v)
{
	return xp_recv_ms(fd, v, 10000);
}

/* Fork a child running @fn(in, out, arg); its return value is the exit status. */
static inline struct kid xp_spawn(int (*fn)(int in, int out, void *arg), void *arg)
{
	struct kid k = { -1, -1, -1 };
	int a[2], b[2];

	ck_assert_int_eq(pipe(a), 0);
	ck_assert_int_eq(pipe(b), 0);
	k.pid = fork();
	ck_assert_int_ge(k.pid, 0);
	if (k.pid == 0) {
		close(a[1]);
		close(b[0]);
		_exit(fn(a[0], b[1], arg));
	}
	close(a[0]);
	close(b[1]);
	k.to = a[1];
	k.from = b[0];
	return k;
}

/* Wait for @k; returns the raw wait status. */
static inline int xp_wait(struct kid *k)
{
	int status = -1;

	while (waitpid(k->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (k->to >= 0)
		close(k->to);
	if (k->from >= 0)
		close(k->from);
	k->to = k->from = -1;
	return status;
}

static inline void xp_wait_ok(struct kid *k)
{
	int status = xp_wait(k);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child failed: status 0x%x (exit %d)", status,
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static inline void xp_kill(struct kid *k)
{
	kill(k->pid, SIGKILL);
	xp_wait(k);
}

/* Deterministic page pattern. */
static inline void xp_fill(void *buf, size_t len, uint32_t seed)
{
	unsigned char *c = buf;
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		c[i] = (unsigned char)(x >> 16);
	}
}

static inline int xp_check(const void *buf, size_t len, uint32_t seed)
{
	const unsigned char *c = buf;
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		if (c[i] != (unsigned char)(x >> 16))
			return 0;
	}
	return 1;
}

/* Number of open fds of this process. */
static inline int xp_count_fds(void)
{
	return tu_count_entries("/proc/self/fd") - 1;	/* minus the opendir fd */
}

#endif /* XSOCK_TESTS_XPROC_H */
