/* SPDX-License-Identifier: MIT */
/*
 * Intercepted sigaction, signal, bsd_signal, sysv_signal, sigset and
 * siginterrupt: passed to libc untouched; the shim only notes that a
 * disposition may have changed.
 *
 * What for: a blocking read or write on a ring socket sleeps in poll()
 * on end A and on the ring's event channel (direct.c), and poll() fails
 * with EINTR after every signal handler, where recv() and send() on a TCP
 * socket are restarted after a handler installed with SA_RESTART. The
 * shim restarts the sleep itself when every handler the process has is
 * SA_RESTART (sig_restarts() below); while some handler is not, it sleeps
 * in a call on A itself instead (io.c), which the kernel restarts or not
 * as it would the TCP call, and gives up the direct wake-up.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>

#include "common/compiler.h"
#include "preload/libc.h"
#include "preload/shim.h"
#include "preload/signals.h"

/* Bumped by every change (atomic). */
static unsigned int sig_gen = 1;
/* What sig_restarts() last found, and for which generation: (gen << 1) |
 * all-restart, one word, so that an answer is never read with another
 * computation's generation. 0: never computed. */
static uint64_t sig_seen;

static void sig_changed(void)
{
	__atomic_add_fetch(&sig_gen, 1, __ATOMIC_RELEASE);
}

bool sig_restarts(void)
{
	unsigned int gen = __atomic_load_n(&sig_gen, __ATOMIC_ACQUIRE);
	uint64_t seen = __atomic_load_n(&sig_seen, __ATOMIC_ACQUIRE);
	struct sigaction sa;
	int sig, all = 1;

	if (seen >> 1 == gen)
		return seen & 1;
	shim_resolve();
	/* The kernel's word: dispositions set before we were loaded count. */
	for (sig = 1; sig < NSIG; sig++) {
		if (shim_real.sigaction(sig, NULL, &sa) < 0)
			continue;	/* no such signal */
		if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
			continue;
		/*
		 * Faults: raised by the faulting thread's own instruction, not
		 * delivered to a thread asleep in a system call (only a kill()
		 * of one would be). Sanitizers and crash reporters install
		 * these without SA_RESTART.
		 */
		if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
		    sig == SIGTRAP || sig == SIGSYS)
			continue;
		if (!(sa.sa_flags & SA_RESTART)) {
			all = 0;
			break;
		}
	}
	/* A change meanwhile bumped the generation: this answer is then
	 * stored for the old one, and the next call looks again. */
	__atomic_store_n(&sig_seen, ((uint64_t)gen << 1) | (uint64_t)all, __ATOMIC_RELEASE);
	return all;
}

XS_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	int rc;

	shim_resolve();
	rc = shim_real.sigaction(sig, act, old);
	if (act)
		sig_changed();
	return rc;
}

XS_EXPORT __sighandler_t signal(int sig, __sighandler_t handler)
{
	__sighandler_t rc;

	shim_resolve();
	rc = shim_real.signal(sig, handler);
	sig_changed();
	return rc;
}

XS_EXPORT __sighandler_t bsd_signal(int sig, __sighandler_t handler)
{
	__sighandler_t rc;

	shim_resolve();
	rc = shim_real.bsd_signal(sig, handler);
	sig_changed();
	return rc;
}

XS_EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t handler)
{
	__sighandler_t rc;

	shim_resolve();
	rc = shim_real.sysv_signal(sig, handler);
	sig_changed();
	return rc;
}

XS_EXPORT __sighandler_t sigset(int sig, __sighandler_t handler)
{
	__sighandler_t rc;

	shim_resolve();
	rc = shim_real.sigset(sig, handler);
	sig_changed();
	return rc;
}

XS_EXPORT int siginterrupt(int sig, int flag)
{
	int rc;

	shim_resolve();
	rc = shim_real.siginterrupt(sig, flag);
	sig_changed();
	return rc;
}
