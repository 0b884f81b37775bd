/* SPDX-License-Identifier: MIT */
/*
 * xsock-ringbench: a two-process micro-benchmark of the data ring alone
 * (no platform layer). The parent is side A, a forked child side B; they
 * share an anonymous MAP_SHARED mapping holding the interface page and the
 * data area; wake-ups go through two pipes standing in for the event
 * channel.
 *
 *   stream mode (default): A writes SIZE-byte chunks for SECONDS (or BYTES),
 *       B reads with a large buffer; prints throughput.
 *   ping-pong (-p): A sends SIZE bytes (default one cache line), B echoes
 *       them; prints round-trip latency p50/p99. Waiting spins first, then
 *       sleeps on the pipe.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/compiler.h"
#include "ring/ring.h"

#define PG XSOCK_RING_PAGE_SIZE
#define MAX_SAMPLES (4u << 20)
#define SPIN_NS 50000.0		/* busy-poll this long before sleeping */

struct opts {
	uint64_t size;		/* write / message size */
	double seconds;
	uint64_t bytes;		/* 0: use seconds */
	unsigned int order;
	bool pingpong, json;
};

struct shared_res {
	uint64_t bytes, kicks, sleeps;
	int ok;
};

struct side {
	struct xsr r;
	int wake_rd, kick_wr;
	uint64_t sleeps;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static int pipe_kick(void *ctx)
{
	int fd = *(int *)ctx;
	char c = 1;

	if (write(fd, &c, 1) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/* Wait until @what may hold: spin for a while, then sleep on the pipe. */
static void side_wait(struct side *s, unsigned int what)
{
	double t0 = now();
	char buf[64];
	int i;

	do {
		for (i = 0; i < 64; i++) {
			if (xsr_poll(&s->r) & (what | XSR_ERR))
				return;
			cpu_relax();
		}
	} while ((now() - t0) * 1e9 < SPIN_NS);
	if (!xsr_prepare_wait(&s->r, what)) {
		struct pollfd pfd = { .fd = s->wake_rd, .events = POLLIN };

		s->sleeps++;
		poll(&pfd, 1, 1000);
	}
	while (read(s->wake_rd, buf, sizeof(buf)) > 0)
		;
	xsr_end_wait(&s->r);
}

/* Write or read exactly @len bytes (blocking). Returns 0 or a negative errno. */
static int xfer_all(struct side *s, uint8_t *buf, size_t len, bool wr)
{
	while (len) {
		ssize_t n = wr ? xsr_write(&s->r, buf, len) : xsr_read(&s->r, buf, len, 0);

		if (n == -EAGAIN) {
			side_wait(s, wr ? XSR_WRITABLE : XSR_READABLE);
			continue;
		}
		if (n <= 0)
			return n < 0 ? (int)n : -EPIPE;
		buf += n;
		len -= n;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xsock-ringbench [-p] [-j] [-s SIZE] [-t SECONDS | -n BYTES] [-o ORDER]\n"
		"  -s SIZE     bytes per write (stream) or per message (-p); K/M/G suffixes;\n"
		"              default 64 KiB (stream), 64 (ping-pong)\n"
		"  -t SECONDS  run time (default 2)\n"
		"  -n BYTES    transfer this many bytes instead (stream: total; -p: total echoed)\n"
		"  -o ORDER    ring order 0..%u: 2^ORDER data pages (default 6)\n"
		"  -p          ping-pong: round-trip latency p50/p99\n"
		"  -j          also print one JSON line\n",
		XSOCK_RING_MAX_ORDER);
}

static void die_opt(char opt, const char *val, const char *why)
{
	fprintf(stderr, "xsock-ringbench: invalid -%c '%s': %s\n", opt, val, why);
	exit(2);
}

static uint64_t parse_size(char opt, const char *s)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!*s || *s == '-')
		die_opt(opt, s, "expected a positive size like 64, 4K, 1M");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		die_opt(opt, s, "expected a positive size like 64, 4K, 1M");
	if (*end == 'K' || *end == 'k')
		mul = 1ull << 10;
	else if (*end == 'M' || *end == 'm')
		mul = 1ull << 20;
	else if (*end == 'G' || *end == 'g')
		mul = 1ull << 30;
	if (mul != 1)
		end++;
	if (*end || v == 0 || v > UINT64_MAX / mul)
		die_opt(opt, s, "expected a positive size like 64, 4K, 1M");
	return v * mul;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	bool have_t = false, have_s = false;
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->seconds = 2;
	o->order = 6;
	while ((c = getopt(argc, argv, "s:t:n:o:pjh")) != -1) {
		switch (c) {
		case 's':
			o->size = parse_size('s', optarg);
			have_s = true;
			break;
		case 't':
			errno = 0;
			o->seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->seconds > 0) ||
			    o->seconds > 3600)
				die_opt('t', optarg, "expected seconds in (0, 3600]");
			have_t = true;
			break;
		case 'n':
			o->bytes = parse_size('n', optarg);
			break;
		case 'o': {
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' ||
			    v > XSOCK_RING_MAX_ORDER)
				die_opt('o', optarg, "expected a ring order 0..9");
			o->order = (unsigned int)v;
			break;
		}
		case 'p':
			o->pingpong = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xsock-ringbench: unexpected argument '%s'\n", argv[optind]);
		exit(2);
	}
	if (have_t && o->bytes) {
		fprintf(stderr, "xsock-ringbench: -t and -n are mutually exclusive\n");
		exit(2);
	}
	if (!have_s)
		o->size = o->pingpong ? 64 : 64 * 1024;
	if (o->size > (64u << 20)) {
		fprintf(stderr, "xsock-ringbench: -s %" PRIu64 " too large (max 64M)\n", o->size);
		exit(2);
	}
	if (o->pingpong && o->size > xsr_half_size(o->order)) {
		fprintf(stderr, "xsock-ringbench: -p message of %" PRIu64
			" bytes does not fit a ring half of %u bytes (raise -o)\n",
			o->size, xsr_half_size(o->order));
		exit(2);
	}
}

