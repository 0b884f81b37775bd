/* SPDX-License-Identifier: MIT */
/*
 * xsockctl: manage this domain's xsock peer registry and show status.
 *
 *   xsockctl peer add [--save] ADDR[/PREFIX] DOMAIN
 *   xsockctl peer del [--save] ADDR[/PREFIX]
 *   xsockctl peer load [FILE]
 *   xsockctl peer list [-j|--json]
 *   xsockctl status [-j|--json]
 *   xsockctl discover [--policy FILE] [--once] (discover.c)
 *   xsockctl setup [--group NAME] [--backend xen|local] [--root DIR] (setup.c)
 *   xsockctl domain create|destroy|list (domain.c: the local toolstack)
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
#include <unistd.h>

#include "cli/domain.h"
#include "cli/discover.h"
#include "cli/peerfile.h"
#include "cli/setup.h"
#include "conn/addr.h"
#include "conn/conn.h"
#include "conn/identity.h"
#include "conn/registry.h"
#include "conn/status.h"
#include "platform/platform.h"

#define EXIT_USAGE 2

#ifndef XSOCK_SYSCONFDIR
#define XSOCK_SYSCONFDIR "/etc"
#endif
/* The persistent peers file unless XSOCK_PEERS_FILE names another. */
#define PEERS_FILE_DEFAULT XSOCK_SYSCONFDIR "/xsock/peers"

static const char usage_text[] =
	"Usage: xsockctl COMMAND [ARGS]\n"
	"\n"
	"Manage the xsock peer registry of this domain.\n"
	"\n"
	"Commands:\n"
	"  peer add ADDR[/PREFIX] DOMAIN  route ADDR (or the prefix) to DOMAIN (a domain\n"
	"                                 id or name) and accept ring connections\n"
	"                                 from it; a name is resolved when used, an\n"
	"                                 id is bound to that domain's identity\n"
	"  peer del ADDR[/PREFIX]         remove that entry\n"
	"      --save                     (add, del) also record the change in the\n"
	"                                 peers file, for the next boot\n"
	"  peer load [FILE]               add every entry of FILE (default: the peers\n"
	"                                 file), all or none\n"
	"  peer list [-j|--json]          list entries (PREFIX DOMAIN NAME STATE),\n"
	"                                 longest first; DOMAIN is the current id\n"
	"  status [-j|--json]             show live xsock connections\n"
	"  discover [--policy FILE] [--once]\n"
	"                                 (domain 0) publish to each domain the names,\n"
	"                                 identities and addresses of the domains the\n"
	"                                 policy (default " "/etc/xsock/policy) lets it\n"
	"                                 reach; without --once, keep doing so\n"
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
	"  domain create NAME [--domid N] [--uuid UUID]\n"
	"  domain destroy NAME|N          (local backend, as domain 0) what Xen's\n"
	"                                 toolstack does to the store when it\n"
	"                                 creates or destroys a domain\n"
	"  domain list                    N NAME UUID of every named domain\n"
	"  -h, --help                     show this help\n"
	"  --version                      show the version\n"
	"\n"
	"ADDR is an IPv4 dotted quad or an IPv6 address; PREFIX a length (0-32 or\n"
	"0-128) with all host bits of ADDR clear. DOMAIN is a domain id 0..32751, not\n"
	"this domain, or a name (1..64 of A-Z a-z 0-9 . _ -, not all digits).\n"
	"The peers file (" PEERS_FILE_DEFAULT ", or XSOCK_PEERS_FILE) has one\n"
	"'ADDR[/PREFIX] DOMAIN' per line; '#' starts a comment.\n"
	"\n"
	"Environment: XSOCK_BACKEND (xen|local), XSOCK_DOMID and XSOCK_LOCAL_DIR (local\n"
	"backend), XSOCK_PEERS_FILE, XSOCK_DEBUG, XSOCK_LOG. Exit status: 0 ok,\n"
	"1 failure (also a malformed peers file), 2 usage error.\n";


