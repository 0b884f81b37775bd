/* SPDX-License-Identifier: MIT */
/*
 * xsock-soak: an integrity soak test that is an ordinary TCP program (it
 * knows nothing of xsock; run it under the shim to test the ring).
 *
 *   xsock-soak server PORT
 *	Serves every connection in its own thread until a "quit" client
 *	comes; then prints a summary and exits 0, or 1 if any connection
 *	failed.
 *   xsock-soak client HOST PORT [-b BYTES] [-c CONNS] [-t] [-s SEED]
 *	CONNS connections at once (default 1), each carrying BYTES (default
 *	64 MiB) of a seeded pseudo-random stream in both directions at once.
 *	-t: threaded mode (one thread sends, one receives and a third polls
 *	the same socket) instead of the phase mode below.
 *   xsock-soak client HOST PORT -m CONNS [-x MAXBYTES] [-s SEED]
 *	Many-connection mode: CONNS connections opened and closed in random
 *	order (up to 32 open at once), each with a random small transfer
 *	(0..MAXBYTES, default 48 KiB, each way) and a random close order.
 *   xsock-soak quit HOST PORT
 *	Stops the server.
 *
 * Each sender writes random sizes (1 B .. 256 KiB) and then the SHA-256 of
 * what it sent; each receiver reads random sizes, hashes what it got and
 * compares (and also compares with the stream it expects, to name the
 * first bad offset). The server tells the client its verdict in one byte.
 * A connection runs in phases at byte offsets both sides derive from the
 * connection seed; each side picks per phase, on its own, one of: poll()
 * on a non-blocking socket, edge-triggered epoll, or blocking calls (a
 * second thread writes while the first reads). Since the phase boundaries
 * are common, no mixture can deadlock.
 *
 * Exit status 0 when every byte arrived intact, 1 otherwise; a one-line
 * summary on stdout.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAXIO (256u << 10)
#define IO_TIMEOUT_MS 120000
#define MAGIC 0x58534b31u	/* "XSK1" */
#define F_SRV_CLOSES 1u		/* the server closes first */
#define F_THREADS 2u		/* threaded mode */
#define F_QUIT 4u		/* stop the server */
#define MAX_OPEN 32

/* ---- SHA-256 (FIPS 180-4) ----------------------------------------------------------- */

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t n;
};

static const uint32_t K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] +
		     w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->n = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->len += len;
	if (s->n) {
		size_t k = 64 - s->n < len ? 64 - s->n : len;

		memcpy(s->buf + s->n, p, k);
		s->n += k;
		p += k;
		len -= k;
		if (s->n < 64)
			return;
		sha256_block(s->h, s->buf);
		s->n = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		sha256_block(s->h, p);
	memcpy(s->buf, p, len);
	s->n = len;
}

static void sha256_final(struct sha256 *s, uint8_t out[32])
{
	uint64_t bits = s->len * 8;
	int i;

	s->buf[s->n++] = 0x80;
	if (s->n > 56) {
		memset(s->buf + s->n, 0, 64 - s->n);
		sha256_block(s->h, s->buf);
		s->n = 0;
	}
	memset(s->buf + s->n, 0, 56 - s->n);
	for (i = 0; i < 8; i++)
		s->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_block(s->h, s->buf);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

/* ---- xoshiro256** seeded with splitmix64 ---------------------------------------------- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix(&seed);
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s, res = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = s[3] << 45 | s[3] >> 19;
	return res;
}

/* Uniform-ish in [lo, hi]. */
static uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
	return lo + rng_next(r) % (hi - lo + 1);
}

/* An I/O size 1 .. MAXIO, log-uniform so that small calls are common. */
static size_t rng_iosize(struct rng *r)
{
	unsigned int bits = (unsigned int)rng_range(r, 0, 18);

	return (size_t)rng_range(r, 1, (1u << bits) > MAXIO ? MAXIO : (1u << bits));
}

/* A byte stream from a generator: bytes come from successive 64-bit words. */
struct stream {
	struct rng r;
	uint64_t word;
	unsigned int avail;
};

