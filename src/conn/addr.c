/* SPDX-License-Identifier: MIT */
/* STUB: to be implemented. */
#include "config.h"
#include <errno.h>
#include "conn/addr.h"

int xs_prefix_parse(const char *s, struct xs_prefix *out)
{
	return -ENOSYS;
}

int xs_prefix_format(const struct xs_prefix *p, char *buf, size_t len)
{
	return -ENOSYS;
}

int xs_prefix_to_key(const struct xs_prefix *p, char *buf, size_t len)
{
	return -ENOSYS;
}

int xs_prefix_from_key(const char *key, struct xs_prefix *out)
{
	return -ENOSYS;
}

bool xs_prefix_match(const struct xs_prefix *p, const struct sockaddr *sa,
		     socklen_t salen)
{
	return false;
}

bool xs_addr_is_loopback(const struct sockaddr *sa, socklen_t salen)
{
	return false;
}