#define printable xs_cli_printable

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

/* The peers file: XSOCK_PEERS_FILE, or the default. */
static const char *peers_file(void)
{
	const char *f = getenv("XSOCK_PEERS_FILE");

	return f && *f ? f : PEERS_FILE_DEFAULT;
}

/*
 * Take "--save" out of @argv (anywhere before a "--"), leaving the
 * operands in @ops; another "--..." is a usage error ("-1" is an operand).
 */
static int peer_args(char **argv, int argc, char **ops, int *nops, bool *save)
{
	char shown[80];
	bool dashdash = false;
	int i;

	*nops = 0;
	*save = false;
	for (i = 0; i < argc; i++) {
		if (!dashdash && strcmp(argv[i], "--save") == 0) {
			*save = true;
		} else if (!dashdash && strcmp(argv[i], "--") == 0) {
			dashdash = true;
		} else if (!dashdash && strncmp(argv[i], "--", 2) == 0) {
			return usage_error("unknown option '%s'",
					   printable(argv[i], shown, sizeof(shown)));
		} else if (*nops < 3) {
			ops[(*nops)++] = argv[i];
		} else {
			return usage_error("unexpected argument '%s'",
					   printable(argv[i], shown, sizeof(shown)));
		}
	}
	return 0;
}

/*
 * For --save: lock the peers file and read it. A malformed file stops
 * everything before anything changed (its errors printed).
 */
static int save_begin(struct xs_peerfile *pf, int *lockfd)
{
	const char *path = peers_file();
	char what[4200];
	int rc;

	*lockfd = xs_peerfile_lock(path);
	if (*lockfd < 0) {
		snprintf(what, sizeof(what), "cannot lock the directory of %s", path);
		return failure(what, -*lockfd);
	}
	rc = xs_peerfile_read(path, pf, stderr);
	if (rc == 0 || rc == -ENOENT)
		return 0;
	close(*lockfd);
	*lockfd = -1;
	xs_peerfile_free(pf);
	if (rc == -EINVAL)
		fprintf(stderr, "xsockctl: %s left as it is; nothing changed\n", path);
	return EXIT_FAILURE;
}

static void save_end(struct xs_peerfile *pf, int lockfd)
{
	xs_peerfile_free(pf);
	close(lockfd);
}

static int save_write(const struct xs_peerfile *pf)
{
	char what[4200];
	int rc;

	rc = xs_peerfile_write(pf, peers_file());
	if (rc < 0) {
		snprintf(what, sizeof(what), "cannot write %s", peers_file());
		return failure(what, -rc);
	}
	return 0;
}

/* The store refused what the file already says: put the file back. */
static void save_undo(const struct xs_peerfile *pf)
{
	int rc = xs_peerfile_restore(pf, peers_file());

	if (rc < 0)
		fprintf(stderr, "xsockctl: cannot restore %s: %s\n", peers_file(), strerror(-rc));
}

/*
 * What `peer add` and `peer load` store besides the prefix: a named
 * entry gets the id its name has now (0 and a note when none: it waits,
 * down, for such a domain); an entry by id is bound to the identity of
 * the domain that has the id now, when we can know it.
 */
static void peer_bind(struct ctx *c, struct xs_peer *peer)
{
	const struct xs_ident *found;
	struct xs_idents ids;
	struct xs_ident id;

	if (!peer->name[0]) {
		if (xs_ident_of(c->st, c->self, peer->dom, &id) == 0)
			memcpy(peer->uuid, id.uuid, sizeof(peer->uuid));
		return;
	}
	peer->dom = 0;
	if (xs_idents_read(c->st, c->self, &ids) < 0)
		return;
	if (xs_idents_by_name(&ids, peer->name, &found) == 0)
		peer->dom = found->dom;
	else
		fprintf(stderr, "xsockctl: note: no domain named '%s' is known here now; the "
			"entry is down until there is one\n", peer->name);
	xs_idents_free(&ids);
}

