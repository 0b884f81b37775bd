/* SPDX-License-Identifier: MIT */
/*
 * Local backend event channels: binding rules, delivery and wake-up
 * latency across processes, peer death (SIGKILL) and the "last holder"
 * rule across fork(), SIGPIPE safety, files and fds left behind.
 */
#include "config.h"

#include <pthread.h>
#include <time.h>

#include "testutil.h"
#include "xproc.h"

static const char *dir;

static void setup(void)
{
	dir = tu_fresh_local_dir();
}

static void teardown(void)
{
	tu_rm_rf(dir);
}

static int count_evtchn_files(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/evtchn", dir);
	return tu_count_entries(path);
}

static int poll_ms(int fd, int ms, short *revents)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int rc = poll(&pfd, 1, ms);

	if (revents)
		*revents = pfd.revents;
	return rc;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ---- binding rules ----------------------------------------------------------------- */

struct bind_arg {
	unsigned int domid;
	unsigned int peer;
	xsp_port_t port;
	xsp_port_t port2;
};

/* Bind and return the result as an exit code (0 ok, else 100 + -rc). */
static int binder_try(int in, int out, void *arg)
{
	struct bind_arg *a = arg;
	struct xsp *p = xp_open_as(a->domid);
	struct xsp_evtchn *e;
	int rc;

	CHILD_CHECK(p);
	rc = xsp_evtchn_bind(p, a->peer, a->port, &e);
	if (rc == 0) {
		CHILD_CHECK(xsp_evtchn_port(e) != 0);
		CHILD_CHECK(xsp_evtchn_fd(e) >= 0);
		xsp_evtchn_close(e);
	} else {
		CHILD_CHECK(e == NULL);
	}
	xsp_close(p);
	return rc == 0 ? 0 : 100 + -rc;
}

static int try_bind(unsigned int domid, unsigned int peer, xsp_port_t port)
{
	struct bind_arg a = { .domid = domid, .peer = peer, .port = port };
	struct kid k = xp_spawn(binder_try, &a);
	int status = xp_wait(&k);

	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status) == 0 ? 0 : -(WEXITSTATUS(status) - 100);
}

/* Domain 2 binds, answers one event with one event, waits for hang-up. */
static int binder_echo(int in, int out, void *arg)
{
	struct xsp *p = xp_open_as(2);
	struct xsp_evtchn *e;
	uint32_t port;

	/* Forked before the allocation: holds none of the allocator's fds. */
	CHILD_CHECK(p);
	CHILD_CHECK(xp_recv(in, &port) == 0);
	CHILD_CHECK(xsp_evtchn_bind(p, 1, port, &e) == 0);
	CHILD_CHECK(xsp_evtchn_port(e) != port);
	CHILD_CHECK(xp_send(out, 1) == 0);
	CHILD_CHECK(xsp_evtchn_wait(e, 5000) == 1);
	CHILD_CHECK(xsp_evtchn_notify(e) == 0);
	CHILD_CHECK(xsp_evtchn_wait(e, 5000) == -EPIPE);	/* allocator closed */
	xsp_evtchn_close(e);
	xsp_close(p);
	return 0;
}

START_TEST(alloc_bind_from_peer_and_signal)
{
	struct kid k = xp_spawn(binder_echo, NULL);
	struct xsp *p = xp_open_as(1);
	struct xsp_evtchn *e;
	uint32_t v;

	ck_assert_int_eq(xsp_evtchn_alloc(p, 2, &e), 0);
	ck_assert_uint_ne(xsp_evtchn_port(e), 0);
	ck_assert_int_eq(count_evtchn_files(), 3);
	ck_assert_int_eq(xp_send(k.to, xsp_evtchn_port(e)), 0);
	ck_assert_int_eq(xp_recv(k.from, &v), 0);
	ck_assert_int_eq(count_evtchn_files(), 1);	/* FIFOs unlinked, meta stays */
	ck_assert_int_eq(xsp_evtchn_notify(e), 0);
	ck_assert_int_eq(xsp_evtchn_wait(e, 5000), 1);
	xsp_evtchn_close(e);
	ck_assert_int_eq(count_evtchn_files(), 0);
	xp_wait_ok(&k);
	xsp_close(p);
}
END_TEST

