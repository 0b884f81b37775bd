#!/bin/bash
# SPDX-License-Identifier: MIT
# The `xsock` wrapper (issue 17 item 2): `xsock PROGRAM ARGS...` runs
# PROGRAM with the shim appended to LD_PRELOAD and nothing else changed;
# --help; one-line errors and env(1)'s exit statuses (125 xsock failed,
# 126 cannot run, 127 not found; otherwise the program's); then the main
# job through it: unmodified socat, client in domain 1 and server in
# domain 2 (namespaces with no network path between them, no fallback),
# both started only as `xsock socat ...`.
#
# The wrapper under test is the build tree's, pointed at the build tree's
# shim by XSOCK_PRELOAD_LIB (tests/pkg/test_package.sh runs the installed
# one with its built-in path). Without the change this fails at once:
# there is no $TOP_BUILD/xsock.
#
# Exit 0 pass, 1 fail, 77 skip (the two-domain part needs root; the
# checks before it still run and must pass).
. "$(dirname "$0")/lib.sh"

WRAPPER=$TOP_BUILD/xsock
[ -x "$WRAPPER" ] || fail "no xsock wrapper at $WRAPPER"
LIB=$(readlink -f "${PRELOAD##*:}")
[ -f "$LIB" ] || fail "no preload library at $LIB"
# A sanitizer build's runtimes (lib.sh puts them before the shim) must
# stay first in LD_PRELOAD: the wrapper appends after what is there.
SAN=""
case "$PRELOAD" in *:*) SAN=${PRELOAD%:*} ;; esac
export XSOCK_PRELOAD_LIB=$LIB
WORK=$(mktemp -d /tmp/xsock-it-XXXXXX)

# run WANT_STATUS ARGS...: the wrapper's status must be WANT_STATUS;
# stdout in $WORK/out, stderr in $WORK/err.
run() {
	local want=$1 rc=0
	shift
	LD_PRELOAD=$SAN "$WRAPPER" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	[ "$rc" = "$want" ] || fail "xsock $*: exit $rc, want $want (stderr: $(cat "$WORK/err"))"
}

# one_error TEXT: exactly one line on stderr, "xsock: ..." containing TEXT.
one_error() {
	[ "$(wc -l <"$WORK/err")" = 1 ] && grep -q '^xsock: ' "$WORK/err" &&
		grep -qF -- "$1" "$WORK/err" ||
		fail "want one line 'xsock: ...$1...' on stderr, got: $(cat "$WORK/err")"
}

# ---- help and version ----------------------------------------------------------
run 0 --help
grep -q '^Usage: xsock \[--\] PROGRAM \[ARGS...\]' "$WORK/out" && [ ! -s "$WORK/err" ] ||
	fail "--help: no usage line"
grep -q 'libxsock_preload.so' "$WORK/out" || fail "--help does not name the library"
run 0 -h
run 0 --version
grep -Eq '^xsock \(xsock\) [0-9]+\.[0-9]+' "$WORK/out" || fail "--version: $(cat "$WORK/out")"

# ---- errors: 125 xsock, 126 cannot run, 127 not found ----------------------------
run 125
one_error "missing PROGRAM"
run 125 --bogus true
one_error "unknown option '--bogus'"
XSOCK_PRELOAD_LIB=$WORK/nope.so run 125 true
one_error "the xsock library $WORK/nope.so is missing"
XSOCK_PRELOAD_LIB=$WORK run 125 true
one_error "is not a regular file"
run 127 xsock-no-such-program-$$
one_error "cannot run 'xsock-no-such-program-$$': No such file or directory"
run 127 "$WORK/no-such-file"
one_error "No such file or directory"
printf '#!/bin/sh\nexit 0\n' >"$WORK/noexec"
chmod 644 "$WORK/noexec"
run 126 "$WORK/noexec"
one_error "cannot run '$WORK/noexec': Permission denied"
mkdir "$WORK/adir"
run 126 "$WORK/adir"
one_error "cannot run '$WORK/adir': Permission denied"

