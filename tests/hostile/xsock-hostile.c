/* SPDX-License-Identifier: MIT */
/*
 * xsock-hostile: a hostile peer for the tests of tests/hostile/ (issue 19,
 * "Hostile peers and dead domains"). It uses the core library directly, in
 * the domain XSOCK_DOMID names on the local backend, and misbehaves on
 * demand against a victim running unmodified under the shim:
 *
 *   scribble --peer S --addr A --port P --field cons|prod|none [--secs T]
 *	Connect to S's ring listener on A:P as an ordinary client (side B),
 *	then, every millisecond for T seconds (default 6), write the victim's
 *	own published index in the shared page: "cons" sets its consumer
 *	index of our direction to our producer index - 1 (one byte "to
 *	read" that is not there), "prod" sets its producer index of its
 *	direction to our consumer index (an empty ring "to write" into,
 *	while it is full), "none" nothing (the control: an honest idle peer).
 *	Kicks the victim every 100 ms. Prints "connected" once attached.
 *	Sends nothing, reads nothing.
 *   flood --peer S --port P --count N [--addr A] [--batch B] [--wait-ms W]
 *	Write N bad requests to S, B at a time (default 100): malformed
 *	values, ids of 17-20 hex digits, ids that are not hex, and
 *	well-formed requests that vanish at once, in turn. Waits up to W ms
 *	(default 3000) for S to answer a batch's malformed values, then
 *	removes the batch (as a client does once answered), so that only S's
 *	side of the store is tested. Bad ids are not waited for (S may
 *	ignore them: no client can name their answers); those S answered
 *	anyway by then count as answered, the others as ignored.
 *   stall --peer S --port P [--addr A] [--real K] [--fake M] [--secs T]
 *	Throw K requests that never attach (default 3; each with a real
 *	event channel and a life page whose byte stays 1) and M more with
 *	made-up channels (default 0), keep them alive for T seconds (default
 *	10), removing only those S refuses (as a client gives up on a
 *	refusal).
 *   connect --peer S --addr A --port P [--msg TEXT]
 *	An ordinary ring connect to A:P in domain S, whatever S bound: the
 *	request's daddr is A. With --msg, send TEXT and expect it echoed.
 *   refuse-server --peer C --port P --err N [--count K] [--secs T]
 *	A hostile listener in our domain: advertise port P to domain C and
 *	answer its first K requests (default 1) with "state=refused err=N",
 *	within T seconds (default 10). Prints "ready" once advertised.
 *
 * Each command prints one summary line ("<command>: key=value ...").
 * Exit status: 0 done, 1 a step the attack needs failed (the figures say
 * which), 2 usage, 3 (connect) the connection was refused.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "conn/conn.h"
#include "platform/platform.h"
#include "ring/ring.h"

#include <xsock/ring.h>
#include <xsock/store.h>

#define BASE_FMT XSOCK_STORE_BASE_FMT
#define FAKE_PORT 4000000u	/* no event channel or grant has this number */

struct opts {
	long peer, port, secs, count, batch, wait_ms, real, fake, err;
	const char *addr, *field, *msg;
};

static struct xs_ctx *ctx;
static struct xsp_store *st;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xsock-hostile COMMAND [OPTIONS]   (domain: XSOCK_DOMID, local backend)\n"
		"  scribble --peer S --addr A --port P --field cons|prod|none [--secs T]\n"
		"  flood --peer S --port P --count N [--addr A] [--batch B] [--wait-ms W]\n"
		"  stall --peer S --port P [--addr A] [--real K] [--fake M] [--secs T]\n"
		"  connect --peer S --addr A --port P [--msg TEXT]\n"
		"  refuse-server --peer C --port P --err N [--count K] [--secs T]\n"
		"Exit: 0 done, 1 failed (see the figures), 2 usage, 3 connect refused.\n");
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fputs("xsock-hostile: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static const char *ename(int e)
{
	const char *n = e > 0 ? strerrorname_np(e) : NULL;

	return n ? n : "?";
}

static void random_hex(char *buf, size_t ndigits)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[32];
	size_t i;

	if (ndigits > sizeof(r) || getrandom(r, ndigits, 0) != (ssize_t)ndigits)
		die("getrandom failed");
	for (i = 0; i < ndigits; i++)
		buf[i] = hex[r[i] & 15];
	buf[ndigits] = 0;
}