START_TEST(bind_from_other_domain_eperm)
{
	struct xsp *p = xp_open_as(1);
	struct xsp_evtchn *e;

	ck_assert_int_eq(xsp_evtchn_alloc(p, 2, &e), 0);
	ck_assert_int_eq(try_bind(3, 1, xsp_evtchn_port(e)), -EPERM);
	ck_assert_int_eq(try_bind(1, 1, xsp_evtchn_port(e)), -EPERM);
	ck_assert_int_eq(try_bind(2, 1, xsp_evtchn_port(e)), 0);	/* still bindable */
	xsp_evtchn_close(e);
	xsp_close(p);
}
END_TEST

START_TEST(bind_unknown_port_enoent)
{
	struct xsp *p = xp_open_as(1);
	struct xsp_evtchn *e;
	xsp_port_t port;

	ck_assert_int_eq(try_bind(2, 1, 4242), -ENOENT);
	ck_assert_int_eq(try_bind(2, 1, 0), -ENOENT);
	ck_assert_int_eq(xsp_evtchn_alloc(p, 2, &e), 0);
	/* Right port, wrong allocating domain. */
	ck_assert_int_eq(try_bind(2, 5, xsp_evtchn_port(e)), -ENOENT);
	port = xsp_evtchn_port(e);
	xsp_evtchn_close(e);
	/* Closed before anyone bound: withdrawn. */
	ck_assert_int_eq(try_bind(2, 1, port), -ENOENT);
	xsp_close(p);
}
END_TEST

START_TEST(double_bind_ebusy)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_evtchn *e, *b;

	ck_assert_int_eq(xsp_evtchn_alloc(p1, 2, &e), 0);
	ck_assert_int_eq(xsp_evtchn_bind(p2, 1, xsp_evtchn_port(e), &b), 0);
	ck_assert_int_eq(try_bind(2, 1, xsp_evtchn_port(e)), -EBUSY);
	xsp_evtchn_close(b);
	ck_assert_int_eq(try_bind(2, 1, xsp_evtchn_port(e)), -EBUSY);
	xsp_evtchn_close(e);
	ck_assert_int_eq(count_evtchn_files(), 0);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

START_TEST(bind_after_allocator_killed_econnrefused)
{
	struct xsp *p1;
	struct xsp_evtchn *e;
	pid_t pid;
	int go[2], status;
	uint32_t port;

	ck_assert_int_eq(pipe(go), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		p1 = xp_open_as(1);
		CHILD_CHECK(xsp_evtchn_alloc(p1, 2, &e) == 0);
		port = xsp_evtchn_port(e);
		CHILD_CHECK(write(go[1], &port, sizeof(port)) == sizeof(port));
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(go[0], &port, sizeof(port)), (ssize_t)sizeof(port));
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(count_evtchn_files(), 3);
	ck_assert_int_eq(try_bind(2, 1, port), -ECONNREFUSED);
	close(go[0]);
	close(go[1]);
}
END_TEST

/* ---- delivery ----------------------------------------------------------------------- */

/* Domain 2: bind two ports; echo every event on the first to the second. */
static int binder_pong(int in, int out, void *arg)
{
	struct xsp *p = xp_open_as(2);
	struct xsp_evtchn *ping, *pong;
	uint32_t port, port2;
	struct pollfd pfd;
	int rc;

	CHILD_CHECK(p);
	CHILD_CHECK(xp_recv(in, &port) == 0 && xp_recv(in, &port2) == 0);
	CHILD_CHECK(xsp_evtchn_bind(p, 1, port, &ping) == 0);
	CHILD_CHECK(xsp_evtchn_bind(p, 1, port2, &pong) == 0);
	CHILD_CHECK(xp_send(out, 1) == 0);
	pfd.fd = xsp_evtchn_fd(ping);
	pfd.events = POLLIN;
	for (;;) {
		CHILD_CHECK(poll(&pfd, 1, 10000) == 1);
		rc = xsp_evtchn_ack(ping);
		if (rc == -EPIPE)
			break;
		CHILD_CHECK(rc == 1);
		CHILD_CHECK(xsp_evtchn_notify(pong) == 0);
	}
	xsp_evtchn_close(ping);
	xsp_evtchn_close(pong);
	xsp_close(p);
	return 0;
}

