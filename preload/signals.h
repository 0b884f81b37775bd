/* SPDX-License-Identifier: MIT */
/* Signal dispositions, as far as waits care: signals.c. */
#ifndef XSOCK_PRELOAD_SIGNALS_H
#define XSOCK_PRELOAD_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

/*
 * A sleep in ppoll() that signals must interrupt as they would a blocking
 * TCP recv()/send(): with sig_sleep_prepare()'s @mask (when @masked) and,
 * if @sfd >= 0, @sfd in the set (POLLIN). Then an EINTR is a restarting
 * handler's (restart the sleep, unless sig_sleep_changed()); @sfd
 * readable is a non-restarting one's, whose handler ran as ppoll()
 * returned (fail with EINTR; POLLNVAL: the fd was closed behind our back,
 * sig_sleep_lost(), sleep again). Handlers of fault signals (SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS) are left aside: those are
 * raised by a thread's own instructions. 0 or -errno (then sleep some
 * other way).
 */
struct sig_sleep {
	sigset_t mask;
	int sfd;
	bool masked;
	unsigned int gen;
};
int sig_sleep_prepare(struct sig_sleep *ss);
/* Open the process's signalfd (with the event thread: ev_start()). */
void sig_fd_open(void);
bool sig_sleep_changed(const struct sig_sleep *ss);
void sig_sleep_lost(void);

#endif /* XSOCK_PRELOAD_SIGNALS_H */
