/* SPDX-License-Identifier: MIT */
/*
 * xsockctl setup: let the members of a group use rings in this domain
 * (docs/protocol.md, "Who may use rings"). setup.c.
 */
#ifndef XSOCK_CLI_SETUP_H
#define XSOCK_CLI_SETUP_H

/*
 * Run `xsockctl setup` with its arguments (@argv after "setup", @argc of
 * them). Prints one line per change it makes. Returns the exit status:
 * 0 done, 1 a step failed (one line on stderr names it), 2 usage error.
 */
int cmd_setup(char **argv, int argc);

#endif /* XSOCK_CLI_SETUP_H */
