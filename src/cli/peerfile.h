/* SPDX-License-Identifier: MIT */
/*
 * The persistent peers file (/etc/xsock/peers), as xsockctl reads and
 * rewrites it, and the validation of addresses and domain ids that the
 * command line and the file share.
 *
 * Format: one entry per line, "ADDR[/PREFIX] DOMAIN", the two fields
 * separated by spaces or tabs; '#' starts a comment that runs to the end
 * of the line; blank lines are ignored. ADDR, PREFIX and DOMAIN (a domain
 * id or a domain name) are exactly what `xsockctl peer add` takes. Lines are at most
 * XS_PEERFILE_LINE_MAX bytes; control characters other than tab, and NUL
 * bytes, are errors; so is a second entry for the same prefix. Reading
 * is all or nothing: a file with any error yields no entries.
 *
 * Functions return 0 or a negative errno.
 */
#ifndef XSOCK_CLI_PEERFILE_H
#define XSOCK_CLI_PEERFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "conn/registry.h"

#define XS_PEERFILE_LINE_MAX 255
#define XS_PEERFILE_SIZE_MAX (1024 * 1024)
/* Errors reported per file before giving up on listing them. */
#define XS_PEERFILE_ERRORS_MAX 20

struct xs_peerfile_line {
	char *text;		/* the line as read (or rewritten), no newline */
	bool entry;		/* an entry (else blank or comment only) */
	struct xs_peer peer;	/* the entry */
};

struct xs_peerfile {
	struct xs_peerfile_line *lines;
	unsigned int n, cap;
	bool exists;		/* the file was there when read */
	char *raw;		/* its bytes as read (to put back), rawlen of them */
	size_t rawlen;
	unsigned int mode;	/* its permission bits (0644 for a new file) */
};

/*
 * Copy @s for a message: at most 64 characters, anything not printable
 * ASCII shown as '?', so every message stays on one line.
 */
const char *xs_cli_printable(const char *s, char *buf, size_t len);

/*
 * Parse ADDR[/PREFIX] as xsockctl takes it. On -EINVAL, @why (of @len
 * bytes) says what is wrong, quoting @s: "invalid address '10.1'", or
 * "host bits set beyond the prefix (did you mean 10.0.0.0/24?)".
 */
int xs_cli_parse_prefix(const char *s, struct xs_prefix *out, char *why, size_t len);

/* Parse DOMID (0..32751, decimal, no sign or leading zeros); @why as above. */
int xs_cli_parse_domid(const char *s, xsp_domid_t *out, char *why, size_t len);
/*
 * Parse DOMAIN, a domain id as above or a domain name (1..64 of
 * [A-Za-z0-9._-], not all digits): fills @peer's dom (0 for a name: it
 * is resolved when used) and name; @why as above.
 */
int xs_cli_parse_domain(const char *s, struct xs_peer *peer, char *why, size_t len);

/*
 * Read and validate @path into @pf (zeroed first; free it with
 * xs_peerfile_free() whatever the result). Every error goes to @err as
 * one line "xsockctl: PATH:LINE: what" (at most XS_PEERFILE_ERRORS_MAX
 * of them); then -EINVAL and no entries. A missing file is -ENOENT
 * (nothing printed) with @pf empty and usable; a file that is not
 * regular, too big, or writable by every user is -EINVAL (printed).
 */
int xs_peerfile_read(const char *path, struct xs_peerfile *pf, FILE *err);

/* The same from @len bytes at @buf (named @name in messages). */
int xs_peerfile_parse(struct xs_peerfile *pf, const char *name, const char *buf,
		      size_t len, FILE *err);

/* Number of entries, and the index of the line holding @pfx (-ENOENT). */
unsigned int xs_peerfile_count(const struct xs_peerfile *pf);
int xs_peerfile_find(const struct xs_peerfile *pf, const struct xs_prefix *pfx);

/* Replace the entry for @peer's prefix in place (keeping a trailing
 * comment), or append it. */
int xs_peerfile_set(struct xs_peerfile *pf, const struct xs_peer *peer);
/* Remove the entry for @pfx; -ENOENT if the file has none. */
int xs_peerfile_remove(struct xs_peerfile *pf, const struct xs_prefix *pfx);

/*
 * Write @pf to @path atomically (a temporary file in the same directory,
 * fsync, rename), with its mode; the directory is created (0755) if
 * missing. A new file starts with a comment describing the format.
 */
int xs_peerfile_write(const struct xs_peerfile *pf, const char *path);
/* Put back what xs_peerfile_read() found: the old bytes, or no file. */
int xs_peerfile_restore(const struct xs_peerfile *pf, const char *path);

/*
 * Serialize writers of @path: an exclusive flock() on its directory
 * (created if missing). Returns the fd to close, or a negative errno.
 */
int xs_peerfile_lock(const char *path);

void xs_peerfile_free(struct xs_peerfile *pf);

#endif /* XSOCK_CLI_PEERFILE_H */
