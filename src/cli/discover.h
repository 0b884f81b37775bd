/* SPDX-License-Identifier: MIT */
/* xsockctl discover: domain 0's directory (discover.c). */
#ifndef XSOCK_CLI_DISCOVER_H
#define XSOCK_CLI_DISCOVER_H

/* argv: what follows "discover". Returns the exit status. */
int cmd_discover(char **argv, int argc);

#endif /* XSOCK_CLI_DISCOVER_H */