static void stream_fill(struct stream *st, uint8_t *p, size_t n)
{
	while (n) {
		if (st->avail == 0 && n >= 8) {
			uint64_t w = rng_next(&st->r);

			memcpy(p, &w, 8);
			p += 8;
			n -= 8;
			continue;
		}
		if (st->avail == 0) {
			st->word = rng_next(&st->r);
			st->avail = 8;
		}
		*p++ = (uint8_t)st->word;
		st->word >>= 8;
		st->avail--;
		n--;
	}
}

/* ---- one side of one connection -------------------------------------------------------- */

struct hdr {
	uint32_t magic, flags;
	uint64_t seed, c2s, s2c;
};

struct side {
	int fd;
	bool is_server;
	uint64_t seed;
	/* send: data then the 32-byte hash */
	struct stream txs;
	struct sha256 txh;
	uint64_t tx_n, tx_gen, tx_done;	/* data bytes; generated; written (incl. trailer) */
	uint8_t *txbuf;
	size_t txlen, txoff;
	bool tx_trailer;
	struct rng txr;			/* write sizes, call kinds */
	/* receive */
	struct stream rxs;		/* what we expect */
	struct sha256 rxh;
	uint64_t rx_n, rx_done;
	uint8_t *rxbuf, *expbuf;
	uint8_t trailer[32];
	struct rng rxr;
	int64_t first_bad;		/* offset of the first wrong byte, -1 */
	/* phases */
	struct rng phase_r, kind_r;
	uint64_t polls;			/* threaded mode: poller wake-ups */
	char err[160];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void side_err(struct side *sd, const char *what, int e)
{
	if (!sd->err[0])
		snprintf(sd->err, sizeof(sd->err), "%s: %s (tx %" PRIu64 "/%" PRIu64
			 ", rx %" PRIu64 "/%" PRIu64 ")", what, e ? strerror(e) : "failed",
			 sd->tx_done, sd->tx_n + 32, sd->rx_done, sd->rx_n + 32);
}

static int side_init(struct side *sd, int fd, bool is_server, const struct hdr *h)
{
	uint64_t c2s_seed = h->seed ^ 0x1111111111111111ull;
	uint64_t s2c_seed = h->seed ^ 0x2222222222222222ull;

	memset(sd, 0, sizeof(*sd));
	sd->fd = fd;
	sd->is_server = is_server;
	sd->seed = h->seed;
	sd->tx_n = is_server ? h->s2c : h->c2s;
	sd->rx_n = is_server ? h->c2s : h->s2c;
	rng_seed(&sd->txs.r, is_server ? s2c_seed : c2s_seed);
	rng_seed(&sd->rxs.r, is_server ? c2s_seed : s2c_seed);
	rng_seed(&sd->txr, h->seed * 3 + is_server);
	rng_seed(&sd->rxr, h->seed * 5 + is_server);
	rng_seed(&sd->kind_r, h->seed * 7 + is_server);
	rng_seed(&sd->phase_r, h->seed * 11);	/* common to both sides */
	sha256_init(&sd->txh);
	sha256_init(&sd->rxh);
	sd->first_bad = -1;
	sd->txbuf = malloc(MAXIO);
	sd->rxbuf = malloc(MAXIO);
	sd->expbuf = malloc(MAXIO);
	if (!sd->txbuf || !sd->rxbuf || !sd->expbuf)
		return -ENOMEM;
	return 0;
}

static void side_free(struct side *sd)
{
	free(sd->txbuf);
	free(sd->rxbuf);
	free(sd->expbuf);
}

static uint64_t tx_total(const struct side *sd)
{
	return sd->tx_n + 32;
}

static uint64_t rx_total(const struct side *sd)
{
	return sd->rx_n + 32;
}

/* Make sure unsent bytes sit in txbuf (the next random-sized chunk). */
static void tx_refill(struct side *sd)
{
	size_t n;

	if (sd->txoff < sd->txlen)
		return;
	sd->txoff = 0;
	if (sd->tx_gen < sd->tx_n) {
		n = rng_iosize(&sd->txr);
		if (n > sd->tx_n - sd->tx_gen)
			n = (size_t)(sd->tx_n - sd->tx_gen);
		stream_fill(&sd->txs, sd->txbuf, n);
		sha256_update(&sd->txh, sd->txbuf, n);
		sd->tx_gen += n;
		sd->txlen = n;
	} else if (!sd->tx_trailer) {
		sha256_final(&sd->txh, sd->txbuf);
		sd->tx_trailer = true;
		sd->txlen = 32;
	} else {
		sd->txlen = 0;
	}
}

/* One write call of at most @lim bytes; returns its result (-1 + errno). */
static ssize_t do_write(struct side *sd, uint64_t lim, int flags)
{
	size_t n;
	ssize_t rc;

	tx_refill(sd);
	n = sd->txlen - sd->txoff;
	if (n > lim - sd->tx_done)
		n = (size_t)(lim - sd->tx_done);
	switch (rng_next(&sd->txr) % 4) {
	case 0:
		if (!flags) {
			rc = write(sd->fd, sd->txbuf + sd->txoff, n);
			break;
		}
		/* fall through */
	case 1:
		rc = send(sd->fd, sd->txbuf + sd->txoff, n, flags | MSG_NOSIGNAL);
		break;
	case 2: {
		struct iovec iov[3];
		size_t a = n / 3, b = n / 2;

		iov[0].iov_base = sd->txbuf + sd->txoff;
		iov[0].iov_len = a;
		iov[1].iov_base = sd->txbuf + sd->txoff + a;
		iov[1].iov_len = b - a;
		iov[2].iov_base = sd->txbuf + sd->txoff + b;
		iov[2].iov_len = n - b;
		if (!flags) {
			rc = writev(sd->fd, iov, 3);
		} else {
			struct msghdr m = { .msg_iov = iov, .msg_iovlen = 3 };

			rc = sendmsg(sd->fd, &m, flags | MSG_NOSIGNAL);
		}
		break;
	}
	default: {
		struct iovec iov = { sd->txbuf + sd->txoff, n };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

		rc = sendmsg(sd->fd, &m, flags | MSG_NOSIGNAL);
		break;
	}
	}
	if (rc > 0) {
		sd->txoff += (size_t)rc;
		sd->tx_done += (uint64_t)rc;
	}
	return rc;
}

static void rx_account(struct side *sd, const uint8_t *p, size_t n)
{
	uint64_t off = sd->rx_done;

	/* data part */
	if (off < sd->rx_n) {
		size_t k = n < sd->rx_n - off ? n : (size_t)(sd->rx_n - off);

		sha256_update(&sd->rxh, p, k);
		stream_fill(&sd->rxs, sd->expbuf, k);
		if (sd->first_bad < 0 && memcmp(p, sd->expbuf, k)) {
			size_t i = 0;

			while (p[i] == sd->expbuf[i])
				i++;
			sd->first_bad = (int64_t)(off + i);
		}
		p += k;
		n -= k;
		off += k;
	}
	/* the trailer */
	if (n)
		memcpy(sd->trailer + (off - sd->rx_n), p, n);
}

static ssize_t do_read(struct side *sd, uint64_t lim, int flags)
{
	size_t n = rng_iosize(&sd->rxr);
	ssize_t rc;

	if (n > lim - sd->rx_done)
		n = (size_t)(lim - sd->rx_done);
	switch (rng_next(&sd->rxr) % 4) {
	case 0:
		if (!flags) {
			rc = read(sd->fd, sd->rxbuf, n);
			break;
		}
		/* fall through */
	case 1:
		rc = recv(sd->fd, sd->rxbuf, n, flags);
		break;
	case 2: {
		struct iovec iov[2] = { { sd->rxbuf, n / 2 }, { sd->rxbuf + n / 2, n - n / 2 } };

		if (!flags) {
			rc = readv(sd->fd, iov, 2);
		} else {
			struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };

			rc = recvmsg(sd->fd, &m, flags);
		}
		break;
	}
	default:
		rc = recvfrom(sd->fd, sd->rxbuf, n, flags, NULL, NULL);
		break;
	}
	if (rc > 0) {
		rx_account(sd, sd->rxbuf, (size_t)rc);
		sd->rx_done += (uint64_t)rc;
	} else if (rc == 0) {
		errno = EPIPE;	/* early end of stream */
		rc = -1;
	}
	return rc;
}

