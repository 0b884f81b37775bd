/* SPDX-License-Identifier: MIT */
/*
 * Intercepted poll, ppoll, select and pselect. A call whose set holds no
 * ring socket goes to libc untouched; with ring sockets it spins, then
 * sleeps, as waitset.c says. poll and select report ring sockets from the
 * ring's own state.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "preload/direct.h"
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/ready.h"
#include "preload/shim.h"
#include "preload/spin.h"
#include "preload/waitset.h"

static __thread unsigned int poll_skips;
/* When this thread's last do_poll() started to wait (spin or sleep), in
 * xs_now_ns() time, or -1 if it answered without waiting: select()
 * then reports its timeout untouched instead of reading the clock twice
 * per call (Linux would subtract the microsecond or so it took). */
static __thread int64_t poll_wait_start = -1;

/* Put the rings' own state into their revents; the number of ready fds. */
static int poll_merge(struct pollfd *fds, nfds_t nfds, struct wsock *w, int n)
{
	int i, ready = 0;
	nfds_t j;

	for (i = 0; i < n; i++) {
		struct pollfd *p = &fds[w[i].idx];

		p->revents = (short)((p->revents & POLLNVAL) |
				     sock_revents(w[i].s, (unsigned int)(unsigned short)p->events));
	}
	for (j = 0; j < nfds; j++)
		if (fds[j].revents)
			ready++;
	return ready;
}

static int do_poll(struct pollfd *fds, nfds_t nfds, int timeout, const sigset_t *mask)
{
	struct wsock local[16], *w = local;
	struct pollfd chan[DIRECT_MAX], both[64];
	int64_t deadline = -1, spin_end;
	struct timespec zero = { 0, 0 }, ts;
	uint64_t slept_at;
	int n = 0, rc, ready;
	nfds_t j;

	poll_wait_start = -1;

	for (j = 0; j < nfds; j++) {
		struct shim_sock *s;

		if (!shim_maybe_ours(fds[j].fd))
			continue;
		s = shim_get(fds[j].fd);
		if (!s)
			continue;
		if (s->kind != SHIM_RING) {
			shim_put(s);
			continue;
		}
		if (n == (int)XS_ARRAY_SIZE(local) && w == local) {
			w = malloc(sizeof(*w) * nfds);
			if (!w) {
				shim_put(s);
				w = local;
				break;	/* the rest is served by the kernel alone */
			}
			memcpy(w, local, sizeof(local));
		}
		w[n].s = s;
		w[n].fd = fds[j].fd;
		w[n].idx = (int)j;
		w[n].rd = fds[j].events & (POLLIN | POLLRDNORM | POLLRDHUP);
		w[n].wr = fds[j].events & (POLLOUT | POLLWRNORM);
		w[n].lt = false;
		n++;
	}
	if (n == 0) {
		if (w != local)
			free(w);
		if (timeout != 0)
			poll_wait_start = xs_now_ns();
		if (!mask)
			return shim_real.poll(fds, nfds, timeout);
		if (timeout >= 0)
			ts = ms_to_ts(timeout);
		return shim_real.ppoll(fds, nfds, timeout >= 0 ? &ts : NULL, mask);
	}

	/*
	 * A ring that is ready answers without a system call; the other fds
	 * are still looked at on every 64th such call (a few tens of
	 * microseconds apart while a ring stays ready) so that a busy ring
	 * cannot starve them (their readiness is level: it waits).
	 */
	if (!mask && (++poll_skips & 63) != 0) {
		for (j = 0; j < nfds; j++)
			fds[j].revents = 0;
		ready = poll_merge(fds, nfds, w, n);
		if (ready) {
			rc = ready;
			goto out;
		}
	}
	spin_end = -1;
	for (bool first = true;; first = false) {
		rc = shim_real.ppoll(fds, nfds, &zero, mask);
		if (rc < 0)
			goto out;
		ready = poll_merge(fds, nfds, w, n);
		if (ready || timeout == 0) {
			if (!first && ready)
				shim_spin_result(true);	/* found by spinning */
			rc = ready;
			goto out;
		}
		if (first) {
			wsocks_unpassive(w, n);
			poll_wait_start = xs_now_ns();
			deadline = deadline_at(poll_wait_start, timeout);
			spin_end = poll_wait_start + shim_spin_budget();
		}
		if (!wsocks_spin_on(w, n, true, spin_end))
			break;
	}
	for (;;) {
		int left = left_ms(deadline);
		struct wsleep ws = { .w = w, .n = n, .local = local, .refs = true };
		struct pollfd *all = fds;
		nfds_t k;

		/* The rings' channels after the application's fds (direct.c). */
		k = (nfds_t)wsocks_direct_begin(w, n, chan);
		if (k && nfds + k > XS_ARRAY_SIZE(both)) {
			/* Freed by a cancellation too (ws.buf), or below. */
			ws.buf = malloc(sizeof(*all) * (nfds + k));
			if (ws.buf) {
				all = ws.buf;
			} else {
				wsocks_direct_end(w, n, NULL);
				k = 0;
			}
		} else if (k) {
			all = both;
		}
		if (wsocks_sleep_begin(w, n))
			left = 0;
		if (left >= 0)
			ts = ms_to_ts(left);
		if (k) {
			memcpy(all, fds, sizeof(*fds) * nfds);
			memcpy(all + nfds, chan, sizeof(*chan) * k);
		}
		slept_at = (uint64_t)xs_now_ns();
		rc = wsleep_ppoll(&ws, all, nfds + k, left >= 0 ? &ts : NULL, mask);
		if (k) {
			for (j = 0; j < nfds; j++)
				fds[j].revents = all[j].revents;
		}
		wsocks_sleep_end(w, n, true);	/* poll_merge() reads the rings */
		wsocks_direct_end(w, n, rc < 0 ? NULL : all + nfds);
		free(ws.buf);
		if (rc < 0) {
			errno = -rc;
			rc = -1;
			goto out;
		}
		ready = poll_merge(fds, nfds, w, n);
		shim_spin_slept(slept_at, ready > 0);
		if (ready || left_ms(deadline) == 0) {
			rc = ready;
			goto out;
		}
		/* A token that no longer stood for data: sleep again. */
	}
out:
	wsocks_put(w, n, local);
	return rc;
}