static void sleep_ms(int ms)
{
	poll(NULL, 0, ms);
}

static struct sockaddr_in dst_of(const struct opts *o)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port) };

	if (!o->addr || inet_pton(AF_INET, o->addr, &sin.sin_addr) != 1)
		die("--addr must be an IPv4 address");
	return sin;
}

/* Like the library's: @dir exists, owned by us, readable by @peer only. */
static void ensure_dir(const char *dir, xsp_domid_t peer)
{
	struct xsp_perm perms[2] = {
		{ .dom = ctx->self, .perm = XSP_PERM_NONE },
		{ .dom = peer, .perm = XSP_PERM_READ },
	};
	char *v = NULL;
	int rc = xsp_store_read(st, XSP_TXN_NONE, dir, &v, NULL);

	free(v);
	if (rc == -ENOENT)
		rc = xsp_store_write(st, XSP_TXN_NONE, dir, "", 0);
	if (rc == 0)
		rc = xsp_store_set_perms(st, XSP_TXN_NONE, dir, perms, 2);
	if (rc < 0)
		die("%s: %s", dir, strerror(-rc));
}

static void put(const char *path, const char *val)
{
	int rc = xsp_store_write(st, XSP_TXN_NONE, path, val, strlen(val));

	if (rc < 0)
		die("write %s: %s", path, strerror(-rc));
}

/* The state word of answer node @path: "refused", "wait", "offer", or NULL
 * (none yet); *err gets a refusal's errno. */
static const char *answer_of(const char *path, int *err)
{
	static char state[16];
	char *v = NULL, *p;
	const char *res = NULL;

	*err = 0;
	if (xsp_store_read(st, XSP_TXN_NONE, path, &v, NULL) < 0)
		return NULL;
	p = strstr(v, "state=");
	if (p && sscanf(p, "state=%15[a-z]", state) == 1)
		res = state;
	p = strstr(v, "err=");
	if (p)
		*err = atoi(p + 4);
	free(v);
	return res ? res : "?";
}

/* ---- scribble ------------------------------------------------------------------- */

static int cmd_scribble(const struct opts *o)
{
	struct sockaddr_in dst = dst_of(o);
	bool cons = strcmp(o->field, "cons") == 0, none = strcmp(o->field, "none") == 0;
	struct xsock_data_intf *d;
	struct xs_conn *c;
	int64_t end, next_kick = 0;
	unsigned long writes = 0;
	int rc;

	if (!cons && !none && strcmp(o->field, "prod") != 0)
		die("--field must be cons, prod or none");
	rc = xs_conn_connect(ctx, (xsp_domid_t)o->peer, (struct sockaddr *)&dst, sizeof(dst),
			     (uint16_t)(40000 + getpid() % 20000), &c);
	if (rc < 0) {
		printf("scribble: connect=%s\n", ename(-rc));
		return 1;
	}
	printf("connected ring %s\n", c->id);
	fflush(stdout);
	d = c->ring.intf;
	end = xs_now_ms() + o->secs * 1000;
	while (xs_now_ms() < end) {
		/*
		 * The victim (side A) publishes in_cons (its consumer index of
		 * what we produce) and out_prod (its producer index of what we
		 * consume); it must never read them back.
		 */
		if (cons)
			__atomic_store_n(&d->in_cons, c->ring.own->tx_prod - 1, __ATOMIC_RELEASE);
		else if (!none)
			__atomic_store_n(&d->out_prod, c->ring.own->rx_cons, __ATOMIC_RELEASE);
		writes += !none;
		if (xs_now_ms() >= next_kick) {
			xsp_evtchn_notify(c->ev);
			xsp_evtchn_ack(c->ev);
			next_kick = xs_now_ms() + 100;
		}
		sleep_ms(1);
	}
	printf("scribble: field=%s secs=%ld writes=%lu\n", o->field, o->secs, writes);
	xs_conn_close(c);
	return 0;
}