static int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	return fcntl(fd, F_SETFL, fl);
}

/* poll() on a non-blocking socket, level-triggered, until both limits. */
static int phase_poll(struct side *sd, uint64_t txl, uint64_t rxl)
{
	if (set_nonblock(sd->fd, true) < 0)
		return side_err(sd, "fcntl", errno), -1;
	while (sd->tx_done < txl || sd->rx_done < rxl) {
		struct pollfd p = { .fd = sd->fd };
		int rc;

		p.events = (sd->tx_done < txl ? POLLOUT : 0) | (sd->rx_done < rxl ? POLLIN : 0);
		rc = poll(&p, 1, IO_TIMEOUT_MS);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return side_err(sd, "poll", rc ? errno : ETIMEDOUT), -1;
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && sd->rx_done < rxl) {
			/* A few reads per wake-up; the last may see EAGAIN. */
			int k = (int)rng_range(&sd->rxr, 1, 4);

			while (k-- && sd->rx_done < rxl) {
				int fl = (rng_next(&sd->rxr) & 1) ? MSG_DONTWAIT : 0;

				if (do_read(sd, rxl, fl) >= 0)
					continue;
				if (errno == EAGAIN)
					break;
				return side_err(sd, "read", errno), -1;
			}
		}
		if ((p.revents & (POLLOUT | POLLERR)) && sd->tx_done < txl) {
			if (do_write(sd, txl, 0) < 0 && errno != EAGAIN)
				return side_err(sd, "write", errno), -1;
		}
		if ((p.revents & POLLNVAL))
			return side_err(sd, "poll", EBADF), -1;
	}
	return 0;
}

