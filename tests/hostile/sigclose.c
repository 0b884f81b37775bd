/* SPDX-License-Identifier: MIT */
/*
 * sigclose: an ordinary TCP program (no xsock code) for
 * tests/hostile/test_signal_close.sh. close() is async-signal-safe
 * (POSIX), so a program may close a socket from a signal handler.
 *
 *   sigclose HOST PORT SECS
 *
 * Connects to HOST:PORT, adds the socket to an epoll set, then for SECS
 * seconds: keeps a dup() of the socket open and polls the set (epoll_wait
 * with timeout 0) in a loop, while an interval timer (every 200 us) raises
 * SIGALRM, whose handler closes the dup. Prints
 *   "sigclose: secs=S signals=N closes=M loops=K"
 * and exits 0; 1 if the connection or a call fails, 2 on usage. A close()
 * that deadlocks in the handler hangs the program (the test's timeout).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t cur = -1;	/* the dup the handler closes */
static volatile sig_atomic_t signals, closes;

static void on_alarm(int sig)
{
	int d = cur;
	int saved = errno;

	(void)sig;
	signals++;
	if (d >= 0) {
		cur = -1;
		if (close(d) == 0)
			closes++;
	}
	errno = saved;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	struct epoll_event ev = { .events = EPOLLIN }, evs[8];
	struct sigaction sa;
	unsigned long loops = 0;
	double secs, t0;
	int fd, ep;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
		fprintf(stderr, "usage: sigclose HOST PORT SECS\n");
		return 2;
	}
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	secs = atof(argv[3]);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		printf("sigclose: connect=%s\n", strerror(errno));
		return 1;
	}
	ep = epoll_create1(0);
	ev.data.fd = fd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		printf("sigclose: epoll=%s\n", strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = now();
	while (now() - t0 < secs) {
		if (cur < 0) {
			int d = dup(fd);

			if (d < 0) {
				printf("sigclose: dup=%s\n", strerror(errno));
				return 1;
			}
			cur = d;
		}
		if (epoll_wait(ep, evs, 8, 0) < 0 && errno != EINTR) {
			printf("sigclose: epoll_wait=%s\n", strerror(errno));
			return 1;
		}
		loops++;
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	printf("sigclose: secs=%.1f signals=%d closes=%d loops=%lu\n", now() - t0, (int)signals,
	       (int)closes, loops);
	return 0;
}
