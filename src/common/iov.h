/* SPDX-License-Identifier: MIT */
/* iovec arithmetic shared by the ring and the shim's vectored calls. */
#ifndef XSOCK_COMMON_IOV_H
#define XSOCK_COMMON_IOV_H

#include <errno.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * Total length of @iov[0..@iovcnt), saturated at @cap (a length can then
 * never overflow what the caller stores it in). Returns 0 and sets *@total,
 * or -EINVAL for a negative @iovcnt or a NULL @iov with @iovcnt > 0.
 */
static inline int xs_iov_total(const struct iovec *iov, int iovcnt, uint64_t cap,
			       uint64_t *total)
{
	uint64_t t = 0;
	int i;

	if (iovcnt < 0 || (iovcnt > 0 && !iov))
		return -EINVAL;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len >= cap - t) {
			t = cap;
			break;
		}
		t += iov[i].iov_len;
	}
	*total = t;
	return 0;
}

#endif /* XSOCK_COMMON_IOV_H */