/* Edge-triggered epoll: after each event, do I/O until EAGAIN (or the limit). */
static int phase_epoll(struct side *sd, int ep, uint64_t txl, uint64_t rxl)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.fd = sd->fd };

	if (set_nonblock(sd->fd, true) < 0)
		return side_err(sd, "fcntl", errno), -1;
	/* MOD re-arms the edge: readiness left over from earlier phases counts. */
	if (epoll_ctl(ep, EPOLL_CTL_MOD, sd->fd, &ev) < 0)
		return side_err(sd, "epoll_ctl", errno), -1;
	while (sd->tx_done < txl || sd->rx_done < rxl) {
		int rc = epoll_wait(ep, &ev, 1, IO_TIMEOUT_MS);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return side_err(sd, "epoll_wait", rc ? errno : ETIMEDOUT), -1;
		if (ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
			while (sd->rx_done < rxl) {
				if (do_read(sd, rxl, 0) >= 0)
					continue;
				if (errno == EAGAIN)
					break;
				return side_err(sd, "read", errno), -1;
			}
		}
		if (ev.events & (EPOLLOUT | EPOLLERR)) {
			while (sd->tx_done < txl) {
				if (do_write(sd, txl, 0) >= 0)
					continue;
				if (errno == EAGAIN)
					break;
				return side_err(sd, "write", errno), -1;
			}
		}
	}
	return 0;
}

struct txjob {
	struct side *sd;
	uint64_t lim;
	int rc;
};

static void *tx_thread(void *arg)
{
	struct txjob *j = arg;

	j->rc = 0;
	while (j->sd->tx_done < j->lim) {
		if (do_write(j->sd, j->lim, 0) < 0 && errno != EINTR) {
			j->rc = errno;
			break;
		}
	}
	return NULL;
}

/* Blocking calls: a second thread writes while this one reads. */
static int phase_blocking(struct side *sd, uint64_t txl, uint64_t rxl)
{
	struct txjob j = { sd, txl, 0 };
	pthread_t t;
	int e = 0;

	if (set_nonblock(sd->fd, false) < 0)
		return side_err(sd, "fcntl", errno), -1;
	if (pthread_create(&t, NULL, tx_thread, &j))
		return side_err(sd, "pthread_create", 0), -1;
	while (sd->rx_done < rxl) {
		if (do_read(sd, rxl, 0) < 0 && errno != EINTR) {
			e = errno;
			break;
		}
	}
	if (e)
		shutdown(sd->fd, SHUT_RDWR);	/* unblock the writer */
	pthread_join(t, NULL);
	if (e)
		return side_err(sd, "blocking read", e), -1;
	if (j.rc)
		return side_err(sd, "blocking write", j.rc), -1;
	return 0;
}