/* ---- flood ----------------------------------------------------------------------- */

enum { K_MALFORMED, K_LONG_ID, K_NOT_HEX, K_VANISH, K_KINDS };

struct req {
	char id[32];
	int kind;
	bool answered;
};

static void flood_value(const struct opts *o, int kind, unsigned long i, char *v, size_t len)
{
	long p = o->port;
	const char *a = o->addr;

	if (kind != K_MALFORMED) {
		snprintf(v, len, "port=%ld sport=40001 daddr=%s evtchn=%u life=%u pid=%d", p, a,
			 FAKE_PORT, FAKE_PORT, (int)getpid());
		return;
	}
	switch ((i / K_KINDS) % 5) {
	case 0:
		snprintf(v, len, "port=%ld sport=40001 daddr=%s evtchn=1 life=-1", p, a);
		break;
	case 1:
		snprintf(v, len, "port=%ld sport=40001 daddr=%s", p, a);	/* no evtchn */
		break;
	case 2:
		snprintf(v, len, "port=%ld sport=40001 sport=40002 daddr=%s evtchn=1", p, a);
		break;
	case 3:
		snprintf(v, len, "port=%ld sport=99999 daddr=%s evtchn=1", p, a);	/* range */
		break;
	default:
		snprintf(v, len, "port=%ld sport=40001 daddr=%s evtchn=\x01", p, a);	/* control */
		break;
	}
}

static int cmd_flood(const struct opts *o)
{
	char rdir[128], path[192], apath[192], val[256];
	struct req *b = calloc((size_t)o->batch, sizeof(*b));
	unsigned long sent = 0, tally[4] = { 0 }, unanswered = 0, ignored = 0;
	int64_t t0 = xs_now_ms();
	long i, n;

	if (!b)
		die("out of memory");
	snprintf(rdir, sizeof(rdir), BASE_FMT "/req/%ld", ctx->self, o->peer);
	ensure_dir(rdir, (xsp_domid_t)o->peer);
	while (sent < (unsigned long)o->count) {
		int64_t deadline;
		bool all;

		n = XS_MIN(o->batch, o->count - (long)sent);
		for (i = 0; i < n; i++, sent++) {
			struct req *r = &b[i];

			r->kind = (int)(sent % K_KINDS);
			r->answered = r->kind != K_MALFORMED;	/* waited for */
			if (r->kind == K_LONG_ID) {
				random_hex(r->id, 17 + (sent / K_KINDS) % 4);
			} else {
				random_hex(r->id, 16);
				if (r->kind == K_NOT_HEX)
					memcpy(r->id, "XYZ", 3);
			}
			flood_value(o, r->kind, sent, val, sizeof(val));
			snprintf(path, sizeof(path), "%s/%s", rdir, r->id);
			put(path, val);
			if (r->kind == K_VANISH)
				xsp_store_rm(st, XSP_TXN_NONE, path);
		}
		/* Until S has answered (or acknowledged) every one. */
		deadline = xs_now_ms() + o->wait_ms;
		do {
			all = true;
			for (i = 0; i < n; i++) {
				const char *s;
				int err;

				if (b[i].answered)
					continue;
				snprintf(apath, sizeof(apath), BASE_FMT "/conn/%u/%s",
					 (unsigned int)o->peer, ctx->self, b[i].id);
				s = answer_of(apath, &err);
				if (!s) {
					all = false;
					continue;
				}
				b[i].answered = true;
				tally[strcmp(s, "refused") == 0 ? 0 : strcmp(s, "wait") == 0 ? 1 :
				      strcmp(s, "offer") == 0 ? 2 : 3]++;
			}
			if (!all)
				sleep_ms(5);
		} while (!all && xs_now_ms() < deadline);
		for (i = 0; i < n; i++) {
			/* The bad ids: answered by now, or ignored. */
			if (b[i].kind == K_LONG_ID || b[i].kind == K_NOT_HEX) {
				const char *s;
				int err;

				snprintf(apath, sizeof(apath), BASE_FMT "/conn/%u/%s",
					 (unsigned int)o->peer, ctx->self, b[i].id);
				s = answer_of(apath, &err);
				if (!s)
					ignored++;
				else
					tally[strcmp(s, "refused") == 0 ? 0 :
					      strcmp(s, "wait") == 0 ? 1 :
					      strcmp(s, "offer") == 0 ? 2 : 3]++;
			}
			unanswered += !b[i].answered;
			snprintf(path, sizeof(path), "%s/%s", rdir, b[i].id);
			xsp_store_rm(st, XSP_TXN_NONE, path);
		}
	}
	printf("flood: sent=%lu refused=%lu acked=%lu offered=%lu other=%lu ignored=%lu "
	       "unanswered=%lu elapsed=%.1f\n", sent, tally[0], tally[1], tally[2], tally[3],
	       ignored, unanswered, (double)(xs_now_ms() - t0) / 1000);
	free(b);
	return 0;
}

