/* SPDX-License-Identifier: MIT */
/*
 * The xen backend's event channel ack (src/platform/xen/xenevtchn.c)
 * without Xen: this program defines the libxenevtchn functions that file
 * calls, so the linker takes ours instead of the library's, and a fake
 * handle plays /dev/xen/evtchn. Issue 19, item 7: a peer that notifies as
 * fast as we unmask kept xen_evtchn_ack() reading for ever; now one call
 * reads at most XEN_EVTCHN_ACK_MAX pending ports and leaves the rest.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>

#include "platform/xen/private.h"
#include <xenevtchn.h>

#include "testutil.h"

/* The fake /dev/xen/evtchn: @left pending ports, then EAGAIN (or, @flood,
 * one more each time a port is unmasked: a peer that keeps notifying). */
struct xenevtchn_handle {
	int pipe[2];		/* [0] stands for the device's fd */
	long left;		/* ports still pending */
	bool flood;
	int err;		/* not 0: pending() fails with it instead */
	long reads, unmasks;
};

static struct xenevtchn_handle fake;

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int open_flags)
{
	(void)logger;
	(void)open_flags;
	ck_assert_int_eq(pipe(fake.pipe), 0);
	return &fake;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	close(xce->pipe[0]);
	close(xce->pipe[1]);
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->pipe[0];
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	(void)port;
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
	(void)xce;
	(void)domid;
	return 7;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
						     evtchn_port_t remote_port)
{
	(void)xce;
	(void)domid;
	(void)remote_port;
	return 7;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	(void)port;
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	xce->reads++;
	if (xce->err) {
		errno = xce->err;
		return -1;
	}
	if (xce->left == 0) {
		errno = EAGAIN;
		return -1;
	}
	xce->left--;
	return 7;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	ck_assert_uint_eq(port, 7);
	xce->unmasks++;
	if (xce->flood)
		xce->left++;	/* its next event, at once */
	return 0;
}

static struct xsp plat;
static struct xsp_evtchn ev;

static void setup(void)
{
	memset(&fake, 0, sizeof(fake));
	memset(&ev, 0, sizeof(ev));
	/* The backend's table of library functions: ours, defined above. */
	ck_assert_int_eq(xen_libs_load(), 0);
	ck_assert_int_eq(xen_evtchn_alloc(&plat, 1, &ev), 0);
	ck_assert_int_eq(ev.port, 7);
	ck_assert_int_eq(ev.fd, fake.pipe[0]);
	/* Before the fix a flood never returned: fail, do not hang. */
	alarm(5);
}

static void teardown(void)
{
	alarm(0);
	xen_evtchn_close(&ev);
}

START_TEST(test_ack_none)
{
	ck_assert_int_eq(xen_evtchn_ack(&ev), 0);
	ck_assert_int_eq(fake.reads, 1);
	ck_assert_int_eq(fake.unmasks, 0);
}
END_TEST

START_TEST(test_ack_some)
{
	fake.left = 3;
	ck_assert_int_eq(xen_evtchn_ack(&ev), 1);
	ck_assert_int_eq(fake.reads, 4);	/* 3 ports, then EAGAIN */
	ck_assert_int_eq(fake.unmasks, 3);
	ck_assert_int_eq(xen_evtchn_ack(&ev), 0);
}
END_TEST

/* More pending than one call takes: the rest is there for the next. */
START_TEST(test_ack_bounded_backlog)
{
	fake.left = 3 * XEN_EVTCHN_ACK_MAX + 5;
	ck_assert_int_eq(xen_evtchn_ack(&ev), 1);
	ck_assert_int_eq(fake.reads, XEN_EVTCHN_ACK_MAX);
	ck_assert_int_eq(fake.left, 2 * XEN_EVTCHN_ACK_MAX + 5);
	while (xen_evtchn_ack(&ev) == 1)
		;
	ck_assert_int_eq(fake.left, 0);
	ck_assert_int_eq(fake.unmasks, 3 * XEN_EVTCHN_ACK_MAX + 5);
}
END_TEST

/* A peer that notifies as fast as we unmask: each call still returns. */
START_TEST(test_ack_flood)
{
	int i;

	fake.left = 1;
	fake.flood = true;
	for (i = 1; i <= 3; i++) {
		ck_assert_int_eq(xen_evtchn_ack(&ev), 1);
		ck_assert_int_eq(fake.reads, i * (long)XEN_EVTCHN_ACK_MAX);
		ck_assert_int_eq(fake.left, 1);
	}
}
END_TEST

/* EINTR is retried, but counts against the bound too. */
START_TEST(test_ack_eintr)
{
	fake.err = EINTR;
	ck_assert_int_eq(xen_evtchn_ack(&ev), 0);
	ck_assert_int_eq(fake.reads, XEN_EVTCHN_ACK_MAX);
}
END_TEST

START_TEST(test_ack_error)
{
	fake.err = EIO;
	ck_assert_int_eq(xen_evtchn_ack(&ev), -EIO);
	ck_assert_int_eq(fake.reads, 1);
}
END_TEST

static Suite *xen_evtchn_suite(void)
{
	Suite *s = suite_create("xen_evtchn");
	TCase *tc = tcase_create("ack");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ack_none);
	tcase_add_test(tc, test_ack_some);
	tcase_add_test(tc, test_ack_bounded_backlog);
	tcase_add_test(tc, test_ack_flood);
	tcase_add_test(tc, test_ack_eintr);
	tcase_add_test(tc, test_ack_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(xen_evtchn_suite());
}