/* The phase mode: both directions to the end, hashes compared. */
static int run_phases(struct side *sd)
{
	uint64_t end = 0;
	int ep, rc = 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = sd->fd };

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sd->fd, &ev) < 0) {
		side_err(sd, "epoll", errno);
		if (ep >= 0)
			close(ep);
		return -1;
	}
	while (rc == 0 && (sd->tx_done < tx_total(sd) || sd->rx_done < rx_total(sd))) {
		uint64_t txl, rxl;

		end += rng_range(&sd->phase_r, 4096, 8u << 20);
		txl = end < tx_total(sd) ? end : tx_total(sd);
		rxl = end < rx_total(sd) ? end : rx_total(sd);
		switch (rng_next(&sd->kind_r) % 3) {
		case 0:
			rc = phase_poll(sd, txl, rxl);
			break;
		case 1:
			rc = phase_epoll(sd, ep, txl, rxl);
			break;
		default:
			rc = phase_blocking(sd, txl, rxl);
			break;
		}
	}
	close(ep);
	set_nonblock(sd->fd, false);
	return rc;
}

/* ---- threaded mode: sender, receiver and poller on one socket ------------------- */

struct tctx {
	struct side *sd;
	volatile int done;	/* written by the main thread, read by the poller */
	int txrc, rxrc;
};

static void *t_send(void *arg)
{
	struct tctx *c = arg;

	while (c->sd->tx_done < tx_total(c->sd)) {
		if (do_write(c->sd, tx_total(c->sd), 0) < 0 && errno != EINTR) {
			c->txrc = errno;
			break;
		}
	}
	return NULL;
}

static void *t_recv(void *arg)
{
	struct tctx *c = arg;

	while (c->sd->rx_done < rx_total(c->sd)) {
		if (do_read(c->sd, rx_total(c->sd), 0) < 0 && errno != EINTR) {
			c->rxrc = errno;
			break;
		}
	}
	return NULL;
}

static void *t_poll(void *arg)
{
	struct tctx *c = arg;

	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { .fd = c->sd->fd, .events = POLLIN | POLLOUT };
		int soerr = 0;
		socklen_t l = sizeof(soerr);

		if (poll(&p, 1, 5) > 0)
			c->sd->polls++;
		getsockopt(c->sd->fd, SOL_SOCKET, SO_ERROR, &soerr, &l);
		if (!p.revents)
			continue;
		usleep(200);	/* level-triggered: do not spin on a ready socket */
	}
	return NULL;
}

static int run_threads(struct side *sd)
{
	struct tctx c = { .sd = sd };
	pthread_t ts, tr, tp;

	if (pthread_create(&tp, NULL, t_poll, &c))
		return side_err(sd, "pthread_create", 0), -1;
	if (pthread_create(&ts, NULL, t_send, &c)) {
		__atomic_store_n(&c.done, 1, __ATOMIC_RELEASE);
		pthread_join(tp, NULL);
		return side_err(sd, "pthread_create", 0), -1;
	}
	if (pthread_create(&tr, NULL, t_recv, &c)) {
		shutdown(sd->fd, SHUT_RDWR);
		pthread_join(ts, NULL);
		__atomic_store_n(&c.done, 1, __ATOMIC_RELEASE);
		pthread_join(tp, NULL);
		return side_err(sd, "pthread_create", 0), -1;
	}
	pthread_join(tr, NULL);
	if (c.rxrc)
		shutdown(sd->fd, SHUT_RDWR);
	pthread_join(ts, NULL);
	__atomic_store_n(&c.done, 1, __ATOMIC_RELEASE);
	pthread_join(tp, NULL);
	if (c.rxrc)
		return side_err(sd, "receiver", c.rxrc), -1;
	if (c.txrc)
		return side_err(sd, "sender", c.txrc), -1;
	return 0;
}

/* After the exchange: 0 if what came matches the peer's hash and our stream. */
static int side_check(struct side *sd)
{
	uint8_t got[32];

	sha256_final(&sd->rxh, got);
	if (memcmp(got, sd->trailer, 32)) {
		snprintf(sd->err, sizeof(sd->err), "SHA-256 of %" PRIu64 " received bytes differs "
			 "from the sender's (first bad byte at %" PRId64 ")", sd->rx_n,
			 sd->first_bad);
		return -1;
	}
	if (sd->first_bad >= 0) {
		snprintf(sd->err, sizeof(sd->err), "hash matches but byte %" PRId64 " differs "
			 "from the seeded stream", sd->first_bad);
		return -1;
	}
	return 0;
}