/* ---- stall ------------------------------------------------------------------------- */

struct stalled {
	char id[24];
	struct xsp_evtchn *ev;
	struct xsp_share *life;
	bool acked, offered, gone;
};

static int cmd_stall(const struct opts *o)
{
	long total = o->real + o->fake, i, acked = 0, offered = 0, refused = 0, live;
	struct stalled *v = calloc((size_t)(total ? total : 1), sizeof(*v));
	char rdir[128], path[192], val[256], errs[128] = "";
	int64_t end;
	int rc;

	if (!v)
		die("out of memory");
	snprintf(rdir, sizeof(rdir), BASE_FMT "/req/%ld", ctx->self, o->peer);
	ensure_dir(rdir, (xsp_domid_t)o->peer);
	for (i = 0; i < total; i++) {
		struct stalled *s = &v[i];
		unsigned int port = FAKE_PORT + (unsigned int)i, life = FAKE_PORT + (unsigned int)i;

		if (i < o->real) {
			/* What a client that will never attach holds. */
			struct xsp_unmap_notify nt = { .offset = 0 };

			rc = xsp_evtchn_alloc(ctx->plat, (xsp_domid_t)o->peer, &s->ev);
			if (rc < 0)
				die("evtchn alloc: %s", strerror(-rc));
			nt.ev = s->ev;
			rc = xsp_share(ctx->plat, (xsp_domid_t)o->peer, 1, &nt, &s->life);
			if (rc < 0)
				die("share: %s", strerror(-rc));
			*(volatile uint8_t *)xsp_share_addr(s->life) = 1;
			port = xsp_evtchn_port(s->ev);
			life = xsp_share_refs(s->life)[0];
		}
		random_hex(s->id, 16);
		snprintf(val, sizeof(val), "port=%ld sport=%ld daddr=%s evtchn=%u life=%u pid=%d",
			 o->port, 20000 + i % 40000, o->addr, port, life, (int)getpid());
		snprintf(path, sizeof(path), "%s/%s", rdir, s->id);
		put(path, val);
	}
	printf("thrown real=%ld fake=%ld\n", o->real, o->fake);
	fflush(stdout);
	end = xs_now_ms() + o->secs * 1000;
	do {
		for (i = 0; i < total; i++) {
			struct stalled *s = &v[i];
			const char *a;
			int err;

			if (s->gone)
				continue;
			snprintf(path, sizeof(path), BASE_FMT "/conn/%u/%s", (unsigned int)o->peer,
				 ctx->self, s->id);
			a = answer_of(path, &err);
			if (!a)
				continue;
			if (!s->acked && strcmp(a, "wait") == 0) {
				s->acked = true;
				acked++;
			}
			if (!s->offered && strcmp(a, "offer") == 0) {
				s->offered = true;
				offered++;
			}
			if (strcmp(a, "refused") == 0) {
				/* Refused: a client gives up on it. */
				if (strlen(errs) < sizeof(errs) - 16 && !strstr(errs, ename(err)))
					snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs),
						 "%s%s", *errs ? "," : "", ename(err));
				snprintf(path, sizeof(path), "%s/%s", rdir, s->id);
				xsp_store_rm(st, XSP_TXN_NONE, path);
				s->gone = true;
				refused++;
			}
		}
		sleep_ms(100);
	} while (xs_now_ms() < end);
	for (i = 0, live = 0; i < total; i++) {
		live += !v[i].gone;
		snprintf(path, sizeof(path), "%s/%s", rdir, v[i].id);
		xsp_store_rm(st, XSP_TXN_NONE, path);
		xsp_unshare(v[i].life);
		xsp_evtchn_close(v[i].ev);
	}
	printf("stall: real=%ld fake=%ld acked=%ld offered=%ld refused=%ld (%s) kept=%ld secs=%ld\n",
	       o->real, o->fake, acked, offered, refused, *errs ? errs : "-", live, o->secs);
	free(v);
	return 0;
}