static int cmd_peer_add(char **argv, int argc)
{
	char shown[80], text[XS_PREFIX_STRLEN], what[160], why[256];
	struct xs_peerfile pf;
	struct xs_peer peer;
	int rc, nops, lockfd = -1;
	struct ctx c;
	char *ops[3];
	bool save;

	rc = peer_args(argv, argc, ops, &nops, &save);
	if (rc)
		return rc;
	if (nops < 1)
		return usage_error("peer add: missing ADDR[/PREFIX] and DOMAIN");
	if (nops < 2)
		return usage_error("peer add: missing DOMAIN after '%s'",
				   printable(ops[0], shown, sizeof(shown)));
	if (nops > 2)
		return usage_error("unexpected argument '%s'",
				   printable(ops[2], shown, sizeof(shown)));
	memset(&peer, 0, sizeof(peer));
	if (xs_cli_parse_prefix(ops[0], &peer.prefix, why, sizeof(why)) < 0 ||
	    xs_cli_parse_domain(ops[1], &peer, why, sizeof(why)) < 0)
		return usage_error("%s", why);
	rc = ctx_open_backend(&c);
	if (rc)
		return rc;
	if (!peer.name[0] && peer.dom == c.self) {
		xsp_close(c.p);
		return usage_error("invalid domain id '%s': that is this domain",
				   printable(ops[1], shown, sizeof(shown)));
	}
	rc = ctx_open_store(&c);
	if (rc)
		return rc;
	peer_bind(&c, &peer);
	if (save) {
		/* The file first: a store that refuses gets the file put back. */
		rc = save_begin(&pf, &lockfd);
		if (rc == 0)
			rc = xs_peerfile_set(&pf, &peer) < 0 ? failure("out of memory", ENOMEM) : 0;
		if (rc == 0)
			rc = save_write(&pf);
		if (rc) {
			if (lockfd >= 0)
				save_end(&pf, lockfd);
			ctx_close(&c);
			return rc;
		}
	}
	xs_prefix_format(&peer.prefix, text, sizeof(text));
	rc = xs_registry_add_all(c.st, c.self, &peer, 1);
	ctx_close(&c);
	if (rc < 0 && save)
		save_undo(&pf);
	if (save)
		save_end(&pf, lockfd);
	if (rc < 0) {
		snprintf(what, sizeof(what), "cannot add peer %s -> domain %s", text,
			 printable(ops[1], shown, sizeof(shown)));
		return failure(what, -rc);
	}
	return EXIT_SUCCESS;
}

static int cmd_peer_del(char **argv, int argc)
{
	char shown[80], text[XS_PREFIX_STRLEN], what[160], why[256];
	bool save, in_file = false;
	struct xs_peerfile pf;
	struct xs_prefix pfx;
	int rc, nops, lockfd = -1;
	struct ctx c;
	char *ops[3];

	rc = peer_args(argv, argc, ops, &nops, &save);
	if (rc)
		return rc;
	if (nops < 1)
		return usage_error("peer del: missing ADDR[/PREFIX]");
	if (nops > 1)
		return usage_error("unexpected argument '%s'",
				   printable(ops[1], shown, sizeof(shown)));
	if (xs_cli_parse_prefix(ops[0], &pfx, why, sizeof(why)) < 0)
		return usage_error("%s", why);
	rc = ctx_open(&c);
	if (rc)
		return rc;
	xs_prefix_format(&pfx, text, sizeof(text));
	if (save) {
		rc = save_begin(&pf, &lockfd);
		if (rc == 0 && xs_peerfile_remove(&pf, &pfx) == 0) {
			in_file = true;
			rc = save_write(&pf);
		}
		if (rc) {
			if (lockfd >= 0)
				save_end(&pf, lockfd);
			ctx_close(&c);
			return rc;
		}
	}
	rc = xs_registry_del(c.st, c.self, &pfx);
	ctx_close(&c);
	/* With --save, an entry only the file had is gone now: success. */
	if (rc == -ENOENT && in_file)
		rc = 0;
	if (rc < 0 && in_file)
		save_undo(&pf);
	if (save)
		save_end(&pf, lockfd);
	if (rc == -ENOENT) {
		fprintf(stderr, "xsockctl: no peer entry for %s%s (%s)\n", text,
			save ? " in the registry or the peers file" : "", strerror(ENOENT));
		return EXIT_FAILURE;
	}
	if (rc < 0) {
		snprintf(what, sizeof(what), "cannot delete peer %s", text);
		return failure(what, -rc);
	}
	return EXIT_SUCCESS;
}