/* ---- helpers ---------------------------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t rc = recv(fd, (char *)buf + got, n - got, 0);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return rc == 0 ? -EPIPE : -errno;
		got += (size_t)rc;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t rc = send(fd, (const char *)buf + put, n - put, MSG_NOSIGNAL);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		put += (size_t)rc;
	}
	return 0;
}

/* Wait for the peer's close: recv must say end of stream, nothing more. */
static int expect_eof(int fd)
{
	char c;
	ssize_t rc;

	do
		rc = recv(fd, &c, 1, 0);
	while (rc < 0 && errno == EINTR);
	return rc == 0 ? 0 : rc > 0 ? -EPROTO : -errno;
}

/* Small writes must not wait for Nagle against delayed ACKs (TCP). */
static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int dial(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai, *a;
	int fd = -1, rc;

	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		fprintf(stderr, "xsock-soak: %s: %s\n", host, gai_strerror(rc));
		return -1;
	}
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			set_nodelay(fd);
			break;
		}
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	freeaddrinfo(ai);
	return fd;
}

/* ---- server --------------------------------------------------------------------------- */

static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t srv_conns, srv_bad, srv_rx, srv_tx;
static int srv_active;

static void *serve_one(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct side sd;
	struct hdr h;
	uint8_t verdict = 1;
	int rc;

	rc = read_full(fd, &h, sizeof(h));
	if (rc || h.magic != MAGIC) {
		fprintf(stderr, "xsock-soak server: bad header (%s)\n",
			rc ? strerror(-rc) : "magic");
		close(fd);
		pthread_mutex_lock(&srv_lock);
		srv_bad++;
		srv_active--;
		pthread_mutex_unlock(&srv_lock);
		return NULL;
	}
	if (h.flags & F_QUIT) {
		pthread_mutex_lock(&srv_lock);
		while (srv_active > 1) {	/* let the others finish */
			pthread_mutex_unlock(&srv_lock);
			usleep(10000);
			pthread_mutex_lock(&srv_lock);
		}
		printf("soak-server: conns=%" PRIu64 " rx=%" PRIu64 " tx=%" PRIu64
		       " mismatches=%" PRIu64 "\n", srv_conns, srv_rx, srv_tx, srv_bad);
		fflush(stdout);
		write_full(fd, srv_bad ? "1" : "0", 1);
		exit(srv_bad ? 1 : 0);
	}
	if (side_init(&sd, fd, true, &h) < 0) {
		rc = -1;
		snprintf(sd.err, sizeof(sd.err), "out of memory");
	} else {
		rc = (h.flags & F_THREADS) ? run_threads(&sd) : run_phases(&sd);
	}
	if (rc == 0)
		rc = side_check(&sd);
	verdict = rc == 0 ? 0 : 1;
	if (write_full(fd, &verdict, 1) < 0 && rc == 0) {
		rc = -1;
		snprintf(sd.err, sizeof(sd.err), "cannot send the verdict");
	}
	if (rc == 0 && !(h.flags & F_SRV_CLOSES) && expect_eof(fd) < 0) {
		rc = -1;
		snprintf(sd.err, sizeof(sd.err), "no clean end of stream after the client's close");
	}
	if (rc)
		fprintf(stderr, "xsock-soak server: connection seed %" PRIu64 ": %s\n", h.seed,
			sd.err);
	close(fd);
	pthread_mutex_lock(&srv_lock);
	srv_conns++;
	srv_bad += rc != 0;
	srv_rx += sd.rx_done;
	srv_tx += sd.tx_done;
	srv_active--;
	pthread_mutex_unlock(&srv_lock);
	side_free(&sd);
	return NULL;
}