START_TEST(notify_wakes_poll_latency)
{
	struct kid k = xp_spawn(binder_pong, NULL);
	struct xsp *p = xp_open_as(1);
	struct xsp_evtchn *ping, *pong;
	struct pollfd pfd;
	const int rounds = 10000;
	double t0, mean;
	uint32_t v;
	int i;

	ck_assert_int_eq(xsp_evtchn_alloc(p, 2, &ping), 0);
	ck_assert_int_eq(xsp_evtchn_alloc(p, 2, &pong), 0);
	ck_assert_int_eq(xp_send(k.to, xsp_evtchn_port(ping)), 0);
	ck_assert_int_eq(xp_send(k.to, xsp_evtchn_port(pong)), 0);
	ck_assert_int_eq(xp_recv(k.from, &v), 0);
	pfd.fd = xsp_evtchn_fd(pong);
	pfd.events = POLLIN;
	t0 = now_us();
	for (i = 0; i < rounds; i++) {
		ck_assert_int_eq(xsp_evtchn_notify(ping), 0);
		ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
		ck_assert_int_eq(xsp_evtchn_ack(pong), 1);
	}
	mean = (now_us() - t0) / rounds;
	printf("evtchn round trip (notify -> poll wake -> ack -> notify back): "
	       "%.2f us mean over %d\n", mean, rounds);
	ck_assert_msg(mean < 1000.0, "mean round trip %.1f us", mean);
	xsp_evtchn_close(ping);		/* the child sees -EPIPE and exits */
	xp_wait_ok(&k);
	xsp_evtchn_close(pong);
	xsp_close(p);
}
END_TEST

static int binder_expect_pending(int in, int out, void *arg)
{
	struct bind_arg *a = arg;
	struct xsp *p = xp_open_as(2);
	struct xsp_evtchn *e;
	short rev;

	CHILD_CHECK(p);
	CHILD_CHECK(xsp_evtchn_bind(p, 1, a->port, &e) == 0);
	CHILD_CHECK(poll_ms(xsp_evtchn_fd(e), 0, &rev) == 1 && (rev & POLLIN));
	CHILD_CHECK(xsp_evtchn_ack(e) == 1);
	CHILD_CHECK(xsp_evtchn_ack(e) == 0);		/* coalesced into one */
	CHILD_CHECK(poll_ms(xsp_evtchn_fd(e), 0, NULL) == 0);
	xsp_evtchn_close(e);
	xsp_close(p);
	return 0;
}