/* ---- connect ----------------------------------------------------------------------- */

static int cmd_connect(const struct opts *o)
{
	struct sockaddr_in dst = dst_of(o);
	struct xs_conn *c;
	char buf[256];
	size_t got = 0, len;
	int64_t end;
	int rc;

	rc = xs_conn_connect(ctx, (xsp_domid_t)o->peer, (struct sockaddr *)&dst, sizeof(dst),
			     (uint16_t)(40000 + getpid() % 20000), &c);
	if (rc < 0) {
		printf("connect: daddr=%s result=%s\n", o->addr, ename(-rc));
		return 3;
	}
	if (!o->msg) {
		printf("connect: daddr=%s result=connected\n", o->addr);
		xs_conn_close(c);
		return 0;
	}
	len = XS_MIN(strlen(o->msg), sizeof(buf) - 1);
	rc = (int)xsr_write(&c->ring, o->msg, len);
	end = xs_now_ms() + 3000;
	while (rc >= 0 && got < len && xs_now_ms() < end) {
		ssize_t n = xsr_read(&c->ring, buf + got, sizeof(buf) - 1 - got, 0);

		if (n > 0)
			got += (size_t)n;
		else if (n == 0 || n != -EAGAIN)
			break;
		else
			sleep_ms(2);
	}
	printf("connect: daddr=%s result=connected echo=%s\n", o->addr,
	       got == len && memcmp(buf, o->msg, len) == 0 ? "ok" : "bad");
	xs_conn_close(c);
	return 0;
}

/* ---- refuse-server ----------------------------------------------------------------- */

static int cmd_refuse_server(const struct opts *o)
{
	struct xsp_perm perms[2] = {
		{ .dom = ctx->self, .perm = XSP_PERM_NONE },
		{ .dom = (xsp_domid_t)o->peer, .perm = XSP_PERM_READ },
	};
	char lpath[128], adir[128], rdir[128], path[256], val[96], lid[24];
	char done[64][24];
	long answered = 0;
	int64_t end;
	int rc;

	snprintf(lpath, sizeof(lpath), BASE_FMT "/listen/%ld", ctx->self, o->port);
	snprintf(adir, sizeof(adir), BASE_FMT "/conn/%ld", ctx->self, o->peer);
	snprintf(rdir, sizeof(rdir), BASE_FMT "/req/%u", (unsigned int)o->peer, ctx->self);
	random_hex(lid, 16);
	snprintf(val, sizeof(val), "pid=%d id=%s", (int)getpid(), lid);
	put(lpath, val);
	rc = xsp_store_set_perms(st, XSP_TXN_NONE, lpath, perms, 2);
	if (rc < 0)
		die("perms %s: %s", lpath, strerror(-rc));
	ensure_dir(adir, (xsp_domid_t)o->peer);
	printf("ready\n");
	fflush(stdout);
	end = xs_now_ms() + o->secs * 1000;
	while (answered < o->count && answered < 64 && xs_now_ms() < end) {
		char **names = NULL;
		unsigned int n = 0, i;
		long j;

		if (xsp_store_list(st, XSP_TXN_NONE, rdir, &names, &n) == 0) {
			for (i = 0; i < n && answered < o->count && answered < 64; i++) {
				for (j = 0; j < answered; j++)
					if (strcmp(done[j], names[i]) == 0)
						break;
				if (j < answered || strlen(names[i]) >= sizeof(done[0]))
					continue;
				snprintf(path, sizeof(path), "%s/%s", adir, names[i]);
				snprintf(val, sizeof(val), "state=refused err=%ld", o->err);
				put(path, val);
				snprintf(done[answered++], sizeof(done[0]), "%s", names[i]);
			}
		}
		free(names);
		sleep_ms(2);
	}
	/* Give the last client a moment to read its answer, then tidy up. */
	sleep_ms(500);
	xsp_store_rm(st, XSP_TXN_NONE, lpath);
	for (long j = 0; j < answered; j++) {
		snprintf(path, sizeof(path), "%s/%.23s", adir, done[j]);
		xsp_store_rm(st, XSP_TXN_NONE, path);
	}
	printf("refuse-server: port=%ld err=%ld(%s) answered=%ld\n", o->port, o->err,
	       ename((int)o->err), answered);
	return answered > 0 ? 0 : 1;
}

