/* SPDX-License-Identifier: MIT */
/*
 * Intercepted exec calls: execve, execv, execvp, execvpe, execl, execlp,
 * execle, fexecve, execveat; and what execs inside libc: posix_spawn,
 * posix_spawnp, system, popen (and vfork, run as fork: the shim's state
 * is per process).
 *
 * A ring fd the new program inherits (no FD_CLOEXEC) crosses exec when
 * the program runs under the shim: handover.c writes it down, the new
 * image's shim rebuilds it (adopt.c); docs/protocol.md, "What crosses
 * exec". A program that will not run under the shim (LD_PRELOAD without
 * the shim in its environment, or a set-user-ID or set-group-ID file,
 * for which the loader ignores LD_PRELOAD) must never read the shim's
 * readiness bytes as data: before exec its ring fds are replaced, in this
 * process only, by sockets whose peer is closed (it reads end of file,
 * its writes fail with EPIPE, as with a TCP peer that closed); a program
 * started by posix_spawn/system/popen does not inherit them at all
 * (they are close-on-exec for the spawn). The connection itself lives on
 * in the processes that still hold it.
 */
#include "config.h"

#include <alloca.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "preload/fdtable.h"
#include "preload/handover.h"
#include "preload/handover_rec.h"
#include "preload/libc.h"
#include "preload/shim.h"

extern char **environ;

void exec_eof_fd(int fd)
{
	int sv[2], guard = shim_guard;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	shim_real.close(sv[1]);	/* the new program reads EOF */
	/* Our dup2 drops the table entry, as a close would (called from
	 * inside the shim: not under its guard for that). */
	shim_guard = 0;
	dup2(sv[0], fd);
	shim_guard = guard;
	shim_real.close(sv[0]);
}

/* ---- will the new program run under the shim? ------------------------------------------ */

static bool env_preloads_us(char *const envp[])
{
	int i;

	for (i = 0; envp && envp[i]; i++) {
		if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0)
			return strstr(envp[i] + 11, "libxsock_preload") != NULL;
	}
	return false;
}

/* The loader ignores LD_PRELOAD (as we set it) for set-ID programs. */
static bool setid(const struct stat *st)
{
	return (st->st_mode & S_ISUID && st->st_uid != geteuid()) ||
	       (st->st_mode & S_ISGID && st->st_gid != getegid());
}

/* @file as execvp() finds it (its PATH search); false when not found. */
static bool path_stat(const char *file, struct stat *st)
{
	const char *path = getenv("PATH"), *p, *e;
	char buf[4096];

	if (strchr(file, '/'))
		return stat(file, st) == 0;
	for (p = path ? path : "/bin:/usr/bin"; ; p = e + 1) {
		size_t n;

		e = strchrnul(p, ':');
		n = (size_t)(e - p);
		if (n + strlen(file) + 2 < sizeof(buf)) {
			snprintf(buf, sizeof(buf), "%.*s%s%s", (int)n, p, n ? "/" : "", file);
			if (stat(buf, st) == 0 && S_ISREG(st->st_mode) && access(buf, X_OK) == 0)
				return true;
		}
		if (!*e)
			return false;
	}
}

/* @st: the program's file, NULL if unknown. */
static bool follows(char *const envp[], const struct stat *st)
{
	return env_preloads_us(envp) && !(st && setid(st));
}

/* ---- the environment passed on --------------------------------------------------------- */

/* Entries of @envp, and room for the new image's XSOCK_EXEC_FD. */
static size_t env_count(char *const envp[])
{
	size_t n = 0;

	while (envp && envp[n])
		n++;
	return n + 2;
}

/* @out (env_count() entries): @envp without XSOCK_EXEC_FD, plus @var if any. */
static char **env_build(char **out, char *const envp[], char *var)
{
	size_t i, n = 0;

	for (i = 0; envp && envp[i]; i++) {
		if (strncmp(envp[i], XS_HO_ENV "=", sizeof(XS_HO_ENV)) != 0)
			out[n++] = envp[i];
	}
	if (var)
		out[n++] = var;
	out[n] = NULL;
	return out;
}

/*
 * Prepare the hand-over for a program whose file is @st (NULL: unknown)
 * started with @envp: the environment to start it with, in @out.
 */
