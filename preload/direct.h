/* SPDX-License-Identifier: MIT */
/* Sleeping on a ring's event channel without the event thread: direct.c. */
#ifndef XSOCK_PRELOAD_DIRECT_H
#define XSOCK_PRELOAD_DIRECT_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>

#include "preload/shim.h"
#include "preload/waitset.h"

/* A wait sleeps on the channels itself for at most this many rings. */
#define DIRECT_MAX 8

/*
 * Before a wait sleeps (before wsocks_sleep_begin()): for each ring of
 * @w[0..@n) this process's event thread serves, take its channel over
 * (w[i].chfd, else -1) and fill @pfd with one entry per channel taken
 * (POLLIN). Returns how many (0 when @n > DIRECT_MAX: the event thread
 * serves them all as before). The wait adds @pfd to what it sleeps on.
 */
int wsocks_direct_begin(struct wsock *w, int n, struct pollfd *pfd);
/*
 * After the sleep (after wsocks_sleep_end()): do for each channel that
 * fired (@pfd's revents, as filled by wsocks_direct_begin()) what the
 * event thread would have (acknowledge, bring end A up to date for
 * whoever else waits, count the notification), and give the channels
 * back to the event thread. @pfd may be NULL: nothing fired (an error).
 */
void wsocks_direct_end(struct wsock *w, int n, const struct pollfd *pfd);

/*
 * A sleeping wait's rings, for a cancellation handler: a thread cancelled
 * in its sleep (poll and epoll_wait are cancellation points) must not
 * leave the peers asked to notify, nor the channels taken from the event
 * thread. Push it with pthread_cleanup_push() around the sleep.
 */
struct wsleep {
	struct wsock *w;
	int n;
	struct wsock *local;	/* as wsocks_put() takes it */
	void *buf;		/* freed too (NULL: none) */
	bool refs;		/* the references to @w's sockets are the wait's */
	bool uncounted;		/* no wsocks_sleep_begin(), no direct channels */
	struct chgroup *grp;	/* slept on (chgroup_sleep_begin()), pinned */
};
/*
 * The sleep itself, with that handler pushed: the real ppoll() or
 * epoll_pwait(); its result, or -errno.
 */
int wsleep_ppoll(struct wsleep *ws, struct pollfd *p, nfds_t n, const struct timespec *ts,
		 const sigset_t *mask);
int wsleep_epoll(struct wsleep *ws, int epfd, struct epoll_event *evs, int max, int timeout,
		 const sigset_t *mask);

#endif /* XSOCK_PRELOAD_DIRECT_H */
