/* SPDX-License-Identifier: MIT */
/*
 * Tunables from the environment: one reader for every XSOCK_* number, so
 * that each is parsed, bounded and reported the same way (README's table
 * lists them).
 */
#ifndef XSOCK_COMMON_ENV_H
#define XSOCK_COMMON_ENV_H

#include <stdbool.h>

/*
 * The decimal value of environment variable @name. Unset or empty: @def.
 * Not a whole decimal number, or outside [@min, @max]: @def, and a warning
 * in the log (XSOCK_DEBUG >= 2) naming the variable and the value. Never
 * fails; keeps errno unchanged.
 */
long xs_env_long(const char *name, long def, long min, long max);

/*
 * The same, computed once per process and kept in *@cache (callers pass a
 * static initialised to -1; @min must be >= 0). Any thread may call it;
 * two threads racing compute the same value.
 */
int xs_env_cached(int *cache, const char *name, long def, long min, long max);

/* Environment variable @name if set and non-empty, else NULL. */
const char *xs_env_str(const char *name);

/* True unless @name is set to exactly "0" (on/off switches default on). */
bool xs_env_on(const char *name);

#endif /* XSOCK_COMMON_ENV_H */