START_TEST(notify_before_bind_delivered)
{
	struct xsp *p = xp_open_as(1);
	struct bind_arg a = { .peer = 1 };
	struct xsp_evtchn *e;
	struct kid k;
	int i;

	ck_assert_int_eq(xsp_evtchn_alloc(p, 2, &e), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(xsp_evtchn_notify(e), 0);
	a.port = xsp_evtchn_port(e);
	k = xp_spawn(binder_expect_pending, &a);
	xp_wait_ok(&k);
	xsp_evtchn_close(e);
	xsp_close(p);
}
END_TEST

START_TEST(ack_zero_when_idle)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_evtchn *e, *b;

	ck_assert_int_eq(xsp_evtchn_alloc(p1, 2, &e), 0);
	/* Unbound: quiet, no hang-up although nobody writes yet. */
	ck_assert_int_eq(xsp_evtchn_ack(e), 0);
	ck_assert_int_eq(poll_ms(xsp_evtchn_fd(e), 50, NULL), 0);
	ck_assert_int_eq(xsp_evtchn_wait(e, 20), 0);
	ck_assert_int_eq(xsp_evtchn_bind(p2, 1, xsp_evtchn_port(e), &b), 0);
	ck_assert_int_eq(xsp_evtchn_ack(e), 0);
	ck_assert_int_eq(xsp_evtchn_ack(b), 0);
	ck_assert_int_eq(poll_ms(xsp_evtchn_fd(e), 20, NULL), 0);
	ck_assert_int_eq(poll_ms(xsp_evtchn_fd(b), 20, NULL), 0);
	ck_assert_int_eq(xsp_evtchn_notify(b), 0);
	ck_assert_int_eq(xsp_evtchn_wait(e, 1000), 1);
	ck_assert_int_eq(xsp_evtchn_ack(e), 0);
	xsp_evtchn_close(b);
	xsp_evtchn_close(e);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

START_TEST(notifies_coalesce)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_evtchn *e, *b;
	int i;

	ck_assert_int_eq(xsp_evtchn_alloc(p1, 2, &e), 0);
	ck_assert_int_eq(xsp_evtchn_bind(p2, 1, xsp_evtchn_port(e), &b), 0);
	/* More than a pipe holds: a full pipe still counts as delivered. */
	for (i = 0; i < 70000; i++)
		ck_assert_int_eq(xsp_evtchn_notify(e), 0);
	ck_assert_int_eq(xsp_evtchn_ack(b), 1);
	ck_assert_int_eq(xsp_evtchn_ack(b), 0);
	ck_assert_int_eq(poll_ms(xsp_evtchn_fd(b), 0, NULL), 0);
	xsp_evtchn_close(b);
	xsp_evtchn_close(e);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

struct thr_arg {
	struct xsp_evtchn *e;
	int fails;
};

static void *notifier(void *arg)
{
	struct thr_arg *t = arg;
	int i;

	for (i = 0; i < 20000; i++)
		if (xsp_evtchn_notify(t->e) != 0)
			t->fails++;
	return NULL;
}

START_TEST(notify_from_threads)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_evtchn *e, *b;
	struct thr_arg t[4];
	pthread_t th[4];
	int i, events = 0;

	ck_assert_int_eq(xsp_evtchn_alloc(p1, 2, &e), 0);
	ck_assert_int_eq(xsp_evtchn_bind(p2, 1, xsp_evtchn_port(e), &b), 0);
	for (i = 0; i < 4; i++) {
		t[i].e = i % 2 ? e : b;	/* both directions at once */
		t[i].fails = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, notifier, &t[i]), 0);
	}
	for (i = 0; i < 200; i++) {
		xsp_evtchn_ack(e);
		xsp_evtchn_ack(b);
	}
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(t[i].fails, 0);
	}
	/* Each direction's last notify came after any ack above. */
	events = (xsp_evtchn_ack(e) == 1) + (xsp_evtchn_ack(b) == 1);
	ck_assert_int_eq(events, 2);
	ck_assert_int_eq(xsp_evtchn_ack(e), 0);
	ck_assert_int_eq(xsp_evtchn_ack(b), 0);
	xsp_evtchn_close(b);
	xsp_evtchn_close(e);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

/* ---- peer death ------------------------------------------------------------------------ */

static int binder_then_sleep(int in, int out, void *arg)
{
	struct bind_arg *a = arg;
	struct xsp *p = xp_open_as(2);
	struct xsp_evtchn *e;

	CHILD_CHECK(p);
	CHILD_CHECK(xsp_evtchn_bind(p, 1, a->port, &e) == 0);
	CHILD_CHECK(xsp_evtchn_notify(e) == 0);
	CHILD_CHECK(xp_send(out, 1) == 0);
	pause();
	return 0;
}

START_TEST(binder_sigkill_seen_within_100ms)
{
	struct xsp *p = xp_open_as(1);
	struct bind_arg a = { .peer = 1 };
	struct xsp_evtchn *e;
	double t0, dt;
	uint32_t v;
	struct kid k;
	short rev;
	int i;

	ck_assert_int_eq(xsp_evtchn_alloc(p, 2, &e), 0);
	a.port = xsp_evtchn_port(e);
	k = xp_spawn(binder_then_sleep, &a);
	ck_assert_int_eq(xp_recv(k.from, &v), 0);
	ck_assert_int_eq(xsp_evtchn_ack(e), 1);
	ck_assert_int_eq(xsp_evtchn_ack(e), 0);
	ck_assert_int_eq(poll_ms(xsp_evtchn_fd(e), 0, NULL), 0);
	t0 = now_us();
	kill(k.pid, SIGKILL);
	ck_assert_int_eq(poll_ms(xsp_evtchn_fd(e), 100, &rev), 1);
	ck_assert_int_eq(xsp_evtchn_ack(e), -EPIPE);
	dt = now_us() - t0;
	ck_assert_msg(dt < 100000.0, "death seen after %.0f us", dt);
	xp_wait(&k);
	/* Gone for good: stays readable and keeps answering -EPIPE. */
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(poll_ms(xsp_evtchn_fd(e), 0, &rev), 1);
		ck_assert(rev & (POLLIN | POLLHUP));
		ck_assert_int_eq(xsp_evtchn_ack(e), -EPIPE);
	}
	ck_assert_int_eq(xsp_evtchn_wait(e, 1000), -EPIPE);
	ck_assert_int_eq(xsp_evtchn_notify(e), 0);	/* lost, as on Xen */
	xsp_evtchn_close(e);
	ck_assert_int_eq(count_evtchn_files(), 0);
	xsp_close(p);
}
END_TEST

