/* SPDX-License-Identifier: MIT */
/*
 * xsock-limits: timeouts and signals on a stream socket, as an ordinary
 * TCP program sees them (run it under the shim for the ring, without it
 * for TCP loopback; test_limits.sh compares the two).
 *
 *   xsock-limits server PORT BACKADDR BACKPORT
 *   xsock-limits client ADDR PORT BACKPORT
 *
 * The client runs each case on a fresh connection and tells the server
 * what to do with two bytes (command, tenths of a second):
 *   S n  stall: do not read for n/10 s, then read to the end
 *   D n  wait n/10 s, send one byte, then read to the end
 *   Q 0  quiet: read to the end, never send
 *   C n  wait n/10 s, connect to BACKADDR:BACKPORT and send one byte
 * Each case prints one line "CASE: RESULT" where RESULT holds only what
 * TCP fixes (return value class, errno name, whether the call waited for
 * the timeout or the signal, how often the handler ran), never timings.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *back_addr;
static int back_port;
static volatile sig_atomic_t hits;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *ename(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case EPIPE: return "EPIPE";
	case ECONNRESET: return "ECONNRESET";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINVAL: return "EINVAL";
	default: return strerrorname_np(e) ? strerrorname_np(e) : "E?";
	}
}

static int tcp_connect(const char *addr, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, addr, &sin.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("xsock-limits: connect");
		exit(1);
	}
	return fd;
}

static int tcp_listen(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 16) < 0) {
		perror("xsock-limits: listen");
		exit(1);
	}
	return fd;
}

/* ---- server ------------------------------------------------------------------------ */

static void drain(int fd)
{
	char buf[65536];

	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg, b;
	unsigned char cmd[2];

	if (recv(fd, cmd, 2, MSG_WAITALL) != 2)
		goto out;
	usleep(cmd[1] * 100000u);
	switch (cmd[0]) {
	case 'S':
		drain(fd);
		break;
	case 'D':
		send(fd, "x", 1, MSG_NOSIGNAL);
		drain(fd);
		break;
	case 'Q':
		drain(fd);
		break;
	case 'C':
		b = tcp_connect(back_addr, back_port);
		send(b, "y", 1, MSG_NOSIGNAL);
		close(b);
		drain(fd);
		break;
	default:
		break;
	}
out:
	close(fd);
	return NULL;
}

static int server(int port)
{
	int ls = tcp_listen(port);

	for (;;) {
		int fd = accept(ls, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
	return 0;
}

/* ---- client ------------------------------------------------------------------------ */

static const char *srv_addr;
static int srv_port;

static int open_case(char cmd, int tenths)
{
	unsigned char c[2] = { (unsigned char)cmd, (unsigned char)tenths };
	int fd = tcp_connect(srv_addr, srv_port);

	if (send(fd, c, 2, MSG_NOSIGNAL) != 2) {
		perror("xsock-limits: send command");
		exit(1);
	}
	usleep(100000);	/* the server takes the command out first */
	return fd;
}

static void on_signal(int sig)
{
	(void)sig;
	hits++;
}

/* SIGALRM with or without SA_RESTART, once after @ms. */
static void arm_alarm(int restart, int ms)
{
	struct sigaction sa;
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	hits = 0;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm_alarm(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_IGN);
}

static void set_timeo(int fd, int name, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, name, &tv, sizeof(tv)) < 0)
		perror("xsock-limits: setsockopt timeout");
}

static void set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* How long a call took, in terms a test can compare: "at once" (< 0.1 s),
 * "after ~X" when it is within 40% (or 0.3 s) above the expected X; for
 * @expect < 0, whether it outlasted the signal at 0.2 s. */
static const char *took(double dt, double expect)
{
	static char buf[64];

	if (dt < 0.1 && expect == 0)
		return "at once";
	if (expect < 0)
		return dt > 0.35 ? "after the signal" : "before the signal";
	if (dt >= expect * 0.8 && dt <= expect * 1.4 + 0.3) {
		snprintf(buf, sizeof(buf), "after ~%.1fs", expect);
		return buf;
	}
	snprintf(buf, sizeof(buf), "after %.2fs (expected %.1fs)", dt, expect);
	return buf;
}

static void result(const char *name, ssize_t rc, int e, double dt, double expect)
{
	if (rc < 0)
		printf("%s: -1 %s %s, handler ran %d\n", name, ename(e), took(dt, expect),
		       (int)hits);
	else
		printf("%s: %s %s, handler ran %d\n", name, rc > 0 ? "data" : "0 (EOF)",
		       took(dt, expect), (int)hits);
	fflush(stdout);
}

/* Fill the connection to a peer that does not read until sends fail. */
static void fill(int fd)
{
	static char junk[65536];
	int round;

	set_nonblock(fd, 1);
	for (round = 0; round < 4; round++) {
		while (send(fd, junk, sizeof(junk), MSG_NOSIGNAL) > 0)
			;
		usleep(100000);	/* let TCP move what it can to the receiver */
	}
	while (send(fd, junk, sizeof(junk), MSG_NOSIGNAL) > 0)
		;
	set_nonblock(fd, 0);
}