/* ---- child (side B) ---------------------------------------------------------------- */

static int child_stream(struct side *s, struct shared_res *res)
{
	size_t len = 256 * 1024;
	uint8_t *buf = malloc(len);

	if (!buf)
		return 1;
	for (;;) {
		ssize_t n = xsr_read(&s->r, buf, len, 0);

		if (n == -EAGAIN) {
			side_wait(s, XSR_READABLE);
			continue;
		}
		if (n < 0)
			return 3;
		if (n == 0)
			break;
		res->bytes += n;
	}
	free(buf);
	return 0;
}

static int child_echo(struct side *s, const struct opts *o, struct shared_res *res)
{
	uint8_t *buf = malloc(o->size);

	if (!buf)
		return 1;
	for (;;) {
		ssize_t n = xsr_read(&s->r, buf, o->size, XSR_PEEK);
		int rc;

		if (n == -EAGAIN) {
			side_wait(s, XSR_READABLE);
			continue;
		}
		if (n == 0)
			break;
		if (n < 0)
			return 3;
		rc = xfer_all(s, buf, o->size, false);
		if (rc == 0)
			rc = xfer_all(s, buf, o->size, true);
		if (rc < 0)
			return 4;
		res->bytes += o->size;
	}
	free(buf);
	return 0;
}

