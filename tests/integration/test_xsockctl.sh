#!/bin/sh
# SPDX-License-Identifier: MIT
#
# xsockctl end to end on the local backend: argument validation (exit 2 and
# one line on stderr naming the bad argument), the peer add/list/del round
# trip for IPv4 and IPv6 prefixes, errors from the store (exit 1) and the
# isolation of one domain's registry from another's.
#
# Exit 0 pass, 1 fail, 77 skip (no build dir, or no local store yet).

set -u

top=${XSOCK_TEST_TOP_BUILDDIR:-}
if [ -z "$top" ] || [ ! -x "$top/xsockctl" ]; then
	echo "SKIP: xsockctl not built (XSOCK_TEST_TOP_BUILDDIR='$top')"
	exit 77
fi
XSOCKCTL=$top/xsockctl

XSOCK_LOCAL_DIR=$(mktemp -d /dev/shm/xsock-test-ctl-XXXXXX) || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/xsockctl-test-XXXXXX") || exit 1
trap 'rm -rf "$XSOCK_LOCAL_DIR" "$tmp"' EXIT
export XSOCK_LOCAL_DIR
XSOCK_BACKEND=local
export XSOCK_BACKEND
unset XSOCK_DEBUG XSOCK_LOG

failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# ctl DOMID ARGS...: run xsockctl as domain DOMID; stdout in $tmp/out,
# stderr in $tmp/err, exit status in $rc.
ctl() {
	dom=$1
	shift
	XSOCK_DOMID=$dom "$XSOCKCTL" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# bad WANT ARGS...: as domain 1, ARGS must exit 2 with exactly one line on
# stderr that starts with "xsockctl: " and contains WANT, and print nothing
# on stdout.
bad() {
	want=$1
	shift
	ctl 1 "$@"
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -ne 2 ]; then
		fail "xsockctl $*: exit $rc, want 2 ($(cat "$tmp/err"))"
	elif [ "$lines" -ne 1 ]; then
		fail "xsockctl $*: $lines lines on stderr, want 1"
	elif ! grep -q '^xsockctl: ' "$tmp/err"; then
		fail "xsockctl $*: message does not start with 'xsockctl: ': $(cat "$tmp/err")"
	elif ! grep -qF -- "$want" "$tmp/err"; then
		fail "xsockctl $*: message does not mention '$want': $(cat "$tmp/err")"
	elif [ -s "$tmp/out" ]; then
		fail "xsockctl $*: wrote to stdout on a usage error"
	fi
}

# ---- malformed command lines: exit 2 -------------------------------------
bad "invalid address '10.0.0.300'"	peer add 10.0.0.300 2
bad "'10.0.0.1/24'"			peer add 10.0.0.1/24 2
bad "did you mean 10.0.0.0/24"		peer add 10.0.0.1/24 2
bad "'10.0.0.0/33'"			peer add 10.0.0.0/33 2
bad "'10.0.0.0/'"			peer add 10.0.0.0/ 2
bad "'10.0.0.0/024'"			peer add 10.0.0.0/024 2
bad "'10.0.0.0/8/8'"			peer add 10.0.0.0/8/8 2
bad "'::/129'"				peer add ::/129 2
bad "'fe80::1%eth0'"			peer add fe80::1%eth0 2
bad "'2001:db8:::1'"			peer add 2001:db8:::1 2
bad "'10.1'"				peer add 10.1 2
bad "' 10.0.0.1'"			peer add " 10.0.0.1" 2
bad "invalid address ''"		peer add "" 2
bad "'1.2?3.4'"				peer add "1.2
3.4" 2
bad "'32752'"				peer add 10.0.0.1 32752
bad "'65535'"				peer add 10.0.0.1 65535
bad "'-1'"				peer add 10.0.0.1 -1
bad "'+2'"				peer add 10.0.0.1 +2
bad "'02'"				peer add 10.0.0.1 02
bad "'ab/c'"				peer add 10.0.0.1 ab/c
bad "'123456'"				peer add 10.0.0.1 123456
bad "'2 '"				peer add 10.0.0.1 "2 "
bad "'1': that is this domain"		peer add 10.0.0.1 1
bad "missing DOMAIN"			peer add 10.0.0.1
bad "missing ADDR"			peer add
bad "unexpected argument 'extra'"	peer add 10.0.0.1 2 extra
bad "missing ADDR"			peer del
bad "invalid address '10.0.0.256'"	peer del 10.0.0.256
bad "unexpected argument 'extra'"	peer del 10.0.0.1 extra
bad "unexpected argument 'extra'"	peer list extra
bad "unknown option '-x'"		peer list -x
bad "missing subcommand"		peer
bad "unknown peer subcommand 'frob'"	peer frob
bad "unknown command 'frob'"		frob
bad "missing command"
bad "unknown option '--bogus'"		--bogus
bad "unexpected argument 'extra'"	status extra
bad "unexpected argument 'extra'"	--version extra

# ---- help and version: exit 0, stdout --------------------------------------
ctl 1 --help
[ "$rc" -eq 0 ] && grep -q "peer add ADDR\[/PREFIX\] DOMAIN" "$tmp/out" && [ ! -s "$tmp/err" ] ||
	fail "--help: exit $rc or text missing"
ctl 1 -h
[ "$rc" -eq 0 ] && grep -q "peer list" "$tmp/out" || fail "-h: exit $rc"
ctl 1 --version
[ "$rc" -eq 0 ] && grep -Eq '^xsockctl \(xsock\) [0-9]+\.[0-9]+' "$tmp/out" ||
	fail "--version: exit $rc, '$(cat "$tmp/out")'"
