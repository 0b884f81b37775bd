/* SPDX-License-Identifier: MIT */
/*
 * Intercepted naming and option calls: getsockname, getpeername,
 * getsockopt, setsockopt, ioctl. A ring socket answers as the TCP socket the
 * application believes it has.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <netinet/tcp.h>
#include <string.h>

#include "common/compiler.h"
#include "preload/fdtable.h"
#include "preload/handover.h"
#include "preload/libc.h"
#include "preload/names.h"
#include "preload/shim.h"

static int put_addr(const struct sockaddr_storage *ss, socklen_t sslen, struct sockaddr *addr,
		    socklen_t *addrlen)
{
	if (!addr || !addrlen)
		return shim_fail(-EFAULT);
	memcpy(addr, ss, XS_MIN(*addrlen, sslen));
	*addrlen = sslen;
	return 0;
}

/* getpeername() (@peer) or getsockname() on ring socket @s, whose
 * reference this drops: 0, or -1 and errno. */
static int sock_name(struct shim_sock *s, bool peer, struct sockaddr *addr, socklen_t *addrlen)
{
	const struct xs_conn *c = s->conn;
	int rc;

	if (peer)
		rc = put_addr(&c->paddr, c->paddr_len, addr, addrlen);
	else
		rc = put_addr(&c->laddr, c->laddr_len, addr, addrlen);
	shim_put(s);
	return rc;
}

XS_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	struct shim_sock *s = shim_ring_of(fd);

	if (!s && !shim_guard && relay_name(fd, false, addr, addrlen))
		return 0;	/* a ring relayed to stdio (relay.c) */
	if (!s)
		return shim_real.getsockname(fd, addr, addrlen);
	return sock_name(s, false, addr, addrlen);
}

XS_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	struct shim_sock *s = shim_ring_of(fd);

	if (!s && !shim_guard && relay_name(fd, true, addr, addrlen))
		return 0;	/* a ring relayed to stdio (relay.c) */
	if (!s)
		return shim_real.getpeername(fd, addr, addrlen);
	return sock_name(s, true, addr, addrlen);
}

static int put_int(int v, void *val, socklen_t *len)
{
	if (!val || !len)
		return shim_fail(-EFAULT);
	if (*len >= sizeof(int)) {
		memcpy(val, &v, sizeof(int));
		*len = sizeof(int);
	} else if (*len > 0) {
		*(char *)val = (char)v;
		*len = 1;
	}
	return 0;
}

/* A recorded option value, or -1. */
int sock_opt_get(struct shim_sock *s, int level, int name, int *v)
{
	unsigned int i;

	for (i = 0; i < s->nopts; i++) {
		if (s->opts[i].level == level && s->opts[i].name == name) {
			*v = s->opts[i].value;
			return 0;
		}
	}
	return -1;
}

static int sock_getsockopt(struct shim_sock *s, int level, int name, void *val, socklen_t *len)
{
	int v = 0;

	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_TYPE: return put_int(SOCK_STREAM, val, len);
		case SO_DOMAIN: return put_int(s->family, val, len);
		case SO_PROTOCOL: return put_int(IPPROTO_TCP, val, len);
		case SO_ACCEPTCONN: return put_int(0, val, len);
		case SO_ERROR: return put_int(0, val, len);
		case SO_RCVBUF:
		case SO_SNDBUF:
			if (sock_opt_get(s, level, name, &v) == 0)
				return put_int(v * 2, val, len);	/* as Linux doubles it */
			return put_int((int)s->conn->ring.size, val, len);
		case SO_RCVTIMEO:
		case SO_SNDTIMEO: {
			struct timeval tv = { 0, 0 };

			if (sock_opt_get(s, level, name, &v) == 0 && v > 0) {
				tv.tv_sec = v / 1000;
				tv.tv_usec = (v % 1000) * 1000;
			}
			if (!val || !len || *len < sizeof(tv))
				return shim_fail(-EINVAL);
			memcpy(val, &tv, sizeof(tv));
			*len = sizeof(tv);
			return 0;
		}
		case SO_LINGER: {
			struct linger lg = { 0, 0 };

			if (!val || !len || *len < sizeof(lg))
				return shim_fail(-EINVAL);
			memcpy(val, &lg, sizeof(lg));
			*len = sizeof(lg);
			return 0;
		}
		default:
			break;
		}
	}
	if (level == SOL_SOCKET || level == IPPROTO_TCP || level == IPPROTO_IP ||
	    level == IPPROTO_IPV6) {
		if (level == IPPROTO_TCP && name == TCP_MAXSEG &&
		    sock_opt_get(s, level, name, &v) < 0)
			v = 65483;
		else if (sock_opt_get(s, level, name, &v) < 0)
			v = 0;
		return put_int(v, val, len);
	}
	return shim_fail(-ENOPROTOOPT);
}

