/* SPDX-License-Identifier: MIT */
#ifndef XSOCK_PRELOAD_SHIM_H
#define XSOCK_PRELOAD_SHIM_H
#endif
