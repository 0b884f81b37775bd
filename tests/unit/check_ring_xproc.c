/* SPDX-License-Identifier: MIT */
/*
 * Two processes, one ring: the parent (side A) and a forked child (side B)
 * share an anonymous MAP_SHARED region holding the interface page and the
 * data area. Wake-ups go through a pair of pipes (the "event channel"):
 * a kick writes a byte, a sleeper poll()s its read end after
 * xsr_prepare_wait(). Pseudo-random data (xorshift) is checksummed on both
 * sides and the checksums compared; throughput is printed to stdout.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"
#include "common/compiler.h"
#include "ring/ring.h"

#define PG XSOCK_RING_PAGE_SIZE
#define DEADLINE_S 50

struct results {
	uint64_t hash, bytes, kicks, sleeps;
	int ok;
};

struct side {
	struct xsr r;
	int wake_rd;		/* our end to sleep on */
	int kick_wr;		/* the peer's wake-up pipe */
	uint64_t sleeps;
	double deadline;
};

/* Word-wise FNV-style hash, independent of how the stream is chunked. */
struct hasher {
	uint64_t h, carry;
	unsigned int nc;
};

static void hash_feed(struct hasher *hs, const uint8_t *p, size_t n)
{
	uint64_t h = hs->h, w;

	while (n && hs->nc) {
		hs->carry |= (uint64_t)*p++ << (8 * hs->nc);
		n--;
		if (++hs->nc == 8) {
			h = (h ^ hs->carry) * 0x100000001b3ull;
			h ^= h >> 29;
			hs->carry = 0;
			hs->nc = 0;
		}
	}
	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	hs->h = h;
	while (n--) {
		hs->carry |= (uint64_t)*p++ << (8 * hs->nc);
		hs->nc++;
	}
}

static uint64_t hash_final(struct hasher *hs)
{
	return (hs->h ^ hs->carry ^ hs->nc) * 0x100000001b3ull;
}