ctl 1 status
[ "$rc" -eq 0 ] && [ -s "$tmp/out" ] || fail "status: exit $rc"

# A bad XSOCK_DOMID is an environment problem: exit 1, not 2.
ctl 99999 peer list
[ "$rc" -eq 1 ] && grep -q "Invalid argument" "$tmp/err" ||
	fail "XSOCK_DOMID=99999 peer list: exit $rc, '$(cat "$tmp/err")'"

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s) before the store tests"
	exit 1
fi

# ---- the store: skip until the local store exists ---------------------------
ctl 1 peer list
if [ "$rc" -ne 0 ] && grep -q "Function not implemented" "$tmp/err"; then
	echo "SKIP: store-backed checks: the local store is not implemented in this build"
	exit 77
fi
[ "$rc" -eq 0 ] || fail "peer list on an empty registry: exit $rc: $(cat "$tmp/err")"
[ "$(cat "$tmp/out")" = "PREFIX  DOMAIN  NAME  STATE" ] ||
	fail "empty peer list: got '$(cat "$tmp/out")'"

# expect_list DOMID EXPECTED: `peer list` of DOMID prints exactly EXPECTED.
expect_list() {
	ctl "$1" peer list
	if [ "$rc" -ne 0 ]; then
		fail "domain $1 peer list: exit $rc: $(cat "$tmp/err")"
	elif [ "$(cat "$tmp/out")" != "$2" ]; then
		fail "domain $1 peer list:
--- got
$(cat "$tmp/out")
--- want
$2"
	fi
}

# ok DOMID ARGS...: must exit 0 silently.
ok() {
	ctl "$@"
	shift
	[ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] && [ ! -s "$tmp/out" ] ||
		fail "xsockctl $*: exit $rc: $(cat "$tmp/err")"
}

ok 1 peer add 10.77.0.2 2
ok 1 peer add 10.77.0.0/16 3
ok 1 peer add 2001:db8::/32 4
ok 1 peer add 2001:db8::5 5
ok 1 peer add 0.0.0.0/0 0
expect_list 1 "PREFIX         DOMAIN  NAME  STATE
2001:db8::5    5       -     up
10.77.0.2      2       -     up
2001:db8::/32  4       -     up
10.77.0.0/16   3       -     up
0.0.0.0/0      0       -     up"

ctl 1 peer list -j
e='"name":null,"up":true,"state":"up","source":"peers"}'
want='{"domain":1,"peers":[{"prefix":"2001:db8::5","domain":5,'$e','
want=$want'{"prefix":"10.77.0.2","domain":2,'$e',{"prefix":"2001:db8::/32","domain":4,'$e','
want=$want'{"prefix":"10.77.0.0/16","domain":3,'$e',{"prefix":"0.0.0.0/0","domain":0,'$e']}'
[ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = "$want" ] ||
	fail "peer list -j: exit $rc: '$(cat "$tmp/out")'"
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["peers"]) == 5' \
		<"$tmp/out" || fail "peer list -j is not the JSON we expect"
fi

# Replace through a non-canonical spelling of the same prefix.
ok 1 peer add 2001:DB8:0::5/128 7
ok 1 peer del 0.0.0.0/0
expect_list 1 "PREFIX         DOMAIN  NAME  STATE
2001:db8::5    7       -     up
10.77.0.2      2       -     up
2001:db8::/32  4       -     up
10.77.0.0/16   3       -     up"

ok 1 peer del 10.77.0.2/32
ctl 1 peer del 10.77.0.2
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
	grep -q "no peer entry for 10.77.0.2" "$tmp/err" ||
	fail "del of a missing entry: exit $rc: '$(cat "$tmp/err")'"
ctl 1 peer del 10.78.0.0/16
[ "$rc" -eq 1 ] && grep -q "10.78.0.0/16" "$tmp/err" ||
	fail "del of a never-added entry: exit $rc"
ok 1 peer del 2001:0db8::5
ok 1 peer del 2001:db8::/32
ok 1 peer del 10.77.0.0/16
expect_list 1 "PREFIX  DOMAIN  NAME  STATE"

# Output that cannot be written is a failure.
if [ -w /dev/full ]; then
	ok 1 peer add 10.77.0.2 2
	XSOCK_DOMID=1 "$XSOCKCTL" peer list >/dev/full 2>"$tmp/err"
	[ $? -eq 1 ] || fail "peer list >/dev/full did not exit 1"
	ok 1 peer del 10.77.0.2
fi

# ---- isolation between domains --------------------------------------------------
ok 1 peer add 10.77.0.2 2
ok 2 peer add 10.77.0.1 1
ok 2 peer add fd00::1/128 1
expect_list 1 "PREFIX     DOMAIN  NAME  STATE
10.77.0.2  2       -     up"
expect_list 2 "PREFIX     DOMAIN  NAME  STATE
fd00::1    1       -     up
10.77.0.1  1       -     up"
expect_list 3 "PREFIX  DOMAIN  NAME  STATE"
# Domain 2 deleting "its" 10.77.0.2 does not touch domain 1's entry.
ctl 2 peer del 10.77.0.2
[ "$rc" -eq 1 ] || fail "domain 2 deleted domain 1's entry (exit $rc)"
expect_list 1 "PREFIX     DOMAIN  NAME  STATE
10.77.0.2  2       -     up"

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s)"
	exit 1
fi
echo "PASS"
exit 0
