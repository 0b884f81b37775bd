/* SPDX-License-Identifier: MIT */
/*
 * xsockctl: manage this domain's xsock peer registry and show status.
 *
 *   xsockctl peer add ADDR[/PREFIX] DOMID
 *   xsockctl peer del ADDR[/PREFIX]
 *   xsockctl peer list [-j|--json]
 *   xsockctl status [-j|--json]
 *   xsockctl setup [--group NAME] [--backend xen|local] [--root DIR] (setup.c)
 *   xsockctl -h|--help|help, xsockctl --version
 *
 * Exit status: 0 success, 1 the operation failed (store, backend, output),
 * 2 the command line is wrong. Every error is one line on stderr that
 * names the offending argument.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/setup.h"
#include "conn/addr.h"
#include "conn/conn.h"
#include "conn/registry.h"
#include "conn/status.h"
#include "platform/platform.h"

#define EXIT_USAGE 2
#define DOMID_MAX (XSP_DOMID_SELF - 1)	/* 32751: the last non-reserved id */

static const char usage_text[] =
	"Usage: xsockctl COMMAND [ARGS]\n"
	"\n"
	"Manage the xsock peer registry of this domain.\n"
	"\n"
	"Commands:\n"
	"  peer add ADDR[/PREFIX] DOMID   route ADDR (or the prefix) to domain DOMID\n"
	"                                 and accept ring connections from it\n"
	"  peer del ADDR[/PREFIX]         remove that entry\n"
	"  peer list [-j|--json]          list entries (PREFIX DOMAIN), longest first\n"
	"  status [-j|--json]             show live xsock connections\n"
	"  sweep                          remove advertisements of listeners whose\n"
	"                                 process died (SIGKILL leaves them behind),\n"
	"                                 requests of dead clients, and answers\n"
	"                                 whose request is gone\n"
	"  setup [--group NAME]           let members of group NAME (default xsock,\n"
	"                                 created if missing) use rings here: on the\n"
	"                                 local backend XSOCK_LOCAL_DIR becomes\n"
	"                                 root:NAME 2770; on Xen /dev/xen/gntdev,\n"
	"                                 gntalloc, evtchn, xenbus become root:NAME\n"
	"                                 0660 and a udev rule keeps them so\n"
	"                                 (--backend xen|local, --root DIR: prefix)\n"
	"  -h, --help                     show this help\n"
	"  --version                      show the version\n"
	"\n"
	"ADDR is an IPv4 dotted quad or an IPv6 address; PREFIX a length (0-32 or\n"
	"0-128) with all host bits of ADDR clear. DOMID is 0..32751, not this domain.\n"
	"\n"
	"Environment: XSOCK_BACKEND (xen|local), XSOCK_DOMID and XSOCK_LOCAL_DIR (local\n"
	"backend), XSOCK_DEBUG, XSOCK_LOG. Exit status: 0 ok, 1 failure, 2 usage error.\n";


/*
 * Copy @s for an error message: at most 64 characters, anything not
 * printable ASCII shown as '?', so every message stays on one line.
 */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 4 < len && i < 64; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7F) ? s[i] : '?';
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("xsockctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

static int failure(const char *what, int err)
{
	fprintf(stderr, "xsockctl: %s: %s\n", what, strerror(err));
	return EXIT_FAILURE;
}

/*
 * Report an ADDR[/PREFIX] that xs_prefix_parse() rejected, saying why when
 * the reason is not just "not an address".
 */
static int bad_address(const char *arg)
{
	char shown[80], addr[XS_PREFIX_STRLEN], hint[XS_PREFIX_STRLEN];
	const char *slash = strchr(arg, '/');
	struct xs_prefix p;
	unsigned long plen;
	unsigned int bits, i;
	char *end;

	printable(arg, shown, sizeof(shown));
	if (!slash || (size_t)(slash - arg) >= sizeof(addr))
		goto plain;
	memcpy(addr, arg, (size_t)(slash - arg));
	addr[slash - arg] = '\0';
	if (xs_prefix_parse(addr, &p) < 0)
		goto plain;
	bits = p.family == AF_INET ? 32 : 128;
	if (slash[1] == '0' && slash[2])
		return usage_error("invalid prefix length in '%s' (want 0..%u, no leading zeros)",
				   shown, bits);
	if (slash[1] < '0' || slash[1] > '9')
		return usage_error("invalid prefix length in '%s' (want 0..%u)", shown, bits);
	errno = 0;
	plen = strtoul(slash + 1, &end, 10);
	if (errno || *end || plen > bits)
		return usage_error("invalid prefix length in '%s' (want 0..%u)", shown, bits);
	/* Address and length are fine: host bits beyond the prefix are set. */
	for (i = (unsigned int)plen; i < bits; i++)
		p.addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	p.plen = (unsigned int)plen;
	if (xs_prefix_format(&p, hint, sizeof(hint)) == 0)
		return usage_error("invalid address '%s': host bits set beyond the prefix "
				   "(did you mean %s?)", shown, hint);
plain:
	return usage_error("invalid address '%s'", shown);
}

/* Parse the options after a listing command: only -j/--json. */
static int parse_json_flag(char **argv, int argc, bool *json)
{
	char shown[80];
	int i;

	*json = false;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-j") == 0 || strcmp(argv[i], "--json") == 0)
			*json = true;
		else if (argv[i][0] == '-')
			return usage_error("unknown option '%s'",
					   printable(argv[i], shown, sizeof(shown)));
		else
			return usage_error("unexpected argument '%s'",
					   printable(argv[i], shown, sizeof(shown)));
	}
	return 0;
}

