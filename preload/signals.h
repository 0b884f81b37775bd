/* SPDX-License-Identifier: MIT */
/* Signal dispositions, as far as waits care: signals.c. */
#ifndef XSOCK_PRELOAD_SIGNALS_H
#define XSOCK_PRELOAD_SIGNALS_H

#include <stdbool.h>

/*
 * Every signal handler of the process is installed with SA_RESTART (or
 * there is none; handlers of fault signals -- SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL, SIGTRAP, SIGSYS -- do not count: those are raised by a thread's
 * own instructions): a sleep that a handler interrupts (EINTR) may then be
 * restarted where the kernel would restart a blocking recv() or send().
 * Looked up again only after a disposition changed (a few dozen system
 * calls then; a load otherwise).
 */
bool sig_restarts(void);

#endif /* XSOCK_PRELOAD_SIGNALS_H */