static int allocator_then_sleep(int in, int out, void *arg)
{
	struct xsp *p = xp_open_as(1);
	struct xsp_evtchn *e;
	uint32_t v;

	CHILD_CHECK(p);
	CHILD_CHECK(xsp_evtchn_alloc(p, 2, &e) == 0);
	CHILD_CHECK(xp_send(out, xsp_evtchn_port(e)) == 0);
	CHILD_CHECK(xp_recv(in, &v) == 0);	/* peer bound */
	CHILD_CHECK(xsp_evtchn_notify(e) == 0);
	CHILD_CHECK(xp_send(out, 1) == 0);
	pause();
	return 0;
}

START_TEST(allocator_sigkill_binder_sees_epipe)
{
	struct xsp *p = xp_open_as(2);
	struct xsp_evtchn *b;
	uint32_t port, v;
	struct kid k;
	short rev;
	double t0;
	int rc;

	signal(SIGPIPE, SIG_DFL);
	k = xp_spawn(allocator_then_sleep, NULL);
	ck_assert_int_eq(xp_recv(k.from, &port), 0);
	ck_assert_int_eq(xsp_evtchn_bind(p, 1, port, &b), 0);
	ck_assert_int_eq(xp_send(k.to, 1), 0);
	ck_assert_int_eq(xp_recv(k.from, &v), 0);
	t0 = now_us();
	kill(k.pid, SIGKILL);
	ck_assert_int_eq(poll_ms(xsp_evtchn_fd(b), 100, &rev), 1);
	ck_assert_int_eq(xsp_evtchn_ack(b), 1);		/* the pending event first */
	while ((rc = xsp_evtchn_ack(b)) == 0 && now_us() - t0 < 100000.0)
		poll_ms(xsp_evtchn_fd(b), 100, NULL);
	ck_assert_int_eq(rc, -EPIPE);
	ck_assert_msg(now_us() - t0 < 100000.0, "death seen after %.0f us", now_us() - t0);
	xp_wait(&k);
	ck_assert_int_eq(xsp_evtchn_notify(b), 0);	/* lost; and no SIGPIPE death */
	ck_assert_int_eq(xsp_evtchn_ack(b), -EPIPE);
	xsp_evtchn_close(b);
	xsp_close(p);
}
END_TEST

START_TEST(notify_after_peer_close_lost_no_sigpipe)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_evtchn *e, *b;
	sigset_t mask, pending;
	int i;

	signal(SIGPIPE, SIG_DFL);	/* a SIGPIPE would kill this test */
	/*
	 * Binder closes: the allocator's notify succeeds and is lost (Xen
	 * drops a send to a port whose remote end closed); the death is
	 * told by ack.
	 */
	ck_assert_int_eq(xsp_evtchn_alloc(p1, 2, &e), 0);
	ck_assert_int_eq(xsp_evtchn_bind(p2, 1, xsp_evtchn_port(e), &b), 0);
	xsp_evtchn_close(b);
	ck_assert_int_eq(xsp_evtchn_notify(e), 0);
	ck_assert_int_eq(xsp_evtchn_ack(e), -EPIPE);
	xsp_evtchn_close(e);
	/* Allocator closes: the binder's notifies too, beyond a full pipe. */
	ck_assert_int_eq(xsp_evtchn_alloc(p1, 2, &e), 0);
	ck_assert_int_eq(xsp_evtchn_bind(p2, 1, xsp_evtchn_port(e), &b), 0);
	xsp_evtchn_close(e);
	for (i = 0; i < 70000; i++)	/* a pipe holds 64 KiB */
		ck_assert_int_eq(xsp_evtchn_notify(b), 0);
	ck_assert_int_eq(xsp_evtchn_ack(b), -EPIPE);
	/* With SIGPIPE blocked by the caller: mask unchanged, none pending. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	ck_assert_int_eq(xsp_evtchn_notify(b), 0);
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	ck_assert(sigismember(&mask, SIGPIPE));
	sigpending(&pending);
	ck_assert(!sigismember(&pending, SIGPIPE));
	pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
	xsp_evtchn_close(b);
	ck_assert_int_eq(count_evtchn_files(), 0);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

/* Domain 2 binds, forks a holder, closes its own copy and exits. */
static int binder_forks_holder(int in, int out, void *arg)
{
	struct bind_arg *a = arg;
	struct xsp *p = xp_open_as(2);
	struct xsp_evtchn *e;
	pid_t holder;
	uint32_t v;

	CHILD_CHECK(p);
	CHILD_CHECK(xsp_evtchn_bind(p, 1, a->port, &e) == 0);
	holder = fork();
	CHILD_CHECK(holder >= 0);
	if (holder == 0) {
		/* Keeps the endpoint until told to go; can still signal. */
		CHILD_CHECK(xp_recv_ms(in, &v, 20000) == 0);
		CHILD_CHECK(xsp_evtchn_notify(e) == 0);
		_exit(0);
	}
	xsp_evtchn_close(e);
	xsp_close(p);
	CHILD_CHECK(xp_send(out, (uint32_t)holder) == 0);
	return 0;
}

