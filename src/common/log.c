/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

enum sink { SINK_SYSLOG, SINK_FILE, SINK_STDERR };

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static int log_level;
static enum sink log_sink = SINK_SYSLOG;
static int log_fd = -1;

static void log_init(void)
{
	const char *lvl = getenv("XSOCK_DEBUG");
	const char *dst = getenv("XSOCK_LOG");

	if (lvl && *lvl) {
		char *end;
		long v = strtol(lvl, &end, 10);

		log_level = (*end || v < 0) ? XS_LOG_DEBUG : (v > 4 ? 4 : (int)v);
	}
	if (!log_level)
		return;
	if (!dst || !*dst || strcmp(dst, "syslog") == 0) {
		log_sink = SINK_SYSLOG;
	} else if (strcmp(dst, "stderr") == 0) {
		log_sink = SINK_STDERR;
	} else {
		/* O_CLOEXEC: an exec'd program must not inherit our log. */
		log_fd = open(dst, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		log_sink = log_fd >= 0 ? SINK_FILE : SINK_SYSLOG;
	}
}

int xs_log_level(void)
{
	pthread_once(&log_once, log_init);
	return log_level;
}

void xs_log_at(int level, const char *file, int line, const char *fmt, ...)
{
	static const char *names[] = { "", "error", "warn", "info", "debug" };
	int saved = errno;
	char msg[512], out[640];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_sink == SINK_SYSLOG) {
		syslog(level <= XS_LOG_ERR ? LOG_ERR : level == XS_LOG_WARN ? LOG_WARNING :
		       level == XS_LOG_INFO ? LOG_INFO : LOG_DEBUG,
		       "xsock[%d]: %s", (int)getpid(), msg);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		n = snprintf(out, sizeof(out), "%lld.%06ld xsock[%d/%ld] %s %s:%d: %s\n",
			     (long long)ts.tv_sec, ts.tv_nsec / 1000, (int)getpid(),
			     (long)syscall(SYS_gettid), names[(level >= 1 && level <= 4) ? level : 0], file,
			     line, msg);
		if (n > (int)sizeof(out))
			n = sizeof(out);
		/* One write(2) per line so lines from threads do not interleave. */
		if (write(log_sink == SINK_FILE ? log_fd : 2, out, (size_t)n) < 0) {
			/* nothing sensible to do */
		}
	}
	errno = saved;
}