/* ---- main ------------------------------------------------------------------------- */

static long num(const char *s, const char *name, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "xsock-hostile: --%s: want a number in %ld..%ld\n", name, min, max);
		usage(stderr);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "peer", 1, NULL, 'p' },  { "addr", 1, NULL, 'a' },	{ "port", 1, NULL, 'P' },
		{ "field", 1, NULL, 'f' }, { "secs", 1, NULL, 's' },	{ "count", 1, NULL, 'n' },
		{ "batch", 1, NULL, 'b' }, { "wait-ms", 1, NULL, 'w' }, { "real", 1, NULL, 'r' },
		{ "fake", 1, NULL, 'F' },  { "err", 1, NULL, 'e' },	{ "msg", 1, NULL, 'm' },
		{ "help", 0, NULL, 'h' },  { 0 },
	};
	struct opts o = { .peer = -1, .port = -1, .secs = -1, .count = -1, .batch = 100,
			  .wait_ms = 3000, .real = 3, .fake = 0, .err = -1, .field = "" };
	static char addrbuf[32];
	const char *cmd;
	int c, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'p': o.peer = num(optarg, "peer", 0, XSP_DOMID_SELF - 1); break;
		case 'a': o.addr = optarg; break;
		case 'P': o.port = num(optarg, "port", 1, 65535); break;
		case 'f': o.field = optarg; break;
		case 's': o.secs = num(optarg, "secs", 0, 3600); break;
		case 'n': o.count = num(optarg, "count", 1, 1000000); break;
		case 'b': o.batch = num(optarg, "batch", 1, 1000); break;
		case 'w': o.wait_ms = num(optarg, "wait-ms", 0, 600000); break;
		case 'r': o.real = num(optarg, "real", 0, 1000); break;
		case 'F': o.fake = num(optarg, "fake", 0, 100000); break;
		case 'e': o.err = num(optarg, "err", 0, 4095); break;
		case 'm': o.msg = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || o.peer < 0 || o.port < 0) {
		usage(stderr);
		return 2;
	}
	if (!o.addr) {
		/* The tests' convention: domain d is 10.77.0.d. */
		snprintf(addrbuf, sizeof(addrbuf), "10.77.0.%ld", o.peer % 256);
		o.addr = addrbuf;
	}
	rc = xs_ctx_open(&ctx);
	if (rc < 0)
		die("xs_ctx_open: %s", strerror(-rc));
	rc = xsp_store_open(ctx->plat, &st);
	if (rc < 0)
		die("store: %s", strerror(-rc));
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "scribble") == 0) {
		if (o.secs < 0)
			o.secs = 6;
		rc = cmd_scribble(&o);
	} else if (strcmp(cmd, "flood") == 0 && o.count > 0) {
		rc = cmd_flood(&o);
	} else if (strcmp(cmd, "stall") == 0) {
		if (o.secs < 0)
			o.secs = 10;
		rc = cmd_stall(&o);
	} else if (strcmp(cmd, "connect") == 0) {
		rc = cmd_connect(&o);
	} else if (strcmp(cmd, "refuse-server") == 0 && o.err >= 0) {
		if (o.secs < 0)
			o.secs = 10;
		if (o.count < 0)
			o.count = 1;
		rc = cmd_refuse_server(&o);
	} else {
		usage(stderr);
		rc = 2;
	}
	xsp_store_close(st);
	xs_ctx_close(ctx);
	return rc;
}
