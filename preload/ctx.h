/* SPDX-License-Identifier: MIT */
/* The process context: ctx.c. */
#ifndef XSOCK_PRELOAD_CTX_H
#define XSOCK_PRELOAD_CTX_H

#include "conn/conn.h"

/* The process context (platform + tunables), opened on first use.
 * NULL if xsock cannot work here (then everything passes to libc). */
struct xs_ctx *shim_ctx(void);

#endif /* XSOCK_PRELOAD_CTX_H */