/* ---- parent (side A) --------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct opts o;
	size_t data_len, map_len;
	struct shared_res *res;
	int to_a[2], to_b[2], status, i, rc = 0;
	uint64_t sent = 0, rounds = 0;
	uint32_t *samples = NULL;
	struct side a;
	uint8_t *m, *buf;
	double t0, dt;
	pid_t pid;

	parse_opts(argc, argv, &o);
	data_len = (size_t)PG << o.order;
	map_len = PG + data_len + PG;
	m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || pipe(to_a) || pipe(to_b)) {
		perror("xsock-ringbench: setup");
		return 1;
	}
	res = (struct shared_res *)(m + PG + data_len);
	for (i = 0; i < 2; i++) {
		fcntl(to_a[i], F_SETFL, O_NONBLOCK);
		fcntl(to_b[i], F_SETFL, O_NONBLOCK);
	}
	if (xsr_format(m, o.order, NULL) < 0) {
		fprintf(stderr, "xsock-ringbench: format failed\n");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("xsock-ringbench: fork");
		return 1;
	}
	if (pid == 0) {
		struct side b = { .wake_rd = to_b[0], .kick_wr = to_a[1] };
		unsigned int order;

		if (xsr_read_layout(m, XSOCK_RING_MAX_ORDER, &order, NULL) < 0 ||
		    xsr_attach(&b.r, XSR_SIDE_B, m, m + PG, order, pipe_kick, &b.kick_wr) < 0)
			_exit(5);
		rc = o.pingpong ? child_echo(&b, &o, res) : child_stream(&b, res);
		res->kicks = b.r.kicks;
		res->sleeps = b.sleeps;
		res->ok = rc == 0;
		_exit(rc);
	}
	memset(&a, 0, sizeof(a));
	a.wake_rd = to_a[0];
	a.kick_wr = to_b[1];
	xsr_attach(&a.r, XSR_SIDE_A, m, m + PG, o.order, pipe_kick, &a.kick_wr);
	buf = malloc(o.size);
	if (!buf)
		return 1;
	memset(buf, 0xa5, o.size);
	if (o.pingpong)
		samples = malloc(sizeof(*samples) * MAX_SAMPLES);
	if (o.pingpong && !samples)
		return 1;

	t0 = now();
	if (!o.pingpong) {
		while (o.bytes ? sent < o.bytes : true) {
			uint64_t want = o.bytes ? XS_MIN(o.size, o.bytes - sent) : o.size;
			ssize_t n = xsr_write(&a.r, buf, want);

			if (n == -EAGAIN) {
				side_wait(&a, XSR_WRITABLE);
			} else if (n <= 0) {
				rc = 1;
				break;
			} else {
				sent += n;
			}
			if (!o.bytes && (++rounds & 1023) == 0 && now() - t0 >= o.seconds)
				break;
		}
		xsr_shutdown_tx(&a.r);
	} else {
		for (;;) {
			double t1 = now();

			if (xfer_all(&a, buf, o.size, true) < 0 ||
			    xfer_all(&a, buf, o.size, false) < 0) {
				rc = 1;
				break;
			}
			if (rounds < MAX_SAMPLES)
				samples[rounds] = (uint32_t)XS_MIN((now() - t1) * 1e9, 4e9);
			rounds++;
			sent += o.size;
			if (o.bytes ? sent >= o.bytes : now() - t0 >= o.seconds)
				break;
		}
		xsr_shutdown_tx(&a.r);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) ||
	    !res->ok)
		rc = 1;
	dt = now() - t0;
	if (rc || res->bytes != sent) {
		fprintf(stderr, "xsock-ringbench: transfer failed (sent %" PRIu64 ", received %"
			PRIu64 ")\n", sent, res->bytes);
		return 1;
	}
	if (!o.pingpong) {
		double mbs = sent / dt / 1e6;
		double wps = (double)sent / o.size / dt;

		printf("stream: order %u (%u B/half), %" PRIu64 " B writes: %" PRIu64
		       " B in %.3f s = %.1f MB/s, %.2f Mwrites/s, kicks %" PRIu64 "/%" PRIu64
		       ", sleeps %" PRIu64 "/%" PRIu64 "\n",
		       o.order, xsr_half_size(o.order), o.size, sent, dt, mbs, wps / 1e6,
		       a.r.kicks, res->kicks, a.sleeps, res->sleeps);
		if (o.json)
			printf("{\"mode\":\"stream\",\"order\":%u,\"write_size\":%" PRIu64
			       ",\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"mb_per_s\":%.1f,"
			       "\"writes_per_s\":%.0f,\"kicks_a\":%" PRIu64 ",\"kicks_b\":%" PRIu64
			       ",\"sleeps_a\":%" PRIu64 ",\"sleeps_b\":%" PRIu64 "}\n",
			       o.order, o.size, sent, dt, mbs, wps, a.r.kicks, res->kicks,
			       a.sleeps, res->sleeps);
	} else {
		uint64_t ns = XS_MIN(rounds, (uint64_t)MAX_SAMPLES);
		double p50, p99;

		qsort(samples, ns, sizeof(*samples), cmp_u32);
		p50 = samples[ns / 2] / 1e3;
		p99 = samples[XS_MIN(ns - 1, ns * 99 / 100)] / 1e3;
		printf("pingpong: order %u, %" PRIu64 " B messages: %" PRIu64
		       " round trips in %.3f s, rtt p50 %.2f us, p99 %.2f us, sleeps %" PRIu64
		       "/%" PRIu64 "\n",
		       o.order, o.size, rounds, dt, p50, p99, a.sleeps, res->sleeps);
		if (o.json)
			printf("{\"mode\":\"pingpong\",\"order\":%u,\"msg_size\":%" PRIu64
			       ",\"round_trips\":%" PRIu64 ",\"seconds\":%.6f,\"rtt_p50_us\":%.3f,"
			       "\"rtt_p99_us\":%.3f,\"sleeps_a\":%" PRIu64 ",\"sleeps_b\":%" PRIu64
			       "}\n",
			       o.order, o.size, rounds, dt, p50, p99, a.sleeps, res->sleeps);
	}
	free(samples);
	free(buf);
	xsr_detach(&a.r);
	munmap(m, map_len);
	return 0;
}