START_TEST(forked_holder_keeps_endpoint_alive)
{
	struct xsp *p = xp_open_as(1);
	struct bind_arg a = { .peer = 1 };
	struct xsp_evtchn *e;
	uint32_t holder;
	struct kid k;
	int i;

	ck_assert_int_eq(xsp_evtchn_alloc(p, 2, &e), 0);
	a.port = xsp_evtchn_port(e);
	k = xp_spawn(binder_forks_holder, &a);
	ck_assert_int_eq(xp_recv(k.from, &holder), 0);
	/* The binder closed and exits; its forked child still holds the end. */
	ck_assert_int_eq(waitpid(k.pid, NULL, 0), k.pid);
	ck_assert_int_eq(poll_ms(xsp_evtchn_fd(e), 100, NULL), 0);
	ck_assert_int_eq(xsp_evtchn_ack(e), 0);
	ck_assert_int_eq(xsp_evtchn_notify(e), 0);
	ck_assert_int_eq(xp_send(k.to, 1), 0);		/* holder: notify, exit */
	ck_assert_int_eq(xsp_evtchn_wait(e, 2000), 1);
	for (i = 0; i < 200 && xsp_evtchn_ack(e) != -EPIPE; i++)
		poll_ms(xsp_evtchn_fd(e), 10, NULL);
	ck_assert_int_eq(xsp_evtchn_ack(e), -EPIPE);
	close(k.to);
	close(k.from);
	xsp_evtchn_close(e);
	xsp_close(p);
}
END_TEST