static int client(void)
{
	static char buf[65536];
	ssize_t rc;
	double t;
	int fd, e, ls, c;

	/* SO_RCVTIMEO on a quiet connection. */
	fd = open_case('Q', 0);
	set_timeo(fd, SO_RCVTIMEO, 300);
	t = now();
	rc = recv(fd, buf, 1, 0);
	e = errno;
	result("rcvtimeo", rc, e, now() - t, 0.3);
	close(fd);

	/* SO_SNDTIMEO, blocking writer, stalled reader: short counts may come
	 * first, each after the timeout; the call that writes nothing fails. */
	fd = open_case('S', 40);
	set_timeo(fd, SO_SNDTIMEO, 500);
	c = 0;
	do {
		t = now();
		rc = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
		e = errno;
		if (getenv("LIMITS_TRACE"))
			fprintf(stderr, "sndtimeo send: %zd (%.2fs)\n", rc, now() - t);
	} while (rc > 0 && ++c < 1000);
	result("sndtimeo_block", rc, e, now() - t, 0.5);
	close(fd);

	/* Non-blocking writer, stalled reader: EAGAIN at once. */
	fd = open_case('S', 20);
	set_nonblock(fd, 1);
	do {
		t = now();
		rc = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
		e = errno;
	} while (rc > 0);
	result("nonblock_send_full", rc, e, now() - t, 0);
	close(fd);

	/* recv interrupted by a handler without SA_RESTART. */
	fd = open_case('Q', 0);
	arm_alarm(0, 200);
	t = now();
	rc = recv(fd, buf, 1, 0);
	e = errno;
	disarm_alarm();
	result("recv_eintr", rc, e, now() - t, 0.2);
	close(fd);

	/* ... with SA_RESTART: restarted; data after 0.8 s ends it. */
	fd = open_case('D', 8);
	arm_alarm(1, 200);
	t = now();
	rc = recv(fd, buf, 1, 0);
	e = errno;
	disarm_alarm();
	result("recv_restart", rc, e, now() - t, 0.8);
	close(fd);

	/* SA_RESTART but SO_RCVTIMEO set: TCP does not restart, EINTR. */
	fd = open_case('Q', 0);
	set_timeo(fd, SO_RCVTIMEO, 2000);
	arm_alarm(1, 200);
	t = now();
	rc = recv(fd, buf, 1, 0);
	e = errno;
	disarm_alarm();
	result("recv_restart_with_rcvtimeo", rc, e, now() - t, 0.2);
	close(fd);

	/* send into a full connection, interrupted without SA_RESTART. */
	fd = open_case('S', 30);
	fill(fd);
	arm_alarm(0, 200);
	t = now();
	rc = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
	e = errno;
	disarm_alarm();
	result("send_eintr", rc, e, now() - t, 0.2);
	close(fd);

	/* ... with SA_RESTART: the reader starts after 1.2 s, the send completes. */
	fd = open_case('S', 12);
	fill(fd);
	arm_alarm(1, 200);
	t = now();
	rc = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
	e = errno;
	disarm_alarm();
	if (rc > 0 && rc != (ssize_t)sizeof(buf))
		printf("send_restart_short: %zd of %zu\n", rc, sizeof(buf));
	result("send_restart", rc, e, now() - t, -1);
	close(fd);

	/* accept on a listener nobody connects to, without SA_RESTART. */
	ls = tcp_listen(back_port);
	arm_alarm(0, 200);
	t = now();
	c = accept(ls, NULL, NULL);
	e = errno;
	disarm_alarm();
	result("accept_eintr", c, e, now() - t, 0.2);
	if (c >= 0)
		close(c);

	/* ... with SA_RESTART: the server connects back after 0.8 s. */
	fd = open_case('C', 8);
	arm_alarm(1, 200);
	t = now();
	c = accept(ls, NULL, NULL);
	e = errno;
	disarm_alarm();
	if (c >= 0) {
		rc = recv(c, buf, 1, MSG_WAITALL);
		if (rc != 1 || buf[0] != 'y')
			printf("accept_restart_data: wrong (%zd)\n", rc);
		close(c);
	}
	result("accept_restart", c >= 0 ? 1 : -1, e, now() - t, 0.8);
	close(fd);
	close(ls);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 5 && !strcmp(argv[1], "server")) {
		back_addr = argv[3];
		back_port = atoi(argv[4]);
		return server(atoi(argv[2]));
	}
	if (argc == 5 && !strcmp(argv[1], "client")) {
		srv_addr = argv[2];
		srv_port = atoi(argv[3]);
		back_port = atoi(argv[4]);
		return client();
	}
	fprintf(stderr, "usage: xsock-limits server PORT BACKADDR BACKPORT\n"
		"       xsock-limits client ADDR PORT BACKPORT\n");
	return 2;
}
