// SPDX-License-Identifier: MIT
/*
 * Request/response round trips over one persistent TCP connection, for the
 * Xen scenario perf_vs_netfront (tests/xen/scenarios-net.sh): an ordinary
 * TCP program (no xsock code; run it under the shim to measure the shim).
 * The guests have no sockperf or Python.
 *
 *   xsock-pingpong server PORT
 *	accept connections one after another on 0.0.0.0:PORT and echo each
 *	one's bytes back until it ends; forever.
 *   xsock-pingpong client HOST PORT N SIZE
 *	connect once (TCP_NODELAY), make max(N / 10, 10) untimed round trips,
 *	then N timed ones: write a SIZE-byte message, read the SIZE-byte echo
 *	and check it. Prints N=, SIZE=, MEAN_US=, P50_US=, P90_US=, P99_US=,
 *	MIN_US=, MAX_US=, SECS= (one per line; CLOCK_MONOTONIC) and RC=0, or
 *	RC=1 and a reason on the first error (exit status as RC).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SIZE_MAX_MSG 65536

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 0, or -1 on error or end of stream before n bytes. */
static int read_all(int fd, unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int server(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static unsigned char buf[SIZE_MAX_MSG];
	int one = 1, ls;

	signal(SIGPIPE, SIG_IGN);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 16) < 0) {
		perror("xsock-pingpong: listen");
		return 1;
	}
	for (;;) {
		int c = accept(ls, NULL, NULL);
		ssize_t r;

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("xsock-pingpong: accept");
			return 1;
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while ((r = read(c, buf, sizeof(buf))) != 0) {
			if (r < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (write_all(c, buf, (size_t)r) < 0)
				break;
		}
		close(c);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int fail(const char *why)
{
	printf("ERROR=%s: %s\nRC=1\n", why, strerror(errno));
	return 1;
}

static int client(const char *host, int port, long n, long size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static unsigned char out[SIZE_MAX_MSG], in[SIZE_MAX_MSG];
	long warm = n / 10 > 10 ? n / 10 : 10, i, j;
	double *t, t0, sum = 0;
	int one = 1, fd;

	signal(SIGPIPE, SIG_IGN);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "xsock-pingpong: bad address %s\n", host);
		return 2;
	}
	t = calloc((size_t)n, sizeof(*t));
	if (!t)
		return fail("calloc");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	t0 = now_us();
	for (i = -warm; i < n; i++) {
		double a, b;

		for (j = 0; j < size; j++)
			out[j] = (unsigned char)(i * 31 + j);
		a = now_us();
		if (write_all(fd, out, (size_t)size) < 0)
			return fail("write");
		if (read_all(fd, in, (size_t)size) < 0)
			return fail("read");
		b = now_us();
		if (memcmp(in, out, (size_t)size) != 0) {
			errno = EBADMSG;
			return fail("echo differs");
		}
		if (i == 0)
			t0 = a;
		if (i >= 0) {
			t[i] = b - a;
			sum += b - a;
		}
	}
	printf("SECS=%.3f\n", (now_us() - t0) / 1e6);
	close(fd);
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("N=%ld\nSIZE=%ld\nMEAN_US=%.1f\nP50_US=%.1f\nP90_US=%.1f\nP99_US=%.1f\n"
	       "MIN_US=%.1f\nMAX_US=%.1f\nRC=0\n",
	       n, size, sum / (double)n, t[n / 2], t[n * 9 / 10], t[n * 99 / 100], t[0], t[n - 1]);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "server") == 0)
		return server(atoi(argv[2]));
	if (argc == 6 && strcmp(argv[1], "client") == 0) {
		long n = atol(argv[4]), size = atol(argv[5]);

		if (n < 1 || size < 1 || size > SIZE_MAX_MSG) {
			fprintf(stderr, "xsock-pingpong: N >= 1, 1 <= SIZE <= %d\n", SIZE_MAX_MSG);
			return 2;
		}
		return client(argv[2], atoi(argv[3]), n, size);
	}
	fprintf(stderr, "usage: xsock-pingpong server PORT\n"
			"       xsock-pingpong client HOST PORT N SIZE\n");
	return 2;
}