static int cmd_peer_load(char **argv, int argc)
{
	char shown[80], what[4200];
	struct xs_peerfile pf;
	struct xs_peer *peers = NULL;
	unsigned int n, i, k = 0;
	const char *path;
	struct ctx c;
	int rc;

	if (argc > 0 && strncmp(argv[0], "--", 2) == 0)
		return usage_error("unknown option '%s'", printable(argv[0], shown, sizeof(shown)));
	if (argc > 1)
		return usage_error("unexpected argument '%s'",
				   printable(argv[1], shown, sizeof(shown)));
	path = argc > 0 ? argv[0] : peers_file();
	rc = xs_peerfile_read(path, &pf, stderr);
	if (rc == -ENOENT)
		fprintf(stderr, "xsockctl: cannot open %s: %s\n", path, strerror(ENOENT));
	if (rc == -EINVAL)
		fprintf(stderr, "xsockctl: %s: nothing loaded\n", path);
	if (rc < 0) {
		xs_peerfile_free(&pf);
		return EXIT_FAILURE;
	}
	n = xs_peerfile_count(&pf);
	if (n == 0) {
		/* Nothing to do: the backend need not even be there. */
		xs_peerfile_free(&pf);
		printf("loaded 0 peer entries from %s\n", path);
		return EXIT_SUCCESS;
	}
	rc = ctx_open(&c);
	if (rc) {
		xs_peerfile_free(&pf);
		return rc;
	}
	peers = calloc(n, sizeof(*peers));
	if (!peers) {
		rc = failure("out of memory", ENOMEM);
		goto out;
	}
	for (i = 0; i < pf.n; i++) {
		if (!pf.lines[i].entry)
			continue;
		if (!pf.lines[i].peer.name[0] && pf.lines[i].peer.dom == c.self) {
			fprintf(stderr, "xsockctl: %s:%u: domain %u is this domain\n", path, i + 1,
				(unsigned int)c.self);
			rc = EXIT_FAILURE;
		}
		peers[k] = pf.lines[i].peer;
		peer_bind(&c, &peers[k++]);
	}
	if (rc) {
		fprintf(stderr, "xsockctl: %s: nothing loaded\n", path);
		goto out;
	}
	rc = xs_registry_add_all(c.st, c.self, peers, n);
	if (rc < 0) {
		snprintf(what, sizeof(what), "cannot load %s (nothing loaded)", path);
		rc = failure(what, -rc);
		goto out;
	}
	printf("loaded %u peer entr%s from %s\n", n, n == 1 ? "y" : "ies", path);
	rc = EXIT_SUCCESS;
out:
	free(peers);
	xs_peerfile_free(&pf);
	ctx_close(&c);
	return rc;
}

/* The name to show for @p: its own, or the one its domain has now ("-"). */
static const char *shown_name(const struct xs_peer *p, const struct xs_idents *ids)
{
	const struct xs_ident *id;

	if (p->name[0])
		return p->name;
	id = ids ? xs_idents_by_dom(ids, p->dom) : NULL;
	return id ? id->name : "-";
}

