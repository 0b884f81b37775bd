/* SPDX-License-Identifier: MIT */
/* The process context: ctx.c. */
#ifndef XSOCK_PRELOAD_CTX_H
#define XSOCK_PRELOAD_CTX_H

#include "conn/conn.h"

/* The process context (platform + tunables), opened on first use.
 * NULL if xsock cannot work here (then everything passes to libc). */
struct xs_ctx *shim_ctx(void);

/*
 * Why shim_ctx() returned NULL: 0 it did not (or was not asked yet), or
 * -errno; -EACCES or -EPERM: this process may not use rings here
 * (docs/protocol.md, "Who may use rings").
 */
int shim_ctx_error(void);

#endif /* XSOCK_PRELOAD_CTX_H */
