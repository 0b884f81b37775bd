/* SPDX-License-Identifier: MIT */
/*
 * xsockctl domain: the local backend's stand-in for Xen's toolstack
 * (docs/protocol.md, section 4). domain.c.
 */
#ifndef XSOCK_CLI_DOMAIN_H
#define XSOCK_CLI_DOMAIN_H

/*
 * Run `xsockctl domain` with its arguments (@argv after "domain", @argc of
 * them). Returns the exit status: 0 done, 1 failed (one line on stderr),
 * 2 usage error.
 */
int cmd_domain(char **argv, int argc);

#endif /* XSOCK_CLI_DOMAIN_H */