#define EXEC_PREPARE(envp, st, spawn, out, var)						\
	({										\
		int __fd = handover_begin(follows((envp), (st)), (spawn));		\
											\
		if (__fd >= 0)								\
			snprintf((var), sizeof(var), XS_HO_ENV "=%d", __fd);		\
		(out) = alloca(env_count(envp) * sizeof(char *));			\
		env_build((out), (envp), __fd >= 0 ? (var) : NULL);			\
	})

/* ---- the calls ------------------------------------------------------------------------ */

XS_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	char var[48], **env;
	struct stat st;
	int rc;

	shim_resolve();
	EXEC_PREPARE(envp, stat(path, &st) == 0 ? &st : NULL, false, env, var);
	rc = shim_real.execve(path, argv, env);
	handover_end();
	return rc;
}

XS_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

XS_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	char var[48], **env;
	struct stat st;
	int rc;

	shim_resolve();
	EXEC_PREPARE(envp, path_stat(file, &st) ? &st : NULL, false, env, var);
	rc = shim_real.execvpe(file, argv, env);
	handover_end();
	return rc;
}

XS_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

XS_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	char var[48], **env;
	struct stat st;
	int rc;

	shim_resolve();
	EXEC_PREPARE(envp, fstat(fd, &st) == 0 ? &st : NULL, false, env, var);
	rc = shim_real.fexecve(fd, argv, env);
	handover_end();
	return rc;
}

XS_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
		       int flags)
{
	char var[48], **env;
	struct stat st;
	int rc;

	shim_resolve();
	if (!shim_real.execveat) {
		errno = ENOSYS;
		return -1;
	}
	EXEC_PREPARE(envp, fstatat(dirfd, path, &st, flags & (AT_EMPTY_PATH |
							     AT_SYMLINK_NOFOLLOW)) == 0 ?
		     &st : NULL, false, env, var);
	rc = shim_real.execveat(dirfd, path, argv, env, flags);
	handover_end();
	return rc;
}

/* ---- exec inside libc ------------------------------------------------------------------ */

XS_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	char var[48], **env;
	struct stat st;
	int rc;

	shim_resolve();
	EXEC_PREPARE(envp, stat(path, &st) == 0 ? &st : NULL, true, env, var);
	rc = shim_real.posix_spawn(pid, path, fa, attr, argv, env);
	handover_end();
	return rc;
}

XS_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	char var[48], **env;
	struct stat st;
	int rc;

	shim_resolve();
	EXEC_PREPARE(envp, path_stat(file, &st) ? &st : NULL, true, env, var);
	rc = shim_real.posix_spawnp(pid, file, fa, attr, argv, env);
	handover_end();
	return rc;
}

/*
 * system() and popen() start "/bin/sh -c" with environ: the record's
 * number is put in environ around the call (another thread that reads
 * the environment meanwhile sees it too; an exec through us drops it).
 */
#define SH_WRAP(call)									\
	({										\
		struct stat __st;							\
		char __var[32];								\
		int __fd = handover_begin(follows(environ, stat("/bin/sh", &__st) == 0 ?	\
						  &__st : NULL), true);			\
											\
		if (__fd >= 0) {							\
			snprintf(__var, sizeof(__var), "%d", __fd);			\
			setenv(XS_HO_ENV, __var, 1);					\
		}									\
		__typeof__(call) __rc = (call);						\
		int __err = errno;							\
											\
		if (__fd >= 0)								\
			unsetenv(XS_HO_ENV);						\
		handover_end();								\
		errno = __err;								\
		__rc;									\
	})

XS_EXPORT int system(const char *cmd)
{
	shim_resolve();
	if (!cmd)
		return shim_real.system(cmd);
	return SH_WRAP(shim_real.system(cmd));
}

XS_EXPORT FILE *popen(const char *cmd, const char *mode)
{
	shim_resolve();
	return SH_WRAP(shim_real.popen(cmd, mode));
}

/*
 * vfork() shares this process's memory with the child until it execs,
 * and the child's dup2/close/exec go through the shim, whose state is per
 * process: run it as fork().
 */
XS_EXPORT pid_t vfork(void)
{
	return fork();
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
