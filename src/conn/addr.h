/* SPDX-License-Identifier: MIT */
/*
 * Addresses and prefixes: parsing what users type (xsockctl) and what the
 * store holds, matching socket addresses against them.
 * All functions: 0 or a negative errno; none allocates.
 */
#ifndef XSOCK_CONN_ADDR_H
#define XSOCK_CONN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct xs_prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network byte order; host bits cleared */
	unsigned int plen;	/* 0..32 or 0..128 */
};

/*
 * Parse "ADDR" or "ADDR/PREFIX" (IPv4 dotted quad or any inet_pton IPv6
 * form). A bare address is a /32 or /128. Host bits beyond the prefix are
 * rejected (-EINVAL) so "10.0.0.1/24" is an error, not a silent surprise.
 * Errors: -EINVAL with nothing written.
 */
int xs_prefix_parse(const char *s, struct xs_prefix *out);

/* "10.0.0.0/24", "2001:db8::/32"; a full-length prefix prints bare.
 * -ENOSPC if @len is too small (XS_PREFIX_STRLEN always suffices). */
#define XS_PREFIX_STRLEN 64
int xs_prefix_format(const struct xs_prefix *p, char *buf, size_t len);

/*
 * A store-safe key for the prefix: [0-9a-f-] only, e.g. "4-0a4d0002-32",
 * "6-20010db8000000000000000000000000-32". xs_prefix_from_key() is the
 * exact inverse and validates like xs_prefix_parse().
 */
#define XS_PREFIX_KEYLEN 48
int xs_prefix_to_key(const struct xs_prefix *p, char *buf, size_t len);
int xs_prefix_from_key(const char *key, struct xs_prefix *out);

/* Does @sa (AF_INET, AF_INET6; v4-mapped IPv6 matches IPv4 prefixes)
 * fall inside @p? */
bool xs_prefix_match(const struct xs_prefix *p, const struct sockaddr *sa,
		     socklen_t salen);

/* Is @sa a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104)? */
bool xs_addr_is_loopback(const struct sockaddr *sa, socklen_t salen);

/* Is @sa the wildcard address (0.0.0.0, ::, ::ffff:0.0.0.0)? */
bool xs_addr_is_any(const struct sockaddr *sa, socklen_t salen);

/*
 * The store's key of @sa's host part (<xsock/store.h>, "<addr key>"):
 * "4-0a4d0002" for 10.77.0.2 and for ::ffff:10.77.0.2, "6-" and 32 hex
 * digits for other IPv6 addresses. Two addresses have the same key
 * exactly when they are the same host address. -EINVAL not an AF_INET or
 * AF_INET6 address (or @salen too short), -ENOSPC @len too small
 * (XS_ADDR_KEYLEN always suffices).
 */
#define XS_ADDR_KEYLEN 40
int xs_addr_key(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len);

/*
 * @sa's host part as numeric text ("10.77.0.2", "fd00::2"; an IPv4-mapped
 * address as IPv4). -EINVAL not an AF_INET or AF_INET6 address, -ENOSPC
 * @len too small (INET6_ADDRSTRLEN always suffices).
 */
int xs_addr_text(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len);

#endif /* XSOCK_CONN_ADDR_H */
