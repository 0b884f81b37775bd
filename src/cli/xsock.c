/* SPDX-License-Identifier: MIT */
/*
 * xsock: run a program under the xsock shim, in the manner of torsocks.
 *
 *   xsock [--] PROGRAM [ARGS...]
 *   xsock -h|--help, xsock --version
 *
 * Appends the full path of the installed shim (LIBDIR/libxsock_preload.so,
 * or $XSOCK_PRELOAD_LIB) to LD_PRELOAD, after whatever it already holds,
 * and executes PROGRAM (searched in PATH) with ARGS. Nothing else of the
 * environment, the descriptors or the arguments is changed.
 *
 * Exit status as env(1): 125 xsock itself failed (command line, the
 * library missing), 126 PROGRAM was found but could not be run, 127 it was
 * not found; otherwise PROGRAM's own.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef XSOCK_LIBDIR
#define XSOCK_LIBDIR "/usr/local/lib"
#endif
#define SHIM_NAME "libxsock_preload.so"
#define SHIM_DEFAULT XSOCK_LIBDIR "/" SHIM_NAME

#define EXIT_XSOCK 125
#define EXIT_CANNOT_RUN 126
#define EXIT_NOT_FOUND 127

static const char usage_text[] =
	"Usage: xsock [--] PROGRAM [ARGS...]\n"
	"\n"
	"Run PROGRAM under the xsock shim: its TCP connections to addresses that\n"
	"xsockctl(8) registered as other domains of this host go over shared-memory\n"
	"rings; everything else is untouched. xsock adds the shim to LD_PRELOAD\n"
	"(after what it holds) and changes nothing else.\n"
	"\n"
	"Options:\n"
	"  -h, --help      show this help\n"
	"  --version       show the version\n"
	"\n"
	"Shim: " SHIM_DEFAULT "\n"
	"      (XSOCK_PRELOAD_LIB names another)\n"
	"\n"
	"Exit status: PROGRAM's, or 125 xsock failed, 126 PROGRAM cannot be run,\n"
	"127 PROGRAM not found. See xsock(1), xsock(7), xsockctl(8).\n";

static int xsock_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int xsock_error(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("xsock: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/*
 * Does the LD_PRELOAD list @list (space or colon separated) hold @lib, or
 * another libxsock_preload.so (by name, or another build's: the user's
 * choice, and the loader would not load a second one of that soname)?
 */
static bool preload_has(const char *list, const char *lib)
{
	size_t n = strlen(lib), s = strlen(SHIM_NAME);
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, " :");

		if (len == n && strncmp(p, lib, n) == 0)
			return true;
		if (len >= s && strncmp(p + len - s, SHIM_NAME, s) == 0 &&
		    (len == s || p[len - s - 1] == '/'))
			return true;
		p += len;
		p += strspn(p, " :");
	}
	return false;
}

/* The shim's absolute path in @out, or an exit status with the error said. */
static int find_shim(char *out)
{
	const char *lib = getenv("XSOCK_PRELOAD_LIB");
	struct stat sb;

	if (!lib || !*lib)
		lib = SHIM_DEFAULT;
	if (!realpath(lib, out))
		return xsock_error(EXIT_XSOCK, "the xsock library %s is missing: %s%s", lib,
			     strerror(errno),
			     getenv("XSOCK_PRELOAD_LIB") ? " (from XSOCK_PRELOAD_LIB)" :
			     " (is xsock installed?)");
	if (stat(out, &sb) < 0 || !S_ISREG(sb.st_mode))
		return xsock_error(EXIT_XSOCK, "the xsock library %s is not a regular file", lib);
	if (access(out, R_OK) < 0)
		return xsock_error(EXIT_XSOCK, "the xsock library %s cannot be read: %s", lib,
			     strerror(errno));
	return 0;
}

static int set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *val;
	int rc;

	if (old && preload_has(old, lib))
		return 0;
	if (old && *old) {
		if (asprintf(&val, "%s:%s", old, lib) < 0)
			return xsock_error(EXIT_XSOCK, "out of memory");
		rc = setenv("LD_PRELOAD", val, 1);
		free(val);
	} else {
		rc = setenv("LD_PRELOAD", lib, 1);
	}
	if (rc < 0)
		return xsock_error(EXIT_XSOCK, "cannot set LD_PRELOAD: %s", strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	char lib[PATH_MAX];
	int i = 1, rc, err;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage_text, stdout);
		return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_XSOCK;
	}
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("xsock (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_XSOCK;
	}
	if (argc > 1 && strcmp(argv[1], "--") == 0)
		i = 2;
	else if (argc > 1 && argv[1][0] == '-')
		return xsock_error(EXIT_XSOCK, "unknown option '%s' (try 'xsock --help')", argv[1]);
	if (i >= argc)
		return xsock_error(EXIT_XSOCK, "missing PROGRAM (try 'xsock --help')");
	if (!*argv[i])
		return xsock_error(EXIT_NOT_FOUND, "cannot run '': %s", strerror(ENOENT));
	rc = find_shim(lib);
	if (rc)
		return rc;
	rc = set_preload(lib);
	if (rc)
		return rc;
	execvp(argv[i], argv + i);
	err = errno;
	return xsock_error(err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN, "cannot run '%s': %s",
		     argv[i], strerror(err));
}
