/* SPDX-License-Identifier: MIT */
/*
 * Intercepted exec calls: execve, execv, execvp, execvpe, execl, execlp,
 * execle, fexecve, execveat.
 *
 * A ring connection cannot cross exec: the ring is mapped in this process
 * image and served by its event thread, both gone once the new program
 * runs. So before exec, every ring fd that would be inherited (no
 * FD_CLOEXEC) is replaced, in this process only, by a socket whose peer is
 * already closed: the new program reads end-of-file and its writes fail
 * with EPIPE, as with a TCP connection the peer closed. The connection
 * itself is untouched: it lives on in the processes that still hold it
 * (a parent that forked before exec), and ends, with EOF for the peer,
 * when the last of them closes it. If exec then fails, those fds stay
 * replaced (the caller sees them closed). docs/protocol.md, "Known limits".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "preload/fdtable.h"
#include "preload/libc.h"
#include "preload/shim.h"

/* Replace the inheritable ring fds by closed sockets (see above). */
static void rings_before_exec(void)
{
	int fd, hi = __atomic_load_n(&shim_tab_hi, __ATOMIC_ACQUIRE);

	if (shim_guard)
		return;
	for (fd = 0; fd < hi; fd++) {
		struct shim_sock *s;
		int sv[2], fl;

		if (!shim_maybe_ours(fd))
			continue;
		s = shim_peek(fd);
		if (!s)
			continue;
		fl = fcntl(fd, F_GETFD);
		if (s->kind != SHIM_RING || fl < 0 || (fl & FD_CLOEXEC)) {
			shim_put(s);
			continue;
		}
		shim_put(s);
		SHIM_ENTER();
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
			shim_real.close(sv[1]);	/* the new program reads EOF */
			/* Our dup2 drops the table entry, as a close would. */
			SHIM_LEAVE();
			dup2(sv[0], fd);
			SHIM_ENTER();
			shim_real.close(sv[0]);
			xs_log(XS_LOG_INFO, "exec: ring fd %d handed over closed", fd);
		}
		SHIM_LEAVE();
	}
}

/* ---- the calls ------------------------------------------------------------------------ */

XS_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	shim_resolve();
	rings_before_exec();
	return shim_real.execve(path, argv, envp);
}

XS_EXPORT int execv(const char *path, char *const argv[])
{
	shim_resolve();
	rings_before_exec();
	return shim_real.execv(path, argv);
}

XS_EXPORT int execvp(const char *file, char *const argv[])
{
	shim_resolve();
	rings_before_exec();
	return shim_real.execvp(file, argv);
}

XS_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	shim_resolve();
	rings_before_exec();
	return shim_real.execvpe(file, argv, envp);
}

XS_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	shim_resolve();
	rings_before_exec();
	return shim_real.fexecve(fd, argv, envp);
}

XS_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
		       int flags)
{
	shim_resolve();
	if (!shim_real.execveat) {
		errno = ENOSYS;
		return -1;
	}
	rings_before_exec();
	return shim_real.execveat(dirfd, path, argv, envp, flags);
}

/* The variadic forms: collect the arguments, then the vector forms above. */
static char **collect(const char *arg0, va_list ap, char ***envp)
{
	size_t n = 1, cap = 16;
	char **v = malloc(cap * sizeof(*v));
	const char *a;

	if (!v)
		return NULL;
	v[0] = (char *)arg0;
	while (arg0 && (a = va_arg(ap, const char *)) != NULL) {
		if (n + 2 > cap) {
			char **nv = realloc(v, (cap *= 2) * sizeof(*v));

			if (!nv) {
				free(v);
				return NULL;
			}
			v = nv;
		}
		v[n++] = (char *)a;
	}
	v[arg0 ? n : 0] = NULL;
	if (envp)
		*envp = va_arg(ap, char **);
	return v;
}

enum exec_form { EXEC_V, EXEC_VP, EXEC_VE };

/*
 * execl, execlp, execle: collect @arg0 and the arguments after it (for
 * execle, the environment after them too) and call execv, execvp or
 * execve (@form; ours, above). -1 and errno.
 */
static int exec_list(enum exec_form form, const char *path, const char *arg0, va_list ap)
{
	char **v, **envp = NULL;
	int rc;

	v = collect(arg0, ap, form == EXEC_VE ? &envp : NULL);
	if (!v) {
		errno = ENOMEM;
		return -1;
	}
	if (form == EXEC_VP)
		rc = execvp(path, v);
	else if (form == EXEC_VE)
		rc = execve(path, v, envp);
	else
		rc = execv(path, v);
	free(v);
	return rc;
}

/* One definition for the three list forms. */
#define EXEC_LIST(name, form)						\
	XS_EXPORT int name(const char *path, const char *arg, ...)	\
	{								\
		va_list ap;						\
		int rc;							\
									\
		va_start(ap, arg);					\
		rc = exec_list(form, path, arg, ap);			\
		va_end(ap);						\
		return rc;						\
	}

EXEC_LIST(execl, EXEC_V)
EXEC_LIST(execlp, EXEC_VP)
EXEC_LIST(execle, EXEC_VE)
