/* SPDX-License-Identifier: MIT */
/*
 * The libc table (libc.h), resolved once with dlsym(RTLD_NEXT) so that
 * stacked preloads keep working, and the recursion guard.
 */
#include "config.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "preload/libc.h"

/* Each entry has the type of libc's own declaration (sigset and
 * siginterrupt are deprecated ones: only watched, signals.c). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#define XSOCK_LIBC(name, ret, args)                                                         \
	_Static_assert(__builtin_types_compatible_p(__typeof__(&name), ret(*) args),        \
		       "shim_real." #name " does not match libc's " #name);
XSOCK_LIBC_CALLS
#undef XSOCK_LIBC
#pragma GCC diagnostic pop

struct shim_libc shim_real;
__thread int shim_guard __attribute__((tls_model("initial-exec")));

static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

static void resolve_all(void)
{
#define XSOCK_LIBC(name, ret, args) *(void **)&shim_real.name = dlsym(RTLD_NEXT, #name);
	XSOCK_LIBC_CALLS
#undef XSOCK_LIBC
}

void shim_resolve(void)
{
	pthread_once(&resolve_once, resolve_all);
}

/* Resolve as early as possible; wrappers also resolve on demand, so a call
 * made before this constructor runs still works. */
__attribute__((constructor)) static void shim_constructor(void)
{
	shim_resolve();
}
