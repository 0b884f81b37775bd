#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Persistent peers (issue 17 item 4) on the local backend: `xsockctl peer
# add|del --save` keep the peers file (XSOCK_PEERS_FILE) and the registry
# in step, comments and order kept; `peer load [FILE]` brings a file back
# into an empty store (a reboot: a fresh XSOCK_LOCAL_DIR); a malformed
# file is refused with one "FILE:LINE: what" error per bad line and
# nothing applied, neither by load nor by --save; a store that cannot be
# written leaves the file alone and a file that cannot be written leaves
# the store alone.
#
# Without the change this fails at its first step: the xsockctl before it
# knows no --save ("unknown option") and no `peer load`.
#
# Exit 0 pass, 1 fail, 77 skip (no build dir). Needs no root.

set -u

top=${XSOCK_TEST_TOP_BUILDDIR:-}
if [ -z "$top" ] || [ ! -x "$top/xsockctl" ]; then
	echo "SKIP: xsockctl not built (XSOCK_TEST_TOP_BUILDDIR='$top')"
	exit 77
fi
XSOCKCTL=$top/xsockctl

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xsock-peerfile-XXXXXX") || exit 1
XSOCK_LOCAL_DIR=$(mktemp -d /dev/shm/xsock-test-pf-XXXXXX) || exit 1
local0=$XSOCK_LOCAL_DIR
trap 'rm -rf "$local0" "$local0.2" "$tmp"' EXIT
XSOCK_BACKEND=local
PF=$tmp/etc/xsock/peers
XSOCK_PEERS_FILE=$PF
export XSOCK_LOCAL_DIR XSOCK_BACKEND XSOCK_PEERS_FILE
unset XSOCK_DEBUG XSOCK_LOG

failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# ctl ARGS...: xsockctl as domain 1; stdout in $tmp/out, stderr in
# $tmp/err, exit status in $rc.
ctl() {
	XSOCK_DOMID=1 "$XSOCKCTL" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# ok ARGS...: exit 0, nothing on stderr.
ok() {
	ctl "$@"
	[ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] ||
		fail "xsockctl $*: exit $rc: $(cat "$tmp/err")"
}

# list: the registry of domain 1, one "PREFIX DOMAIN" a line, no header.
list() {
	XSOCK_DOMID=1 "$XSOCKCTL" peer list | tail -n +2 | awk '{print $1, $2}'
}

# entries FILE: the entries of a peers file, comments and blanks dropped.
entries() {
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$1" | awk '{print $1, $2}'
}

same() { # WHAT GOT WANT
	[ "$2" = "$3" ] || fail "$1:
--- got
$2
--- want
$3"
}

# ---- add --save: a new file (and its directory), the store in step --------
ok peer add --save 10.77.0.2 2
[ -f "$PF" ] || fail "peer add --save did not create $PF"
same "registry after the first add --save" "$(list)" "10.77.0.2 2"
same "file after the first add --save" "$(entries "$PF")" "10.77.0.2 2"
grep -q '^# .*xsockctl(8)' "$PF" || fail "a new peers file has no explaining comment"
[ "$(stat -c %a "$PF")" = 644 ] || fail "new peers file mode $(stat -c %a "$PF"), want 644"

# The option may follow the operands; IPv6; a prefix.
ok peer add 2001:db8::/32 4 --save
ok peer add --save 10.77.3.0/24 3
same "file after three adds" "$(entries "$PF")" "10.77.0.2 2
2001:db8::/32 4
10.77.3.0/24 3"

# An administrator's comments and order survive; a replaced entry stays
# on its line, in canonical form, with its trailing comment.
cat >"$PF" <<'EOF'
# my peers
10.77.3.0/24 3   # the build farm

	10.77.0.2	2
2001:db8::/32 4
EOF
chmod 640 "$PF"
ok peer add --save 10.77.3.0/24 5
ok peer add --save 2001:DB8:0::/32 6
same "file after replacing two entries" "$(cat "$PF")" "# my peers
10.77.3.0/24 5 # the build farm

	10.77.0.2	2
2001:db8::/32 6"
[ "$(stat -c %a "$PF")" = 640 ] || fail "rewrite changed the mode to $(stat -c %a "$PF")"
same "registry after replacing" "$(list)" "10.77.0.2 2
2001:db8::/32 6
10.77.3.0/24 5"
ls "$(dirname "$PF")" | grep -v '^peers$' >"$tmp/left" && fail "left in the directory: $(cat "$tmp/left")"

# ---- del --save -------------------------------------------------------------
ok peer del --save 10.77.0.2
same "file after del --save" "$(entries "$PF")" "10.77.3.0/24 5
2001:db8::/32 6"
same "registry after del --save" "$(list)" "2001:db8::/32 6
10.77.3.0/24 5"
grep -q '^# my peers$' "$PF" || fail "del --save lost a comment"
# In the file only (say, before it was loaded): still removed, exit 0.
ok peer del 10.77.3.0/24
ok peer del --save 10.77.3.0/24
same "file after del --save of a file-only entry" "$(entries "$PF")" "2001:db8::/32 6"
# In neither: exit 1, one line, file untouched.
cp "$PF" "$tmp/before"
ctl peer del --save 10.99.0.0/16
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "no peer entry for 10.99.0.0/16" "$tmp/err" ||
	fail "del --save of an unknown entry: exit $rc: $(cat "$tmp/err")"
cmp -s "$PF" "$tmp/before" || fail "del --save of an unknown entry changed the file"
# Without --save the file is not touched.
ok peer add 10.77.9.9 9
cmp -s "$PF" "$tmp/before" || fail "peer add without --save changed the file"
ok peer del 10.77.9.9

# ---- the round trip: a fresh store (a reboot) loads the file back --------------
ok peer add --save 10.77.0.7 7
ok peer add --save 0.0.0.0/0 8
want=$(list)
XSOCK_LOCAL_DIR=$XSOCK_LOCAL_DIR.2
mkdir -p "$XSOCK_LOCAL_DIR"
same "registry of a fresh store" "$(list)" ""
ok peer load
grep -qx "loaded 3 peer entries from $PF" "$tmp/out" || fail "peer load said '$(cat "$tmp/out")'"
same "registry after peer load" "$(list)" "$want"
# Loading again changes nothing; an explicit FILE works the same.
ok peer load "$PF"
same "registry after a second load" "$(list)" "$want"

# ---- malformed files: every bad line named, nothing applied --------------------
before=$(list)
printf '%s\n' \
	'10.88.0.1 2' \
	'' \
	'# a comment' \
	'10.0.0.300 2' \
	'10.0.0.1/24 2' \
	'10.88.0.5' \
	'10.88.0.6 2 extra' \
	'10.88.0.1 3' \
	'10.88.0.8 02' \
	'10.88.0.9 32752' \
	'10.88.0.10 -1' >"$tmp/bad"
printf '10.88.0.11 2\r\n' >>"$tmp/bad"
ctl peer load "$tmp/bad"
[ "$rc" -eq 1 ] || fail "load of a malformed file: exit $rc, want 1"
for want in \
	"$tmp/bad:4: invalid address '10.0.0.300'" \
	"$tmp/bad:5: invalid address '10.0.0.1/24': host bits set beyond the prefix (did you mean 10.0.0.0/24?)" \
	"$tmp/bad:6: missing domain after '10.88.0.5'" \
	"$tmp/bad:7: unexpected 'extra' after the domain" \
	"$tmp/bad:8: a second entry for 10.88.0.1 (the first is on line 1)" \
	"$tmp/bad:9: invalid domain id '02'" \
	"$tmp/bad:10: invalid domain id '32752'" \
	"$tmp/bad:11: invalid domain id '-1'" \
	"$tmp/bad:12: control character 0x0d in column 13" \
	"$tmp/bad: nothing loaded"; do
	grep -qF -- "xsockctl: $want" "$tmp/err" || fail "load of a malformed file: no '$want' in:
$(cat "$tmp/err")"
done
[ "$(wc -l <"$tmp/err")" -eq 10 ] || fail "load of a malformed file: $(wc -l <"$tmp/err") lines on stderr, want 10"
[ -s "$tmp/out" ] && fail "load of a malformed file printed '$(cat "$tmp/out")'"
same "registry after a refused load (the good line 1 not applied)" "$(list)" "$before"

# A line too long, and a NUL byte.
{ printf '10.88.0.1 2 #'; head -c 300 /dev/zero | tr '\0' x; printf '\n10.88.0.2 2\n'; } >"$tmp/long"
ctl peer load "$tmp/long"
[ "$rc" -eq 1 ] && grep -qF "$tmp/long:1: line too long (313 bytes, at most 255)" "$tmp/err" ||
	fail "an overlong line: exit $rc: $(cat "$tmp/err")"
printf '10.88.0.1 2\n10.88.0.2\0 2\n' >"$tmp/nul"
ctl peer load "$tmp/nul"
[ "$rc" -eq 1 ] && grep -qF "$tmp/nul:2: NUL byte 0x00 in column 10" "$tmp/err" ||
	fail "a NUL byte: exit $rc: $(cat "$tmp/err")"

# More errors than are worth listing: the first 20 and a count.
seq 1 30 | sed 's/.*/bad&/' >"$tmp/many"
ctl peer load "$tmp/many"
[ "$rc" -eq 1 ] && [ "$(grep -c "$tmp/many:[0-9]*: " "$tmp/err")" -eq 20 ] &&
	grep -qF "$tmp/many: 30 errors in all (only the first 20 shown)" "$tmp/err" ||
	fail "30 bad lines: exit $rc: $(cat "$tmp/err")"

# This domain itself: refused by line, nothing applied.
printf '10.88.0.1 2\n10.88.0.2 1\n' >"$tmp/self"
ctl peer load "$tmp/self"
[ "$rc" -eq 1 ] && grep -qF "$tmp/self:2: domain 1 is this domain" "$tmp/err" ||
	fail "an entry for this domain: exit $rc: $(cat "$tmp/err")"
same "registry after refusing this domain" "$(list)" "$before"

# A file everybody may write is no access rule: refused.
printf '10.88.0.1 2\n' >"$tmp/open"
chmod 666 "$tmp/open"
ctl peer load "$tmp/open"
[ "$rc" -eq 1 ] && grep -q "writable by every user" "$tmp/err" ||
	fail "a world-writable file: exit $rc: $(cat "$tmp/err")"
same "registry after refusing a world-writable file" "$(list)" "$before"

# Missing file: exit 1; a directory: exit 1; usage errors: exit 2.
ctl peer load "$tmp/none"
[ "$rc" -eq 1 ] && grep -q "cannot open $tmp/none: No such file" "$tmp/err" ||
	fail "load of a missing file: exit $rc: $(cat "$tmp/err")"
ctl peer load "$tmp"
[ "$rc" -eq 1 ] && grep -q "not a regular file" "$tmp/err" || fail "load of a directory: exit $rc"
ctl peer load a b
[ "$rc" -eq 2 ] && grep -q "unexpected argument 'b'" "$tmp/err" || fail "peer load a b: exit $rc"
ctl peer add --bogus 10.0.0.1 2
[ "$rc" -eq 2 ] && grep -q "unknown option '--bogus'" "$tmp/err" || fail "peer add --bogus: exit $rc"

# Comments and blank lines only: nothing to load, success.
printf '# nothing yet\n\n   \n' >"$tmp/empty"
ok peer load "$tmp/empty"
grep -qx "loaded 0 peer entries from $tmp/empty" "$tmp/out" || fail "empty file: '$(cat "$tmp/out")'"

# ---- --save with a malformed file: refused before anything changes ---------------
cp "$PF" "$tmp/good"
printf '10.0.0.300 2\n' >>"$PF"
cp "$PF" "$tmp/broken"
badline=$(wc -l <"$PF")
ctl peer add --save 10.88.0.1 2
[ "$rc" -eq 1 ] && grep -qF "$PF:$badline: invalid address '10.0.0.300'" "$tmp/err" &&
	grep -qF "$PF left as it is; nothing changed" "$tmp/err" ||
	fail "add --save over a malformed file: exit $rc: $(cat "$tmp/err")"
cmp -s "$PF" "$tmp/broken" || fail "add --save changed a malformed file"
same "registry after add --save over a malformed file" "$(list)" "$before"
ctl peer del --save 10.77.0.7
[ "$rc" -eq 1 ] || fail "del --save over a malformed file: exit $rc"
same "registry after del --save over a malformed file" "$(list)" "$before"
cp "$tmp/good" "$PF"

# ---- a file that cannot be written: the store is not changed ----------------------
XSOCK_PEERS_FILE=/proc/xsock-no-such-dir/peers ctl peer add --save 10.88.0.1 2
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "add --save to an unwritable place: exit $rc: $(cat "$tmp/err")"
same "registry after a failed save" "$(list)" "$before"

# ---- a store that refuses: the file is put back -------------------------------------
# Domain 1's registry nodes handed to domain 0, closed to others (their
# permissions, the local store's .p files, rewritten behind its back).
cp "$PF" "$tmp/good"
pdir=$XSOCK_LOCAL_DIR/store/local/domain/1/data/xsock/peers
if [ -f "$pdir/.p" ]; then
	cp -a "$pdir" "$tmp/pdir"
	find "$pdir" -name .p | while read -r p; do printf 'n0' >"$p"; done
	ctl peer add --save 10.88.0.1 2
	[ "$rc" -eq 1 ] && grep -q "cannot add peer 10.88.0.1 -> domain 2: Permission denied" "$tmp/err" ||
		fail "add --save into a refusing store: exit $rc: $(cat "$tmp/err")"
	cmp -s "$PF" "$tmp/good" || fail "add --save into a refusing store left the file changed"
	ctl peer del --save 10.77.0.7
	[ "$rc" -eq 1 ] || fail "del --save from a refusing store: exit $rc: $(cat "$tmp/err")"
	cmp -s "$PF" "$tmp/good" || fail "del --save from a refusing store left the file changed"
	rm -rf "$pdir" && cp -a "$tmp/pdir" "$pdir"
	same "registry after the refusals" "$(list)" "$before"
else
	fail "no permissions file $pdir/.p (has the local store's layout changed?)"
fi

# ---- names: saved as names, loaded as names (resolved when used) --------------------
ctl peer add --save 10.88.2.1 db-primary
[ "$rc" -eq 0 ] || fail "add --save by name: exit $rc: $(cat "$tmp/err")"
grep -q "no domain named 'db-primary'" "$tmp/err" || fail "add of an unknown name: no note: $(cat "$tmp/err")"
grep -qx '10.88.2.1 db-primary' "$PF" || fail "the file does not hold the name: $(cat "$PF")"
grep -q ' name=db-primary$' "$XSOCK_LOCAL_DIR/store/local/domain/1/data/xsock/peers/4-0a580201-32/.v" ||
	fail "the registry does not hold the name"
printf '10.88.3.0/24 web.1 # by name\n10.88.4.1 7\n' >"$tmp/named"
ctl peer load "$tmp/named"
[ "$rc" -eq 0 ] || fail "load of a file with a name: exit $rc: $(cat "$tmp/err")"
XSOCK_DOMID=1 "$XSOCKCTL" peer list | grep -q '^10.88.3.0/24 *- *web.1 *down: no domain has that name$' ||
	fail "a loaded name: $(XSOCK_DOMID=1 "$XSOCKCTL" peer list)"
printf '10.88.5.1 bad/name\n' >"$tmp/badname"
ctl peer load "$tmp/badname"
[ "$rc" -eq 1 ] && grep -q "badname:1: invalid domain 'bad/name'" "$tmp/err" ||
	fail "load of a bad name: exit $rc: $(cat "$tmp/err")"

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s)"
	exit 1
fi
echo "test_peerfile: all checks passed"
exit 0