static int sock_setsockopt(struct shim_sock *s, int level, int name, const void *val,
			   socklen_t len)
{
	int v = 0;
	unsigned int i;

	if (level != SOL_SOCKET && level != IPPROTO_TCP && level != IPPROTO_IP &&
	    level != IPPROTO_IPV6)
		return shim_fail(-ENOPROTOOPT);
	if (!val && len)
		return shim_fail(-EFAULT);
	if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
		struct timeval tv;

		if (len < sizeof(tv))
			return shim_fail(-EINVAL);
		memcpy(&tv, val, sizeof(tv));
		if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
			return shim_fail(-EDOM);
		v = (int)XS_MIN((long long)tv.tv_sec * 1000 + tv.tv_usec / 1000, 0x7fffffffLL);
		if (v == 0 && (tv.tv_sec || tv.tv_usec))
			v = 1;
	} else if (len >= sizeof(int)) {
		memcpy(&v, val, sizeof(int));
	} else if (len > 0) {
		v = *(const unsigned char *)val;
	}
	for (i = 0; i < s->nopts; i++) {
		if (s->opts[i].level == level && s->opts[i].name == name) {
			s->opts[i].value = v;
			return 0;
		}
	}
	if (s->nopts < XS_ARRAY_SIZE(s->opts)) {
		s->opts[s->nopts].level = level;
		s->opts[s->nopts].name = name;
		s->opts[s->nopts].value = v;
		s->nopts++;
	}
	return 0;	/* accepted as TCP would; options without effect on a ring */
}

XS_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct shim_sock *s = shim_ring_of(fd);
	int rc;

	if (!s)
		return shim_real.getsockopt(fd, level, name, val, len);
	rc = sock_getsockopt(s, level, name, val, len);
	shim_put(s);
	return rc;
}

XS_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct shim_sock *s = shim_ring_of(fd);
	int rc;

	if (!s)
		return shim_real.setsockopt(fd, level, name, val, len);
	rc = sock_setsockopt(s, level, name, val, len);
	shim_put(s);
	return rc;
}

/*
 * ioctl: the queue sizes a TCP socket answers come from the ring
 * (FIONREAD/SIOCINQ: bytes ready to read; SIOCOUTQ: bytes written and not
 * yet read by the peer; SIOCOUTQNSD: the same, nothing is "not sent";
 * SIOCATMARK: never at an urgent mark). Everything else (FIONBIO, FIOCLEX,
 * ...) goes to end A, which is what the application holds.
 */
XS_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	struct shim_sock *s;
	va_list ap;
	void *arg;
	int rc = 0, v;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	shim_resolve();
	if (req != FIONREAD && req != SIOCOUTQ && req != SIOCOUTQNSD && req != SIOCATMARK)
		return shim_real.ioctl(fd, req, arg);
	s = shim_ring_of(fd);
	if (!s)
		return shim_real.ioctl(fd, req, arg);
	if (!arg) {
		shim_put(s);
		return shim_fail(-EFAULT);
	}
	SHIM_ENTER();
	if (req == FIONREAD) {
		ssize_t n = xsr_rx_ready(&s->conn->ring);

		v = n > 0 ? (int)XS_MIN(n, (ssize_t)INT_MAX) : 0;
	} else if (req == SIOCATMARK) {
		v = 0;
	} else {
		ssize_t space = xsr_tx_space(&s->conn->ring);

		v = space >= 0 ? (int)(s->conn->ring.size - (size_t)space) : 0;
	}
	/* The caller's int need not be aligned (Python passes a bytes buffer). */
	memcpy(arg, &v, sizeof(v));
	SHIM_LEAVE();
	shim_put(s);
	return rc;
}