static int server(const char *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	int ls, one = 1;
	pthread_attr_t attr;

	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(ls, 128) < 0) {
		perror("xsock-soak server: listen");
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("xsock-soak server: accept");
			return 1;
		}
		set_nodelay(fd);
		pthread_mutex_lock(&srv_lock);
		srv_active++;
		pthread_mutex_unlock(&srv_lock);
		if (pthread_create(&t, &attr, serve_one, (void *)(intptr_t)fd)) {
			fprintf(stderr, "xsock-soak server: pthread_create failed\n");
			close(fd);
			pthread_mutex_lock(&srv_lock);
			srv_active--;
			srv_bad++;
			pthread_mutex_unlock(&srv_lock);
		}
	}
}

/* ---- client ---------------------------------------------------------------------------- */

struct copts {
	const char *host, *port;
	uint64_t bytes, maxbytes, seed;
	unsigned int conns, many;
	bool threads;
};

struct cconn {
	int fd;
	struct hdr h;
	struct side sd;
	int rc;
	pthread_t t;
};

static int cconn_open(const struct copts *o, struct cconn *c, uint64_t c2s, uint64_t s2c,
		      uint32_t flags, uint64_t seed)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = dial(o->host, o->port);
	if (c->fd < 0) {
		fprintf(stderr, "xsock-soak: connect to %s:%s: %s\n", o->host, o->port,
			strerror(errno));
		return -1;
	}
	c->h = (struct hdr){ .magic = MAGIC, .flags = flags, .seed = seed, .c2s = c2s,
			     .s2c = s2c };
	rc = write_full(c->fd, &c->h, sizeof(c->h));
	if (rc < 0) {
		fprintf(stderr, "xsock-soak: header: %s\n", strerror(-rc));
		close(c->fd);
		return -1;
	}
	return 0;
}

/* Run a connection to its end: exchange, verdict, close in the agreed order. */
static int cconn_run(struct cconn *c)
{
	struct side *sd = &c->sd;
	uint8_t verdict;
	int rc;

	if (side_init(sd, c->fd, false, &c->h) < 0) {
		snprintf(sd->err, sizeof(sd->err), "out of memory");
		rc = -1;
		goto out;
	}
	rc = (c->h.flags & F_THREADS) ? run_threads(sd) : run_phases(sd);
	if (rc == 0)
		rc = side_check(sd);
	if (rc == 0) {
		rc = read_full(c->fd, &verdict, 1);
		if (rc < 0)
			snprintf(sd->err, sizeof(sd->err), "no verdict from the server: %s",
				 strerror(-rc));
		else if (verdict != 0)
			snprintf(sd->err, sizeof(sd->err), "the server saw a mismatch"), rc = -1;
	}
	if (rc == 0 && (c->h.flags & F_SRV_CLOSES)) {
		rc = expect_eof(c->fd);
		if (rc < 0)
			snprintf(sd->err, sizeof(sd->err), "no clean end of stream after the "
				 "server's close: %s", strerror(-rc));
	}
out:
	close(c->fd);
	if (rc)
		fprintf(stderr, "xsock-soak: connection seed %" PRIu64 ": %s\n", c->h.seed,
			sd->err);
	c->rc = rc;
	return rc;
}

static void *cconn_thread(void *arg)
{
	cconn_run(arg);
	return NULL;
}

