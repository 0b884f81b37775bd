/* SPDX-License-Identifier: MIT */
/*
 * Logging for operators. Silent unless asked for: XSOCK_DEBUG=N (0 off,
 * 1 errors, 2 warnings, 3 info, 4 debug) and XSOCK_LOG=path|syslog|stderr
 * (default: syslog when XSOCK_DEBUG is set). Never writes to stderr unless
 * XSOCK_LOG=stderr. Safe to call from any thread; keeps errno unchanged.
 */
#ifndef XSOCK_COMMON_LOG_H
#define XSOCK_COMMON_LOG_H

enum xs_log_level {
	XS_LOG_ERR = 1,
	XS_LOG_WARN = 2,
	XS_LOG_INFO = 3,
	XS_LOG_DEBUG = 4,
};

/* Level currently enabled (0 = off). Reads the environment once. */
int xs_log_level(void);

void xs_log_at(int level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define xs_log(level, ...)                                            \
	do {                                                          \
		if (xs_log_level() >= (level))                        \
			xs_log_at((level), __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#endif /* XSOCK_COMMON_LOG_H */