static uint64_t xs64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int pipe_kick(void *ctx)
{
	int fd = *(int *)ctx;
	char c = 1;

	/* A full pipe already holds a pending wake-up. */
	if (write(fd, &c, 1) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static void drain(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Block until @what may hold. Returns 0, or -ETIMEDOUT past the deadline. */
static int side_wait(struct side *s, unsigned int what)
{
	int spin;

	for (spin = 0; spin < 256; spin++) {
		unsigned int bits = xsr_poll(&s->r);

		if (bits & (what | XSR_ERR))
			return 0;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	if (!xsr_prepare_wait(&s->r, what)) {
		struct pollfd pfd = { .fd = s->wake_rd, .events = POLLIN };

		s->sleeps++;
		if (poll(&pfd, 1, 1000) == 0 && now() > s->deadline) {
			xsr_end_wait(&s->r);
			return -ETIMEDOUT;
		}
	}
	drain(s->wake_rd);
	xsr_end_wait(&s->r);
	return 0;
}

struct xfer {
	uint64_t total;
	unsigned int order;
	uint32_t wmin, wmax;	/* write sizes */
	uint32_t rmin, rmax;	/* read sizes */
	uint64_t seed;
};

static uint32_t pick(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(xs64(s) % (hi - lo + 1));
}

/* Child: side B, read everything until EOF. */
static int reader(struct side *s, const struct xfer *x, struct results *res)
{
	uint64_t rs = x->seed ^ 0x5555, got = 0;
	struct hasher hs = { .h = 0xcbf29ce484222325ull };
	uint8_t *buf = malloc(x->rmax);

	if (!buf)
		return 1;
	for (;;) {
		ssize_t n = xsr_read(&s->r, buf, pick(&rs, x->rmin, x->rmax), 0);

		if (n == -EAGAIN) {
			if (side_wait(s, XSR_READABLE) < 0)
				return 2;
			continue;
		}
		if (n < 0)
			return 3;
		if (n == 0)
			break;
		hash_feed(&hs, buf, n);
		got += n;
	}
	free(buf);
	res->hash = hash_final(&hs);
	res->bytes = got;
	res->kicks = s->r.kicks;
	res->sleeps = s->sleeps;
	res->ok = 1;
	return 0;
}

/* Parent: side A, write x->total bytes of xorshift data then shut down. */
static int writer(struct side *s, const struct xfer *x, uint64_t *hash)
{
	enum { GEN = 1 << 20 };
	uint64_t ws = x->seed ^ 0xaaaa, gs = x->seed, sent = 0;
	struct hasher hs = { .h = 0xcbf29ce484222325ull };
	uint8_t *gen = malloc(GEN + 8);
	size_t gpos = GEN, glen = GEN;

	if (!gen)
		return -ENOMEM;
	while (sent < x->total) {
		uint32_t want = pick(&ws, x->wmin, x->wmax);
		ssize_t n;

		if (gpos == glen) {
			uint64_t *w = (uint64_t *)gen;
			size_t i;

			for (i = 0; i < GEN / 8; i++)
				w[i] = xs64(&gs);
			gpos = 0;
			glen = GEN;
			if (x->total - sent < glen)
				glen = x->total - sent;
			hash_feed(&hs, gen, glen);
		}
		want = XS_MIN(want, (uint32_t)(glen - gpos));
		n = xsr_write(&s->r, gen + gpos, want);
		if (n == -EAGAIN) {
			if (side_wait(s, XSR_WRITABLE) < 0) {
				free(gen);
				return -ETIMEDOUT;
			}
			continue;
		}
		if (n <= 0) {
			free(gen);
			return n < 0 ? (int)n : -EIO;
		}
		gpos += n;
		sent += n;
	}
	free(gen);
	*hash = hash_final(&hs);
	return xsr_shutdown_tx(&s->r);
}

static double run_xfer(const struct xfer *x, const char *label)
{
	size_t data_len = (size_t)PG << x->order;
	size_t map_len = PG + data_len + PG;
	int to_a[2], to_b[2], status, i;
	uint8_t *m;
	struct results *res;
	struct side a;
	uint64_t wh = 0;
	double t0, dt, mbs;
	pid_t pid;

	m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	res = (struct results *)(m + PG + data_len);
	ck_assert_int_eq(xsr_format(m, x->order, NULL), 0);
	ck_assert_int_eq(pipe(to_a), 0);
	ck_assert_int_eq(pipe(to_b), 0);
	for (i = 0; i < 2; i++) {
		ck_assert_int_ne(fcntl(to_a[i], F_SETFL, O_NONBLOCK), -1);
		ck_assert_int_ne(fcntl(to_b[i], F_SETFL, O_NONBLOCK), -1);
	}
	t0 = now();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct side b = { .wake_rd = to_b[0], .kick_wr = to_a[1],
				  .deadline = t0 + DEADLINE_S };
		unsigned int order;

		close(to_a[0]);
		close(to_b[1]);
		if (xsr_read_layout(m, XSOCK_RING_MAX_ORDER, &order, NULL) < 0 ||
		    order != x->order)
			_exit(4);
		if (xsr_attach(&b.r, XSR_SIDE_B, m, m + PG, order, pipe_kick, &b.kick_wr) < 0)
			_exit(5);
		_exit(reader(&b, x, res));
	}
	close(to_a[1]);
	close(to_b[0]);
	memset(&a, 0, sizeof(a));
	a.wake_rd = to_a[0];
	a.kick_wr = to_b[1];
	a.deadline = t0 + DEADLINE_S;
	ck_assert_int_eq(xsr_attach(&a.r, XSR_SIDE_A, m, m + PG, x->order, pipe_kick,
				    &a.kick_wr), 0);
	i = writer(&a, x, &wh);
	if (i < 0)
		kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	dt = now() - t0;
	ck_assert_int_eq(i, 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(res->ok, 1);
	ck_assert_uint_eq(res->bytes, x->total);
	ck_assert_uint_eq(a.r.bytes_tx, x->total);
	ck_assert_uint_eq(res->hash, wh);
	mbs = x->total / dt / 1e6;
	printf("xproc %s: %" PRIu64 " MiB in %.3f s = %.0f MB/s (kicks A %" PRIu64
	       " B %" PRIu64 ", sleeps A %" PRIu64 " B %" PRIu64 ")\n",
	       label, x->total >> 20, dt, mbs, a.r.kicks, res->kicks, a.sleeps, res->sleeps);
	fflush(stdout);
	close(to_a[0]);
	close(to_b[1]);
	xsr_detach(&a.r);
	munmap(m, map_len);
	return mbs;
}

START_TEST(test_xproc_1gib_random_chunks)
{
	struct xfer x = {
		.total = 1ull << 30, .order = 6,
		.wmin = 1, .wmax = 128 * 1024,
		.rmin = 1, .rmax = 128 * 1024,
		.seed = 0x1234567887654321ull,
	};

	ck_assert(run_xfer(&x, "1GiB random writes 1..128KiB, ring order 6") > 0);
}
END_TEST

START_TEST(test_xproc_small_writes)
{
	struct xfer x = {
		.total = 256ull << 20, .order = 4,
		.wmin = 64, .wmax = 64,
		.rmin = 1, .rmax = 64 * 1024,
		.seed = 0xfeedface,
	};

	ck_assert(run_xfer(&x, "256MiB in 64B writes, ring order 4") > 0);
}
END_TEST

/* A tiny ring and tiny random chunks: many sleeps and wake-ups. */
START_TEST(test_xproc_tiny_ring_wakeups)
{
	struct xfer x = {
		.total = 16ull << 20, .order = 0,
		.wmin = 1, .wmax = 3000,
		.rmin = 1, .rmax = 700,
		.seed = 42,
	};

	ck_assert(run_xfer(&x, "16MiB over an order-0 ring") > 0);
}
END_TEST

static Suite *xproc_suite(void)
{
	Suite *s = suite_create("ring_xproc");
	TCase *tc = tcase_create("xproc");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_xproc_1gib_random_chunks);
	tcase_add_test(tc, test_xproc_small_writes);
	tcase_add_test(tc, test_xproc_tiny_ring_wakeups);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	return tu_run(xproc_suite());
}
