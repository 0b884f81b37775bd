/* SPDX-License-Identifier: MIT */
/*
 * Live connection status, as printed by `xsockctl status`.
 *
 * xs_status_print() writes a human-readable table (or, with @json, one JSON
 * object followed by a newline) describing this domain's live xsock
 * connections to @out. Returns 0, or a negative errno (from the store or
 * from writing @out) with possibly partial output written.
 *
 * xsockctl carries a weak default that reports no connections; the real
 * implementation (a strong definition) replaces it. Because the core
 * library is a static convenience archive, the object defining the strong
 * symbol must be pulled into the link (e.g. listed in xsockctl_SOURCES or
 * defining another symbol xsockctl references).
 */
#ifndef XSOCK_CONN_STATUS_H
#define XSOCK_CONN_STATUS_H

#include <stdbool.h>
#include <stdio.h>

int xs_status_print(FILE *out, bool json);

#endif /* XSOCK_CONN_STATUS_H */