/* The backend and store a command works on. */
struct ctx {
	struct xsp *p;
	struct xsp_store *st;
	xsp_domid_t self;
};

/* The backend; its self domain id is known from here on. */
static int ctx_open_backend(struct ctx *c)
{
	int rc;

	c->p = NULL;
	c->st = NULL;
	rc = xsp_open(&c->p);
	if (rc == -EACCES || rc == -EPERM)
		return failure("not allowed to use rings in this domain (root, or a member of "
			       "the group 'xsockctl setup' made: see xsock(7))", -rc);
	if (rc < 0)
		return failure("cannot open the platform backend (check XSOCK_BACKEND, "
			       "XSOCK_DOMID, XSOCK_LOCAL_DIR)", -rc);
	c->self = xsp_self_domid(c->p);
	return 0;
}

static int ctx_open_store(struct ctx *c)
{
	int rc;

	rc = xsp_store_open(c->p, &c->st);
	if (rc < 0) {
		xsp_close(c->p);
		c->p = NULL;
		return failure("cannot open the store", -rc);
	}
	return 0;
}

static int ctx_open(struct ctx *c)
{
	int rc = ctx_open_backend(c);

	return rc ? rc : ctx_open_store(c);
}

static void ctx_close(struct ctx *c)
{
	xsp_store_close(c->st);
	xsp_close(c->p);
}

static int cmd_peer_add(char **argv, int argc)
{
	char shown[80], text[XS_PREFIX_STRLEN], what[160];
	struct xs_prefix pfx;
	xsp_domid_t dom;
	struct ctx c;
	int rc;

	if (argc < 1)
		return usage_error("peer add: missing ADDR[/PREFIX] and DOMID");
	if (argc < 2)
		return usage_error("peer add: missing DOMID after '%s'",
				   printable(argv[0], shown, sizeof(shown)));
	if (argc > 2)
		return usage_error("unexpected argument '%s'",
				   printable(argv[2], shown, sizeof(shown)));
	if (xs_prefix_parse(argv[0], &pfx) < 0)
		return bad_address(argv[0]);
	/* Strict decimal 0..32751: no sign, spaces or leading zeros. */
	if (xs_registry_parse_domid(argv[1], strlen(argv[1]), &dom) < 0)
		return usage_error("invalid domain id '%s' (want 0..%u)",
				   printable(argv[1], shown, sizeof(shown)), DOMID_MAX);
	rc = ctx_open_backend(&c);
	if (rc)
		return rc;
	if (dom == c.self) {
		xsp_close(c.p);
		return usage_error("invalid domain id '%s': that is this domain",
				   printable(argv[1], shown, sizeof(shown)));
	}
	rc = ctx_open_store(&c);
	if (rc)
		return rc;
	xs_prefix_format(&pfx, text, sizeof(text));
	rc = xs_registry_add(c.st, c.self, &pfx, dom);
	ctx_close(&c);
	if (rc < 0) {
		snprintf(what, sizeof(what), "cannot add peer %s -> domain %u", text,
			 (unsigned int)dom);
		return failure(what, -rc);
	}
	return EXIT_SUCCESS;
}

static int cmd_peer_del(char **argv, int argc)
{
	char shown[80], text[XS_PREFIX_STRLEN], what[160];
	struct xs_prefix pfx;
	struct ctx c;
	int rc;

	if (argc < 1)
		return usage_error("peer del: missing ADDR[/PREFIX]");
	if (argc > 1)
		return usage_error("unexpected argument '%s'",
				   printable(argv[1], shown, sizeof(shown)));
	if (xs_prefix_parse(argv[0], &pfx) < 0)
		return bad_address(argv[0]);
	rc = ctx_open(&c);
	if (rc)
		return rc;
	xs_prefix_format(&pfx, text, sizeof(text));
	rc = xs_registry_del(c.st, c.self, &pfx);
	ctx_close(&c);
	if (rc == -ENOENT) {
		fprintf(stderr, "xsockctl: no peer entry for %s (%s)\n", text, strerror(ENOENT));
		return EXIT_FAILURE;
	}
	if (rc < 0) {
		snprintf(what, sizeof(what), "cannot delete peer %s", text);
		return failure(what, -rc);
	}
	return EXIT_SUCCESS;
}

