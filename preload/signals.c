/* SPDX-License-Identifier: MIT */
/*
 * Intercepted sigaction, signal, bsd_signal, sysv_signal, sigset and
 * siginterrupt: passed to libc untouched; the shim only notes that a
 * disposition may have changed.
 *
 * What for: a blocking read or write on a ring socket sleeps in ppoll()
 * on end A and on the ring's event channel (direct.c), and ppoll() fails
 * with EINTR after every signal handler, where recv() and send() on a TCP
 * socket are restarted after a handler installed with SA_RESTART and fail
 * with EINTR after one without. So the sleep keeps the signals whose
 * handler has no SA_RESTART blocked (ppoll()'s mask) and watches them with
 * a signalfd of the thread's (never read): when one comes, ppoll()
 * returns, its mask goes, the handler runs, and the call fails with EINTR
 * as TCP's would; any other handler's EINTR is restarted. Which handlers
 * have SA_RESTART is read from the kernel once after each change of a
 * disposition.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/fd.h"
#include "preload/libc.h"
#include "preload/shim.h"
#include "preload/signals.h"

/* Bumped by every change (atomic). */
static unsigned int sig_gen = 1;
/*
 * The signals (1..64, bit n-1) with a handler installed without
 * SA_RESTART, as last read from the kernel, and the generation they are
 * of (0 while being written): a sequence lock, so that a reader -- maybe a
 * signal handler that interrupted the writer -- never waits. One writer at
 * a time (sig_lock, tried only); a reader that finds them stale or being
 * written reads the kernel itself.
 */
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t sig_nr;
static unsigned int sig_nr_gen;

static void sig_changed(void)
{
	__atomic_add_fetch(&sig_gen, 1, __ATOMIC_RELEASE);
}

static uint64_t sig_read_kernel(void)
{
	struct sigaction sa;
	uint64_t nr = 0;
	int sig;

	shim_resolve();
	/* The kernel's word: dispositions set before we were loaded count. */
	for (sig = 1; sig < NSIG && sig <= 64; sig++) {
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
		if (!(sa.sa_flags & SA_RESTART))
			nr |= (uint64_t)1 << (sig - 1);
	}
	return nr;
}

/* The non-restarting handlers' signals, and the generation they are of. */
static uint64_t sig_nonrestart(unsigned int *gen_out)
{
	unsigned int gen = __atomic_load_n(&sig_gen, __ATOMIC_ACQUIRE);
	unsigned int g1, g2;
	uint64_t nr;

	*gen_out = gen;
	/* Acquire, both: the mask is read between two looks at its
	 * generation, which the writer zeroes before and sets after. */
	g1 = __atomic_load_n(&sig_nr_gen, __ATOMIC_ACQUIRE);
	nr = __atomic_load_n(&sig_nr, __ATOMIC_ACQUIRE);
	g2 = __atomic_load_n(&sig_nr_gen, __ATOMIC_ACQUIRE);
	if (g1 == gen && g2 == gen)
		return nr;
	nr = sig_read_kernel();
	if (pthread_mutex_trylock(&sig_lock) == 0) {
		/* A change meanwhile bumped sig_gen: this is then stored as
		 * the old generation's, and the next call reads again. Release
		 * stores: zero, the mask, the generation, in that order. */
		__atomic_store_n(&sig_nr_gen, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&sig_nr, nr, __ATOMIC_RELEASE);
		__atomic_store_n(&sig_nr_gen, gen, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&sig_lock);
	}
	return nr;
}

/* ---- this thread's signalfd --------------------------------------------------------- */

static __thread int t_sfd = -1;
static __thread sigset_t t_sfd_mask;
static pthread_key_t t_sfd_key;
static pthread_once_t t_sfd_once = PTHREAD_ONCE_INIT;

static void t_sfd_close(void *arg)
{
	(void)arg;
	if (t_sfd >= 0)
		close(t_sfd);
	t_sfd = -1;
}

static void t_sfd_key_make(void)
{
	(void)pthread_key_create(&t_sfd_key, t_sfd_close);
}

/* This thread's signalfd for @want: made, or its mask updated. */
static int t_sfd_for(const sigset_t *want)
{
	int fd;

	if (t_sfd >= 0 && memcmp(&t_sfd_mask, want, sizeof(*want)) == 0)
		return t_sfd;
	fd = signalfd(t_sfd, want, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (t_sfd < 0) {
		fd = xs_fd_out_of_way(fd);
		pthread_once(&t_sfd_once, t_sfd_key_make);
		/* Any non-NULL value: the destructor runs at thread exit. */
		(void)pthread_setspecific(t_sfd_key, &t_sfd);
	}
	t_sfd = fd;
	t_sfd_mask = *want;
	return fd;
}

int sig_sleep_prepare(struct sig_sleep *ss)
{
	sigset_t cur, want;
	uint64_t nr = sig_nonrestart(&ss->gen);
	int sig, fd;

	ss->sfd = -1;
	ss->masked = false;
	if (!nr)
		return 0;
	fd = pthread_sigmask(SIG_BLOCK, NULL, &cur);
	if (fd)
		return -fd;
	sigemptyset(&want);
	for (sig = 1; sig <= 64 && sig < NSIG; sig++)
		if ((nr >> (sig - 1)) & 1 && !sigismember(&cur, sig))
			sigaddset(&want, sig);
	if (sigisemptyset(&want))
		return 0;	/* blocked by the program: they cannot interrupt */
	fd = t_sfd_for(&want);
	if (fd < 0)
		return fd;
	sigorset(&ss->mask, &cur, &want);
	ss->masked = true;
	ss->sfd = fd;
	return 0;
}

bool sig_sleep_changed(const struct sig_sleep *ss)
{
	return __atomic_load_n(&sig_gen, __ATOMIC_ACQUIRE) != ss->gen;
}

void sig_sleep_lost(void)
{
	/* Closed behind our back (a program's close_range(), say). */
	t_sfd = -1;
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

/* signal(), bsd_signal(), sysv_signal(), sigset(): libc's, then noted. */
#define SIG_WATCHED(name)                                                \
	XS_EXPORT __sighandler_t name(int sig, __sighandler_t handler)  \
	{                                                                \
		__sighandler_t rc;                                       \
                                                                         \
		shim_resolve();                                          \
		rc = shim_real.name(sig, handler);                       \
		sig_changed();                                           \
		return rc;                                               \
	}
SIG_WATCHED(signal)
SIG_WATCHED(bsd_signal)
SIG_WATCHED(sysv_signal)
SIG_WATCHED(sigset)

XS_EXPORT int siginterrupt(int sig, int flag)
{
	int rc;

	shim_resolve();
	rc = shim_real.siginterrupt(sig, flag);
	sig_changed();
	return rc;
}