# ---- the program's status, arguments and stdio pass through -------------------------
run 7 sh -c 'exit 7'
run 0 -- printf '%s|' 'a b' '' '-x' '*'
[ "$(cat "$WORK/out")" = 'a b||-x|*|' ] || fail "arguments changed: '$(cat "$WORK/out")'"
echo hello | LD_PRELOAD=$SAN "$WRAPPER" cat >"$WORK/out" 2>"$WORK/err"
[ "$(cat "$WORK/out")" = hello ] && [ ! -s "$WORK/err" ] || fail "stdin/stdout through cat"

# ---- the environment: LD_PRELOAD gains the shim, nothing else changes --------------
san_then() { [ -n "$SAN" ] && echo "$SAN:$1" || echo "$1"; }
# (A sanitizer build's options ride along: its runtime reads them.)
keep=()
[ -n "${ASAN_OPTIONS:-}" ] && keep+=("ASAN_OPTIONS=$ASAN_OPTIONS")
[ -n "${UBSAN_OPTIONS:-}" ] && keep+=("UBSAN_OPTIONS=$UBSAN_OPTIONS")
env -i A=1 'B=x y' PATH="$PATH" XSOCK_PRELOAD_LIB="$LIB" LD_PRELOAD="$SAN" "${keep[@]}" \
	"$WRAPPER" env >"$WORK/env" 2>"$WORK/err" || fail "xsock env failed: $(cat "$WORK/err")"
sort "$WORK/env" >"$WORK/got"
printf '%s\n' A=1 'B=x y' "LD_PRELOAD=$(san_then "$LIB")" "PATH=$PATH" \
	"XSOCK_PRELOAD_LIB=$LIB" "${keep[@]}" | sort >"$WORK/want"
diff "$WORK/want" "$WORK/got" >"$WORK/diff" || fail "environment under xsock:
$(cat "$WORK/diff")"
# Already listed: left exactly as it was.
LD_PRELOAD="$(san_then "$LIB")" "$WRAPPER" sh -c 'echo "$LD_PRELOAD"' >"$WORK/out"
[ "$(cat "$WORK/out")" = "$(san_then "$LIB")" ] || fail "LD_PRELOAD with the shim already: '$(cat "$WORK/out")'"
# Another libxsock_preload.so already listed (by name): left alone too.
LD_PRELOAD="$(san_then libxsock_preload.so)" LD_LIBRARY_PATH="${LIB%/*}" "$WRAPPER" \
	sh -c 'echo "$LD_PRELOAD"' >"$WORK/out"
[ "$(cat "$WORK/out")" = "$(san_then libxsock_preload.so)" ] ||
	fail "LD_PRELOAD with libxsock_preload.so by name: '$(cat "$WORK/out")'"
# The shim is really mapped into the program.
run 0 cat /proc/self/maps
grep -qF "$LIB" "$WORK/out" || fail "the shim is not loaded in a program run by xsock"

# ---- the main job through the wrapper: socat to socat across two domains -------------
[ "$(id -u)" = 0 ] && command -v ip >/dev/null ||
	skip "the checks above passed; the two-domain part needs root and ip"
need_prog socat
rm -rf "$WORK"	# setup_domains makes the next one (lib.sh's cleanup removes it)
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
MB=${XSOCK_TEST_WRAPPER_MB:-16}
head -c "${MB}M" /dev/urandom >"$WORK/in"
# wrap I ARGS...: `xsock ARGS...` in domain I (nothing but the wrapper adds the shim).
wrap() {
	local i=$1
	shift
	ip netns exec "xsit$$-$i" env XSOCK_DOMID="$i" LD_PRELOAD="$SAN" "$WRAPPER" "$@"
}
wrap 2 socat -u TCP-LISTEN:7000,reuseaddr OPEN:"$WORK/out",creat,trunc &
PIDS+=($!)
wait_listen 2 7000
wrap 1 socat -u OPEN:"$WORK/in" TCP:"$(addr_of 2)":7000 || fail "client socat under xsock failed"
wait "${PIDS[0]}" || fail "server socat under xsock failed"
cmp -s "$WORK/in" "$WORK/out" || fail "$MB MiB through xsock socat arrived damaged"
say "PASS: help, errors 125/126/127, status/args/env pass through; $MB MiB socat -> socat across two domains under xsock in $(elapsed "$T0") s"
exit 0