START_TEST(forked_allocator_holder_keeps_unbound_offer)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_evtchn *e, *b;
	int go[2], status;
	xsp_port_t port;
	pid_t pid;
	char c;

	ck_assert_int_eq(xsp_evtchn_alloc(p1, 2, &e), 0);
	port = xsp_evtchn_port(e);
	ck_assert_int_eq(pipe(go), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(go[1]);
		CHILD_CHECK(read(go[0], &c, 1) == 0);	/* until the test closes */
		_exit(0);
	}
	close(go[0]);
	xsp_evtchn_close(e);	/* the child still holds the offer */
	ck_assert_int_eq(count_evtchn_files(), 3);
	/* Binding still works, and the binder sees the holder go. */
	ck_assert_int_eq(xsp_evtchn_bind(p2, 1, port, &b), 0);
	ck_assert_int_eq(xsp_evtchn_ack(b), 0);
	ck_assert_int_eq(poll_ms(xsp_evtchn_fd(b), 50, NULL), 0);
	close(go[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(poll_ms(xsp_evtchn_fd(b), 1000, NULL), 1);
	ck_assert_int_eq(xsp_evtchn_ack(b), -EPIPE);
	xsp_evtchn_close(b);
	ck_assert_int_eq(count_evtchn_files(), 1);	/* meta: GC'd by a later alloc */
	ck_assert_int_eq(xsp_evtchn_alloc(p1, 2, &e), 0);
	xsp_evtchn_close(e);
	ck_assert_int_eq(count_evtchn_files(), 0);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

/* ---- leftovers --------------------------------------------------------------------------- */

START_TEST(stale_unbound_channel_collected)
{
	struct xsp *p;
	struct xsp_evtchn *e;
	uint32_t port;
	struct kid k;

	k = xp_spawn(allocator_then_sleep, NULL);
	ck_assert_int_eq(xp_recv(k.from, &port), 0);
	ck_assert_int_eq(count_evtchn_files(), 3);
	xp_kill(&k);
	ck_assert_int_eq(count_evtchn_files(), 3);
	p = xp_open_as(1);
	ck_assert_int_eq(xsp_evtchn_alloc(p, 2, &e), 0);	/* collects */
	ck_assert_int_eq(count_evtchn_files(), 3);		/* only the new one */
	xsp_evtchn_close(e);
	ck_assert_int_eq(count_evtchn_files(), 0);
	xsp_close(p);
}
END_TEST

START_TEST(fd_and_file_leak_1000_cycles)
{
	struct xsp *p1 = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_evtchn *e, *b;
	int i, fds;

	/* Warm up: the first alloc creates directories and counters. */
	ck_assert_int_eq(xsp_evtchn_alloc(p1, 2, &e), 0);
	xsp_evtchn_close(e);
	fds = xp_count_fds();
	for (i = 0; i < 1000; i++) {
		ck_assert_int_eq(xsp_evtchn_alloc(p1, 2, &e), 0);
		ck_assert_int_eq(xsp_evtchn_bind(p2, 1, xsp_evtchn_port(e), &b), 0);
		if (i % 2) {
			ck_assert_int_eq(xsp_evtchn_notify(e), 0);
			ck_assert_int_eq(xsp_evtchn_ack(b), 1);
			xsp_evtchn_close(e);
			xsp_evtchn_close(b);
		} else {
			ck_assert_int_eq(xsp_evtchn_notify(b), 0);
			ck_assert_int_eq(xsp_evtchn_ack(e), 1);
			xsp_evtchn_close(b);
			xsp_evtchn_close(e);
		}
	}
	ck_assert_int_eq(xp_count_fds(), fds);
	ck_assert_int_eq(count_evtchn_files(), 0);
	xsp_close(p2);
	xsp_close(p1);
}
END_TEST

START_TEST(exec_drops_endpoint)
{
	struct xsp *p = xp_open_as(1), *p2 = xp_open_as(2);
	struct xsp_evtchn *e, *b;
	int status;
	pid_t pid;

	ck_assert_int_eq(xsp_evtchn_alloc(p, 2, &e), 0);
	ck_assert_int_eq(xsp_evtchn_bind(p2, 1, xsp_evtchn_port(e), &b), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* exec: the O_CLOEXEC fds go, the endpoint with them */
		execl("/bin/sh", "sh", "-c", "sleep 5", (char *)NULL);
		_exit(127);
	}
	xsp_evtchn_close(b);		/* only the exec'ed child could hold it */
	ck_assert_int_eq(poll_ms(xsp_evtchn_fd(e), 2000, NULL), 1);
	ck_assert_int_eq(xsp_evtchn_ack(e), -EPIPE);
	ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);	/* still running */
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	xsp_evtchn_close(e);
	xsp_close(p2);
	xsp_close(p);
}
END_TEST

static Suite *evtchn_suite(void)
{
	Suite *s = suite_create("local_evtchn");
	TCase *tc = tcase_create("evtchn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, alloc_bind_from_peer_and_signal);
	tcase_add_test(tc, bind_from_other_domain_eperm);
	tcase_add_test(tc, bind_unknown_port_enoent);
	tcase_add_test(tc, double_bind_ebusy);
	tcase_add_test(tc, bind_after_allocator_killed_econnrefused);
	tcase_add_test(tc, notify_wakes_poll_latency);
	tcase_add_test(tc, notify_before_bind_delivered);
	tcase_add_test(tc, ack_zero_when_idle);
	tcase_add_test(tc, notifies_coalesce);
	tcase_add_test(tc, notify_from_threads);
	tcase_add_test(tc, binder_sigkill_seen_within_100ms);
	tcase_add_test(tc, allocator_sigkill_binder_sees_epipe);
	tcase_add_test(tc, notify_after_peer_close_lost_no_sigpipe);
	tcase_add_test(tc, forked_holder_keeps_endpoint_alive);
	tcase_add_test(tc, forked_allocator_holder_keeps_unbound_offer);
	tcase_add_test(tc, stale_unbound_channel_collected);
	tcase_add_test(tc, fd_and_file_leak_1000_cycles);
	tcase_add_test(tc, exec_drops_endpoint);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(evtchn_suite());
}