XS_EXPORT int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	shim_resolve();
	if (shim_guard)
		return shim_real.poll(fds, nfds, timeout);
	return do_poll(fds, nfds, timeout, NULL);
}

int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen);

XS_EXPORT int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	(void)fdslen;
	return poll(fds, nfds, timeout);
}

XS_EXPORT int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
		    const sigset_t *mask)
{
	int ms;

	shim_resolve();
	if (shim_guard)
		return shim_real.ppoll(fds, nfds, tmo, mask);
	ms = ts_to_ms(tmo);
	if (ms == -2) {
		errno = EINVAL;
		return -1;
	}
	return do_poll(fds, nfds, ms, mask);
}

static bool set_has_ring(int nfds, fd_set *r, fd_set *w, fd_set *e)
{
	int fd;

	for (fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
		if (!shim_maybe_ours(fd))
			continue;
		if ((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e)))
			return true;
	}
	return false;
}

/* The bytes of an fd_set that hold fds 0..nfds-1, in whole longs. */
static size_t fdset_bytes(int nfds)
{
	return ((size_t)nfds + 8 * sizeof(long) - 1) / (8 * sizeof(long)) * sizeof(long);
}

/* select() on top of do_poll(): the number of bits set, or -1. */
static int do_select(int nfds, fd_set *r, fd_set *w, fd_set *e, int timeout,
		     const sigset_t *mask)
{
	struct pollfd local[64], *p = local;
	int fd, n = 0, rc, i;

	if (nfds < 0 || nfds > FD_SETSIZE) {
		errno = EINVAL;
		return -1;
	}
	if (nfds > (int)XS_ARRAY_SIZE(local)) {
		p = malloc(sizeof(*p) * (size_t)nfds);
		if (!p) {
			errno = ENOMEM;
			return -1;
		}
	}
	for (fd = 0; fd < nfds; fd++) {
		short ev = 0;

		if (r && FD_ISSET(fd, r))
			ev |= POLLIN;
		if (w && FD_ISSET(fd, w))
			ev |= POLLOUT;
		if (e && FD_ISSET(fd, e))
			ev |= POLLPRI;
		if (!ev)
			continue;
		p[n].fd = fd;
		p[n].events = ev;
		p[n].revents = 0;
		n++;
	}
	rc = do_poll(p, (nfds_t)n, timeout, mask);
	if (rc < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (p[i].revents & POLLNVAL) {
			errno = EBADF;
			rc = -1;
			goto out;
		}
	}
	/* Linux writes back the first nfds bits (rounded up to longs) only. */
	if (r)
		memset(r, 0, fdset_bytes(nfds));
	if (w)
		memset(w, 0, fdset_bytes(nfds));
	if (e)
		memset(e, 0, fdset_bytes(nfds));
	rc = 0;
	for (i = 0; i < n; i++) {
		short rev = p[i].revents;

		if ((p[i].events & POLLIN) && (rev & (POLLIN | POLLHUP | POLLERR))) {
			FD_SET(p[i].fd, r);
			rc++;
		}
		if ((p[i].events & POLLOUT) && (rev & (POLLOUT | POLLERR))) {
			FD_SET(p[i].fd, w);
			rc++;
		}
		if ((p[i].events & POLLPRI) && (rev & POLLPRI)) {
			FD_SET(p[i].fd, e);
			rc++;
		}
	}
out:
	if (p != local)
		free(p);
	return rc;
}

XS_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	int ms = -1, rc;

	shim_resolve();
	if (shim_guard || !set_has_ring(nfds, r, w, e))
		return shim_real.select(nfds, r, w, e, tv);
	if (tv) {
		if (tv->tv_sec < 0 || tv->tv_usec < 0) {
			errno = EINVAL;
			return -1;
		}
		ms = (int)XS_MIN((int64_t)tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000,
				 (int64_t)INT_MAX);
	}
	poll_wait_start = -1;
	rc = do_select(nfds, r, w, e, ms, NULL);
	if (tv && poll_wait_start >= 0) {
		/* Linux reports the time left. */
		int64_t left = (int64_t)ms * 1000 - (xs_now_ns() - poll_wait_start) / 1000;

		if (left < 0)
			left = 0;
		tv->tv_sec = left / 1000000;
		tv->tv_usec = left % 1000000;
	}
	return rc;
}

XS_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *tmo,
		      const sigset_t *mask)
{
	int ms;

	shim_resolve();
	if (shim_guard || !set_has_ring(nfds, r, w, e))
		return shim_real.pselect(nfds, r, w, e, tmo, mask);
	ms = ts_to_ms(tmo);
	if (ms == -2) {
		errno = EINVAL;
		return -1;
	}
	return do_select(nfds, r, w, e, ms, mask);
}
