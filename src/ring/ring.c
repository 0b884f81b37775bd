/* SPDX-License-Identifier: MIT */
/* STUB: to be implemented. */
#include "config.h"
#include <errno.h>
#include "ring/ring.h"

int xsr_format(void *intf, unsigned int order, const uint32_t *refs)
{
	return -ENOSYS;
}

int xsr_read_layout(const void *intf, unsigned int max_order,
		    unsigned int *order, uint32_t *refs)
{
	return -ENOSYS;
}

int xsr_attach(struct xsr *r, enum xsr_side side, void *intf, void *data,
	       unsigned int order, xsr_kick_fn kick, void *kick_ctx)
{
	return -ENOSYS;
}

ssize_t xsr_write(struct xsr *r, const void *buf, size_t len)
{
	return -ENOSYS;
}

ssize_t xsr_writev(struct xsr *r, const struct iovec *iov, int iovcnt)
{
	return -ENOSYS;
}

ssize_t xsr_read(struct xsr *r, void *buf, size_t len, unsigned int flags)
{
	return -ENOSYS;
}

ssize_t xsr_readv(struct xsr *r, const struct iovec *iov, int iovcnt,
		  unsigned int flags)
{
	return -ENOSYS;
}

ssize_t xsr_rx_ready(struct xsr *r)
{
	return -ENOSYS;
}

ssize_t xsr_tx_space(struct xsr *r)
{
	return -ENOSYS;
}

unsigned int xsr_poll(struct xsr *r)
{
	return -ENOSYS;
}

int xsr_shutdown_tx(struct xsr *r)
{
	return -ENOSYS;
}

void xsr_close(struct xsr *r)
{
}

void xsr_peer_gone(struct xsr *r)
{
}

bool xsr_prepare_wait(struct xsr *r, unsigned int what)
{
	return false;
}

void xsr_end_wait(struct xsr *r)
{
}