static void print_peers(const struct xs_peer *peers, unsigned int n, xsp_domid_t self,
			const struct xs_idents *ids, bool json)
{
	char text[XS_PREFIX_STRLEN], dom[8];
	size_t width = strlen("PREFIX"), nwidth = strlen("NAME");
	unsigned int i;

	if (json) {
		printf("{\"domain\":%u,\"peers\":[", (unsigned int)self);
		for (i = 0; i < n; i++) {
			const char *name = shown_name(&peers[i], ids);

			if (xs_prefix_format(&peers[i].prefix, text, sizeof(text)) < 0)
				continue;
			/* prefix text is [0-9a-f.:/] only, names [A-Za-z0-9._-]:
			 * nothing to escape */
			printf("%s{\"prefix\":\"%s\",", i ? "," : "", text);
			if (xs_peer_up(&peers[i]) || !peers[i].name[0])
				printf("\"domain\":%u,", (unsigned int)peers[i].dom);
			else
				printf("\"domain\":null,");
			if (strcmp(name, "-") != 0)
				printf("\"name\":\"%s\",", name);
			else
				printf("\"name\":null,");
			if (peers[i].uuid[0])
				printf("\"uuid\":\"%s\",", peers[i].uuid);
			printf("\"up\":%s,\"state\":\"%s\",\"source\":\"%s\"}",
			       xs_peer_up(&peers[i]) ? "true" : "false",
			       xs_peer_state_text(peers[i].state),
			       peers[i].origin == XS_PEER_DIR ? "dir" : "peers");
		}
		printf("]}\n");
		return;
	}
	for (i = 0; i < n; i++) {
		if (xs_prefix_format(&peers[i].prefix, text, sizeof(text)) == 0 &&
		    strlen(text) > width)
			width = strlen(text);
		if (strlen(shown_name(&peers[i], ids)) > nwidth)
			nwidth = strlen(shown_name(&peers[i], ids));
	}
	printf("%-*s  %-6s  %-*s  %s\n", (int)width, "PREFIX", "DOMAIN", (int)nwidth, "NAME",
	       "STATE");
	for (i = 0; i < n; i++) {
		if (xs_prefix_format(&peers[i].prefix, text, sizeof(text)) < 0)
			continue;
		/* A named entry that resolves to nothing has no current id. */
		if (xs_peer_up(&peers[i]) || !peers[i].name[0])
			snprintf(dom, sizeof(dom), "%u", (unsigned int)peers[i].dom);
		else
			snprintf(dom, sizeof(dom), "-");
		printf("%-*s  %-6s  %-*s  %s%s\n", (int)width, text, dom, (int)nwidth,
		       shown_name(&peers[i], ids), xs_peer_state_text(peers[i].state),
		       peers[i].origin == XS_PEER_DIR ? " (domain 0's directory)" : "");
	}
}

static int cmd_peer_list(char **argv, int argc)
{
	struct xs_idents ids;
	bool have_ids;
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
	have_ids = xs_idents_read(c.st, c.self, &ids) == 0;
	print_peers(peers, n, c.self, have_ids ? &ids : NULL, json);
	if (have_ids)
		xs_idents_free(&ids);
	free(peers);
	ctx_close(&c);
	return EXIT_SUCCESS;
}

static int cmd_peer(char **argv, int argc)
{
	char shown[80];

	if (argc < 1)
		return usage_error("peer: missing subcommand (add, del, load or list)");
	if (strcmp(argv[0], "add") == 0)
		return cmd_peer_add(argv + 1, argc - 1);
	if (strcmp(argv[0], "del") == 0)
		return cmd_peer_del(argv + 1, argc - 1);
	if (strcmp(argv[0], "list") == 0)
		return cmd_peer_list(argv + 1, argc - 1);
	if (strcmp(argv[0], "load") == 0)
		return cmd_peer_load(argv + 1, argc - 1);
	return usage_error("unknown peer subcommand '%s' (want add, del, load or list)",
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
	if (strcmp(cmd, "discover") == 0)
		return cmd_discover(argv + 2, argc - 2);
	if (strcmp(cmd, "setup") == 0)
		return cmd_setup(argv + 2, argc - 2);
	if (strcmp(cmd, "domain") == 0)
		return cmd_domain(argv + 2, argc - 2);
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
