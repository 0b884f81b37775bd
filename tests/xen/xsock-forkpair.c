// SPDX-License-Identifier: MIT
/*
 * An ordinary TCP client (no xsock code) that forks after connect(), for
 * the Xen scenario fork_after_connect (tests/xen/scenarios.sh): the guests
 * have no Python, so this is tests/integration/procmodel.py's client in C.
 *
 *   xsock-forkpair MODE HOST PORT BYTES [RESULT]
 *
 * Connects to an echo server, forks, and moves BYTES of a deterministic
 * stream through the echo:
 *   child-reads    the parent writes (then shuts down and closes), the
 *                  child reads the echo;
 *   parent-exits   the parent closes its copy and exits in order (its exit
 *                  code runs) at once; the child writes and reads (a
 *                  writer thread and a reader);
 *   parent-killed  the same, but the child SIGKILLs the parent at once;
 *   exec-after-connect  no fork: the process execs itself at once, the
 *                  connection on the same fd number (not stdio: no relay),
 *                  and the new image writes and reads (it serves the
 *                  connection from then on: the same pid).
 * The reader prints "BYTES=<n> SUM=<fnv1a-64 of what it read>",
 * "WANT=<fnv1a-64 of what was sent>" and "RC=<0 when they match, else 1>"
 * -- to RESULT when given (written whole, by rename: the process that
 * started may be dead by then), else to stdout; exit status as RC.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t total;
static const char *result;	/* RESULT, or NULL for stdout */

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Byte i of the stream. */
static unsigned char byte_at(size_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13 ^ (i >> 16));
}

static void *writer(void *arg)
{
	int fd = *(int *)arg;
	unsigned char buf[65536];
	size_t off = 0;

	while (off < total) {
		size_t n = total - off < sizeof(buf) ? total - off : sizeof(buf), i;
		ssize_t w;

		for (i = 0; i < n; i++)
			buf[i] = byte_at(off + i);
		for (i = 0; i < n; i += (size_t)w) {
			w = write(fd, buf + i, n - i);
			if (w <= 0) {
				perror("write");
				exit(1);
			}
		}
		off += n;
	}
	shutdown(fd, SHUT_WR);
	return NULL;
}

static int reader(int fd)
{
	unsigned char buf[65536];
	uint64_t h = 0xcbf29ce484222325ull, want = 0xcbf29ce484222325ull;
	size_t got = 0, i;
	ssize_t r;
	int rc;

	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		h = fnv(h, buf, (size_t)r);
		got += (size_t)r;
	}
	if (r < 0)
		perror("read");
	for (i = 0; i < total; i++) {
		unsigned char b = byte_at(i);

		want = fnv(want, &b, 1);
	}
	rc = got == total && h == want ? 0 : 1;
	if (result) {
		char tmp[4096];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", result);
		f = fopen(tmp, "w");
		if (!f) {
			perror(tmp);
			return 1;
		}
		fprintf(f, "BYTES=%zu SUM=%016" PRIx64 "\nWANT=%016" PRIx64 "\nRC=%d\n", got, h,
			want, rc);
		if (fclose(f) != 0 || rename(tmp, result) != 0) {
			perror(result);
			return 1;
		}
		return rc;
	}
	printf("BYTES=%zu SUM=%016" PRIx64 "\nWANT=%016" PRIx64 "\nRC=%d\n", got, h, want, rc);
	fflush(stdout);
	return rc;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	pid_t parent = getpid(), pid;
	pthread_t t;
	int fd, st;

	if (argc >= 4 && !strcmp(argv[1], "exec-image")) {
		/* exec-after-connect's new image: exec-image FD BYTES [RESULT] */
		result = argc >= 5 ? argv[4] : NULL;
		total = strtoull(argv[3], NULL, 0);
		fd = atoi(argv[2]);
		pthread_create(&t, NULL, writer, &fd);
		st = reader(fd);
		pthread_join(t, NULL);
		return st;
	}
	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: %s child-reads|parent-exits|parent-killed|exec-after-connect "
			"HOST PORT BYTES [RESULT]\n",
			argv[0]);
		return 2;
	}
	result = argc == 6 ? argv[5] : NULL;
	total = strtoull(argv[4], NULL, 0);
	sin.sin_port = htons((uint16_t)atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", argv[2]);
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("connect");
		return 1;
	}
	if (!strcmp(argv[1], "exec-after-connect")) {
		char fdnum[16];

		snprintf(fdnum, sizeof(fdnum), "%d", fd);
		execl("/proc/self/exe", argv[0], "exec-image", fdnum, argv[4], result, (char *)NULL);
		perror("exec");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (!strcmp(argv[1], "child-reads")) {
		st = 1;
		if (pid == 0)
			_exit(reader(fd));
		writer(&fd);
		close(fd);
		waitpid(pid, &st, 0);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	if (!strcmp(argv[1], "parent-killed") || !strcmp(argv[1], "parent-exits")) {
		bool killed = !strcmp(argv[1], "parent-killed");

		if (pid > 0) {
			if (!killed) {
				close(fd);
				return 0;	/* exit() with its handlers */
			}
			for (;;)
				pause();
		}
		if (killed)
			kill(parent, SIGKILL);
		else
			while (getppid() == parent)	/* until it is gone */
				usleep(20000);
		usleep(300000);
		pthread_create(&t, NULL, writer, &fd);
		st = reader(fd);
		pthread_join(t, NULL);
		_exit(st);
	}
	fprintf(stderr, "unknown mode %s\n", argv[1]);
	return 2;
}