static int client_bulk(const struct copts *o)
{
	struct cconn *cs = calloc(o->conns, sizeof(*cs));
	uint64_t tx = 0, rx = 0, polls = 0;
	unsigned int i, bad = 0, started = 0;
	double t0 = now(), dt;

	if (!cs)
		return 1;
	for (i = 0; i < o->conns; i++) {
		uint32_t fl = (o->threads ? F_THREADS : 0) | (i & 1 ? F_SRV_CLOSES : 0);

		if (cconn_open(o, &cs[i], o->bytes, o->bytes, fl, o->seed + i) < 0) {
			bad++;
			break;
		}
		if (pthread_create(&cs[i].t, NULL, cconn_thread, &cs[i])) {
			close(cs[i].fd);
			bad++;
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(cs[i].t, NULL);
		bad += cs[i].rc != 0;
		tx += cs[i].sd.tx_done;
		rx += cs[i].sd.rx_done;
		polls += cs[i].sd.polls;
		side_free(&cs[i].sd);
	}
	dt = now() - t0;
	printf("soak: %s mode, %u connections, %" PRIu64 " bytes sent + %" PRIu64
	       " received in %.2f s = %.1f MB/s (%.1f MB/s each way), %u mismatches%s\n",
	       o->threads ? "threaded" : "phase", o->conns, tx, rx, dt,
	       (double)(tx + rx) / dt / 1e6, (double)tx / dt / 1e6, bad,
	       bad ? " FAIL" : ", hashes equal");
	if (o->threads)
		printf("soak: poller wake-ups %" PRIu64 "\n", polls);
	free(cs);
	return bad ? 1 : 0;
}

static int client_many(const struct copts *o)
{
	struct cconn open_[MAX_OPEN];
	unsigned int nopen = 0, opened = 0, done = 0, bad = 0, maxopen = 0;
	uint64_t tx = 0, rx = 0;
	struct rng r;
	double t0 = now(), dt;

	rng_seed(&r, o->seed);
	while (opened < o->many || nopen) {
		bool do_open = opened < o->many &&
			       (nopen == 0 || (nopen < MAX_OPEN && (rng_next(&r) & 1)));

		if (do_open) {
			uint32_t fl = (rng_next(&r) & 1) ? F_SRV_CLOSES : 0;
			uint64_t c2s = rng_range(&r, 0, o->maxbytes);
			uint64_t s2c = rng_range(&r, 0, o->maxbytes);

			uint64_t seed = o->seed * 1000003 + opened;

			if (cconn_open(o, &open_[nopen], c2s, s2c, fl, seed)) {
				bad++;
				break;
			}
			nopen++;
			opened++;
			if (nopen > maxopen)
				maxopen = nopen;
		} else {
			unsigned int k = (unsigned int)rng_range(&r, 0, nopen - 1);
			struct cconn c = open_[k];

			open_[k] = open_[--nopen];
			bad += cconn_run(&c) != 0;
			tx += c.sd.tx_done;
			rx += c.sd.rx_done;
			side_free(&c.sd);
			done++;
		}
	}
	while (nopen) {	/* after a failed open */
		close(open_[--nopen].fd);
		bad++;
	}
	dt = now() - t0;
	printf("soak: many mode, %u connections (up to %u open at once), %" PRIu64
	       " bytes sent + %" PRIu64 " received in %.2f s, %u mismatches%s\n", done, maxopen,
	       tx, rx, dt, bad, bad ? " FAIL" : ", hashes equal");
	return bad || done != o->many ? 1 : 0;
}

static int client_quit(const struct copts *o)
{
	struct cconn c;
	char v = '?';

	if (cconn_open(o, &c, 0, 0, F_QUIT, 0) < 0)
		return 1;
	if (read_full(c.fd, &v, 1) < 0)
		v = '?';
	close(c.fd);
	return v == '0' ? 0 : 1;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'G': case 'g': v <<= 10; /* fall through */
	case 'M': case 'm': v <<= 10; /* fall through */
	case 'K': case 'k': v <<= 10; break;
	default: break;
	}
	return v;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: xsock-soak server PORT\n"
		"       xsock-soak client HOST PORT [-b BYTES] [-c CONNS] [-t] [-s SEED]\n"
		"       xsock-soak client HOST PORT -m CONNS [-x MAXBYTES] [-s SEED]\n"
		"       xsock-soak quit HOST PORT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct copts o = { .bytes = 64u << 20, .maxbytes = 48u << 10, .seed = 1, .conns = 1 };
	int i;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "server"))
		return server(argv[2]);
	if (argc < 4)
		usage();
	o.host = argv[2];
	o.port = argv[3];
	if (!strcmp(argv[1], "quit"))
		return client_quit(&o);
	if (strcmp(argv[1], "client"))
		usage();
	for (i = 4; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-t")) {
			o.threads = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "-b"))
			o.bytes = parse_size(v);
		else if (!strcmp(a, "-c"))
			o.conns = (unsigned int)atoi(v);
		else if (!strcmp(a, "-m"))
			o.many = (unsigned int)atoi(v);
		else if (!strcmp(a, "-x"))
			o.maxbytes = parse_size(v);
		else if (!strcmp(a, "-s"))
			o.seed = strtoull(v, NULL, 0);
		else
			usage();
	}
	if (o.many)
		return client_many(&o);
	if (o.conns == 0)
		usage();
	return client_bulk(&o);
}
