/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/env.h"
#include "common/log.h"

const char *xs_env_str(const char *name)
{
	const char *s = getenv(name);

	return s && *s ? s : NULL;
}

long xs_env_long(const char *name, long def, long min, long max)
{
	const char *s = xs_env_str(name);
	int saved = errno;
	char *end;
	long v;

	if (!s)
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		xs_log(XS_LOG_WARN, "ignoring invalid %s=%s (want %ld..%ld)", name, s, min, max);
		v = def;
	}
	errno = saved;
	return v;
}

int xs_env_cached(int *cache, const char *name, long def, long min, long max)
{
	/* Any thread may compute it (the same value): relaxed is enough. */
	int v = __atomic_load_n(cache, __ATOMIC_RELAXED);

	if (v < 0) {
		v = (int)xs_env_long(name, def, min, max);
		__atomic_store_n(cache, v, __ATOMIC_RELAXED);
	}
	return v;
}

bool xs_env_on(const char *name)
{
	const char *v = getenv(name);

	return !(v && strcmp(v, "0") == 0);
}
