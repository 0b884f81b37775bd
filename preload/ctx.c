/* SPDX-License-Identifier: MIT */
/*
 * The process context (struct xs_ctx: the platform and the tunables),
 * opened on first use in each process, with the XSOCK_* environment the
 * process started with.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/env.h"
#include "common/log.h"
#include "preload/arena.h"
#include "preload/ctx.h"
#include "preload/libc.h"

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xs_ctx *ctx;
static bool ctx_failed;
static int ctx_error;		/* why it failed: -errno */
static char **env_saved;	/* "XSOCK_...=value" as the process started */

extern char **environ;

/*
 * xsock is configured through XSOCK_* environment variables, read when a
 * context (and its status table) is opened. Some programs replace their
 * environment after fork(): an nginx worker keeps only TZ. Remember the
 * variables as the process started, and put back those that went missing
 * when a context is opened.
 */
static void env_save(void)
{
	unsigned int n = 0, i = 0;
	char **e;

	if (!environ)
		return;
	for (e = environ; *e; e++)
		n += strncmp(*e, "XSOCK_", 6) == 0 && strncmp(*e, "XSOCK_EXEC_FD=", 14) != 0;
	env_saved = calloc(n + 1, sizeof(*env_saved));
	if (!env_saved)
		return;
	for (e = environ; *e && i < n; e++)
		if (strncmp(*e, "XSOCK_", 6) == 0 && strncmp(*e, "XSOCK_EXEC_FD=", 14) != 0 &&
		    (env_saved[i] = strdup(*e)) != NULL)
			i++;
}

static void env_restore(void)
{
	char **e, name[64];

	for (e = env_saved; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : 0;

		if (!len || len >= sizeof(name))
			continue;
		memcpy(name, *e, len);
		name[len] = '\0';
		if (!xs_env_str(name))
			setenv(name, eq + 1, 0);
	}
}

/*
 * A forked child opens its own context: on Xen it must not use its
 * parent's event-channel or store handles (src/platform/xen/xen.c). The
 * parent's stays allocated: connections the child inherited point to it.
 */
static void ctx_child_after_fork(void)
{
	pthread_mutex_init(&ctx_lock, NULL);
	__atomic_store_n(&ctx, NULL, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void ctx_constructor(void)
{
	env_save();
	pthread_atfork(NULL, NULL, ctx_child_after_fork);
}

int shim_ctx_error(void)
{
	return ctx_failed ? ctx_error : 0;
}

struct xs_ctx *shim_ctx(void)
{
	struct xs_ctx *c = __atomic_load_n(&ctx, __ATOMIC_ACQUIRE);

	if (c || ctx_failed)
		return c;
	SHIM_ENTER();
	pthread_mutex_lock(&ctx_lock);
	if (!ctx && !ctx_failed) {
		int rc;

		env_restore();
		rc = xs_ctx_open(&c);

		if (rc == -EACCES || rc == -EPERM) {
			/* The one line a process not allowed rings gets. */
			xs_log(XS_LOG_WARN, "xsock: uid %u may not use rings in this domain (%s): "
			       "TCP only; see xsock(7), \"Who may use rings\"",
			       (unsigned int)geteuid(), strerror(-rc));
		} else if (rc < 0) {
			xs_log(XS_LOG_WARN, "xsock disabled in this process: %s", strerror(-rc));
		}
		if (rc < 0) {
			ctx_failed = true;
			ctx_error = rc;
		} else {
			xs_log(XS_LOG_INFO, "xsock active: backend %s, domain %u",
			       xsp_backend_name(c->plat), c->self);
			__atomic_store_n(&ctx, c, __ATOMIC_RELEASE);
			arena_prepare();
		}
	}
	c = ctx;
	pthread_mutex_unlock(&ctx_lock);
	SHIM_LEAVE();
	return c;
}
