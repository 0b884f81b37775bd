/* SPDX-License-Identifier: MIT */
/* Names and options of ring sockets: names.c. */
#ifndef XSOCK_PRELOAD_NAMES_H
#define XSOCK_PRELOAD_NAMES_H

#include "preload/shim.h"

/*
 * The value of option @level/@name as the application set it on ring
 * socket @s (setsockopt() records it; SO_RCVTIMEO and SO_SNDTIMEO in ms):
 * 0 and *@v, or -1 if it never set it.
 */
int sock_opt_get(struct shim_sock *s, int level, int name, int *v);

#endif /* XSOCK_PRELOAD_NAMES_H */