static void print_peers(const struct xs_peer *peers, unsigned int n, xsp_domid_t self,
			bool json)
{
	char text[XS_PREFIX_STRLEN];
	size_t width = strlen("PREFIX");
	unsigned int i;

	if (json) {
		printf("{\"domain\":%u,\"peers\":[", (unsigned int)self);
		for (i = 0; i < n; i++) {
			if (xs_prefix_format(&peers[i].prefix, text, sizeof(text)) < 0)
				continue;
			/* prefix text is [0-9a-f.:/] only: nothing to escape */
			printf("%s{\"prefix\":\"%s\",\"domain\":%u}", i ? "," : "", text,
			       (unsigned int)peers[i].dom);
		}
		printf("]}\n");
		return;
	}
	for (i = 0; i < n; i++)
		if (xs_prefix_format(&peers[i].prefix, text, sizeof(text)) == 0 &&
		    strlen(text) > width)
			width = strlen(text);
	printf("%-*s  %s\n", (int)width, "PREFIX", "DOMAIN");
	for (i = 0; i < n; i++) {
		if (xs_prefix_format(&peers[i].prefix, text, sizeof(text)) < 0)
			continue;
		printf("%-*s  %u\n", (int)width, text, (unsigned int)peers[i].dom);
	}
}

static int cmd_peer_list(char **argv, int argc)
{
	struct xs_peer *peers = NULL;
	unsigned int n = 0;
	struct ctx c;
	bool json;
	int rc;

	rc = parse_json_flag(argv, argc, &json);
	if (rc)
		return rc;
	rc = ctx_open(&c);
	if (rc)
		return rc;
	rc = xs_registry_list(c.st, c.self, &peers, &n);
	if (rc < 0) {
		ctx_close(&c);
		return failure("cannot list peers", -rc);
	}
	print_peers(peers, n, c.self, json);
	free(peers);
	ctx_close(&c);
	return EXIT_SUCCESS;
}

static int cmd_peer(char **argv, int argc)
{
	char shown[80];

	if (argc < 1)
		return usage_error("peer: missing subcommand (add, del or list)");
	if (strcmp(argv[0], "add") == 0)
		return cmd_peer_add(argv + 1, argc - 1);
	if (strcmp(argv[0], "del") == 0)
		return cmd_peer_del(argv + 1, argc - 1);
	if (strcmp(argv[0], "list") == 0)
		return cmd_peer_list(argv + 1, argc - 1);
	return usage_error("unknown peer subcommand '%s' (want add, del or list)",
			   printable(argv[0], shown, sizeof(shown)));
}

static int cmd_status(char **argv, int argc)
{
	bool json;
	int rc;

	rc = parse_json_flag(argv, argc, &json);
	if (rc)
		return rc;
	rc = xs_status_print(stdout, json);
	if (rc < 0)
		return failure("cannot report status", -rc);
	return EXIT_SUCCESS;
}

static int cmd_sweep(char **argv, int argc)
{
	struct xs_ctx *ctx;
	unsigned int removed = 0, reqs = 0, answers = 0;
	char shown[80];
	int rc;

	if (argc > 0)
		return usage_error("unexpected argument '%s'", printable(argv[0], shown, sizeof(shown)));
	rc = xs_ctx_open(&ctx);
	if (rc < 0)
		return failure("cannot open the platform backend (check XSOCK_BACKEND, "
			       "XSOCK_DOMID, XSOCK_LOCAL_DIR)", -rc);
	rc = xs_ctx_sweep_listeners(ctx, &removed);
	if (rc == 0)
		rc = xs_ctx_sweep_requests(ctx, &reqs);
	if (rc == 0)
		rc = xs_ctx_sweep_answers(ctx, &answers);
	xs_ctx_close(ctx);
	if (rc < 0)
		return failure("cannot sweep the listener advertisements, requests and answers",
			       -rc);
	printf("removed %u stale listener advertisement%s\n", removed, removed == 1 ? "" : "s");
	printf("removed %u stale connection request%s\n", reqs, reqs == 1 ? "" : "s");
	printf("removed %u stale connection answer%s\n", answers, answers == 1 ? "" : "s");
	return EXIT_SUCCESS;
}

static int run(int argc, char **argv)
{
	char shown[80];
	const char *cmd;

	if (argc < 2)
		return usage_error("missing command (try 'xsockctl --help')");
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		if (argc > 2)
			return usage_error("unexpected argument '%s'",
					   printable(argv[2], shown, sizeof(shown)));
		fputs(usage_text, stdout);
		return EXIT_SUCCESS;
	}
	if (strcmp(cmd, "--version") == 0) {
		if (argc > 2)
			return usage_error("unexpected argument '%s'",
					   printable(argv[2], shown, sizeof(shown)));
		printf("xsockctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	if (strcmp(cmd, "peer") == 0)
		return cmd_peer(argv + 2, argc - 2);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argv + 2, argc - 2);
	if (strcmp(cmd, "sweep") == 0)
		return cmd_sweep(argv + 2, argc - 2);
	if (strcmp(cmd, "setup") == 0)
		return cmd_setup(argv + 2, argc - 2);
	if (cmd[0] == '-')
		return usage_error("unknown option '%s'", printable(cmd, shown, sizeof(shown)));
	return usage_error("unknown command '%s' (try 'xsockctl --help')",
			   printable(cmd, shown, sizeof(shown)));
}

int main(int argc, char **argv)
{
	int rc = run(argc, argv);

	/* Output that did not reach its destination is a failure too. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "xsockctl: write error: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	return rc;
}
