/* SPDX-License-Identifier: MIT */
/*
 * xsock-connbench: connection set-up rate of an ordinary TCP program
 * (it knows nothing of xsock; run it under the shim to measure the shim).
 *
 *   xsock-connbench server PORT
 *	accept, read one request (up to 64 bytes), answer it, close; forever.
 *   xsock-connbench client HOST PORT SECONDS
 *	connect, send a 16-byte request, read the answer, close; in a loop
 *	for SECONDS. Prints "connections N in S s: R per second" and exits 1
 *	if any cycle failed or an answer differed.
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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int server(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, ls;

	signal(SIGPIPE, SIG_IGN);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 128) < 0) {
		perror("xsock-connbench: listen");
		return 1;
	}
	for (;;) {
		char buf[64];
		ssize_t n;
		int c = accept(ls, NULL, NULL);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("xsock-connbench: accept");
			return 1;
		}
		n = read(c, buf, sizeof(buf));
		if (n > 0 && write(c, buf, (size_t)n) != n)
			perror("xsock-connbench: write");
		close(c);
	}
}

static int client(const char *host, int port, double secs)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static const char req[16] = "GET /0123456789";
	unsigned long done = 0, failed = 0;
	double t0, t;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "xsock-connbench: bad address %s\n", host);
		return 2;
	}
	t0 = now();
	do {
		char buf[64];
		size_t got = 0;
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    write(s, req, sizeof(req)) != (ssize_t)sizeof(req)) {
			if (!failed)
				perror("xsock-connbench: connect/write");
			failed++;
		} else {
			while (got < sizeof(req)) {
				ssize_t n = read(s, buf + got, sizeof(buf) - got);

				if (n <= 0)
					break;
				got += (size_t)n;
			}
			if (got != sizeof(req) || memcmp(buf, req, sizeof(req)) != 0) {
				if (!failed)
					fprintf(stderr, "xsock-connbench: bad answer (%zu bytes)\n", got);
				failed++;
			} else {
				done++;
			}
		}
		if (s >= 0)
			close(s);
		t = now() - t0;
	} while (t < secs);
	printf("connections %lu in %.2f s: %.0f per second, %lu failed\n", done, t,
	       (double)done / t, failed);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "server") == 0)
		return server(atoi(argv[2]));
	if (argc == 5 && strcmp(argv[1], "client") == 0)
		return client(argv[2], atoi(argv[3]), atof(argv[4]));
	fprintf(stderr, "usage: xsock-connbench server PORT\n"
			"       xsock-connbench client HOST PORT SECONDS\n");
	return 2;
}
