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
 * the process's signalfd (never read): when one comes, ppoll()
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

/*
 * A ThreadSanitizer build (tests only) loads its runtime after the shim,
 * whose sigaction() must then not stand in front of the runtime's (the
 * first signal crashed `timeout` in test_threads): there the dispositions
 * are not watched but read again for every sleep (and the signalfd's mask
 * is set once).
 */
#if defined(__SANITIZE_THREAD__)
#define SIG_WATCH 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SIG_WATCH 0
#endif
#endif
#ifndef SIG_WATCH
#define SIG_WATCH 1
#endif

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

static __attribute__((unused)) void sig_changed(void)
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
	if (!SIG_WATCH)
		return sig_read_kernel();
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

/* ---- the process's signalfd ------------------------------------------------------- */

/*
 * One per process (opened with the event thread, kept for the process's
 * life, out of the application's way), watching the non-restarting
 * handlers' signals: a signalfd polls readable when one of its signals is
 * pending for the polling thread or for the process, so one serves every
 * thread. Never read. Its mask follows sig_nonrestart(), set under
 * sig_fd_lock (tried only) by the first sleeper that finds it stale.
 */
static int sig_fd = -1;			/* atomic */
static unsigned int sig_fd_gen;		/* atomic: the generation its mask is of */
static pthread_mutex_t sig_fd_lock = PTHREAD_MUTEX_INITIALIZER;

void sig_fd_open(void)
{
	sigset_t none;
	int fd;

	if (__atomic_load_n(&sig_fd, __ATOMIC_ACQUIRE) >= 0)
		return;
	sigemptyset(&none);
	fd = signalfd(-1, &none, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return;		/* blocking calls then sleep on end A */
	__atomic_store_n(&sig_fd_gen, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&sig_fd, xs_fd_out_of_way(fd), __ATOMIC_RELEASE);
}

/* Forked child: the parent's signalfd (one open file: its mask is shared)
 * is not ours to change; the child's event thread opens its own. */
static void sig_child_after_fork(void)
{
	int fd = __atomic_exchange_n(&sig_fd, -1, __ATOMIC_ACQ_REL);

	pthread_mutex_init(&sig_fd_lock, NULL);
	pthread_mutex_init(&sig_lock, NULL);
	if (fd >= 0)
		close(fd);
}

__attribute__((constructor)) static void signals_constructor(void)
{
	pthread_atfork(NULL, NULL, sig_child_after_fork);
}

/* Signals 1..64 as bits (bit n-1 for signal n), and back. */
static void sig_mask_of(uint64_t bits, sigset_t *set)
{
	int sig;

	sigemptyset(set);
	for (sig = 1; sig <= 64 && sig < NSIG; sig++)
		if ((bits >> (sig - 1)) & 1)
			sigaddset(set, sig);
}

static uint64_t sig_bits_of(const sigset_t *set)
{
	uint64_t bits = 0;
	int sig;

	for (sig = 1; sig <= 64 && sig < NSIG; sig++)
		if (sigismember(set, sig))
			bits |= (uint64_t)1 << (sig - 1);
	return bits;
}

int sig_sleep_prepare(struct sig_sleep *ss)
{
	uint64_t nr = sig_nonrestart(&ss->gen), want;
	sigset_t cur, set;
	int fd, rc;

	ss->sfd = -1;
	ss->masked = false;
	if (!nr)
		return 0;
	rc = pthread_sigmask(SIG_BLOCK, NULL, &cur);
	if (rc)
		return -rc;
	want = nr & ~sig_bits_of(&cur);
	if (!want)
		return 0;	/* blocked by the program: they cannot interrupt */
	/*
	 * The thread blocks some of them but not all: the process's signalfd
	 * would report those (pending for the process) as if they were
	 * this thread's to take. Sleep on end A instead.
	 */
	if (want != nr)
		return -EAGAIN;
	fd = __atomic_load_n(&sig_fd, __ATOMIC_ACQUIRE);
	if (fd < 0)
		return -ENOENT;
	if (__atomic_load_n(&sig_fd_gen, __ATOMIC_ACQUIRE) != ss->gen) {
		if (pthread_mutex_trylock(&sig_fd_lock) != 0)
			return -EAGAIN;
		sig_mask_of(nr, &set);
		rc = signalfd(fd, &set, 0) < 0 ? -errno : 0;
		if (rc == 0)
			__atomic_store_n(&sig_fd_gen, ss->gen, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&sig_fd_lock);
		if (rc < 0)
			return rc;
	}
	sig_mask_of(want, &set);
	sigorset(&ss->mask, &cur, &set);
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
	__atomic_store_n(&sig_fd, -1, __ATOMIC_RELEASE);
}

#if SIG_WATCH
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
#endif /* SIG_WATCH */
