#!/bin/bash
# SPDX-License-Identifier: MIT
# Threads on one ring socket (xsock-soak -t): in each domain one thread
# sends, another receives and a third polls the same socket, full duplex,
# SHA-256 compared; then the phase mode (a writer thread next to a blocking
# reader, poll and epoll phases) on two connections at once. Small sizes:
# this is the test scripts/run-tests.sh runs under ThreadSanitizer
# (./configure --enable-sanitizers=thread), where any race report fails it.
. "$(dirname "$0")/lib.sh"
need_root_netns
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
SOAK="$TOP_BUILD/tools/xsock-soak"
[ -x "$SOAK" ] || fail "no $SOAK"
MB=${XSOCK_THREADS_MB:-32}
if ldd "${PRELOAD##*:}" 2>/dev/null | grep -q libtsan; then
	TSAN_OPTIONS="log_path=$WORK/tsan exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
	export TSAN_OPTIONS
	MB=${XSOCK_THREADS_MB:-8}
	say "ThreadSanitizer build: reports go to $WORK/tsan.*"
fi
tsan_reports() {
	local f
	for f in "$WORK"/tsan.*; do [ -f "$f" ] && { cat "$f"; return 0; }; done
	return 1
}

shim 2 "$SOAK" server 7611 >"$WORK/srv.out" 2>&1 &
srv=$!
PIDS+=($srv)
wait_listen 2 7611
shim 1 timeout 300 "$SOAK" client 10.77.0.2 7611 -b ${MB}M -t -s 21 >"$WORK/thr.out" 2>&1 ||
	{ cat "$WORK/thr.out"; tsan_reports; fail "threaded connection failed"; }
sed 's/^/  /' "$WORK/thr.out"
grep -q ' 0 mismatches, hashes equal' "$WORK/thr.out" || fail "threaded: no clean summary"
grep -q 'poller wake-ups [1-9]' "$WORK/thr.out" || fail "the poller thread never woke"
shim 1 timeout 300 "$SOAK" client 10.77.0.2 7611 -b $((MB / 2))M -c 2 -s 22 >"$WORK/ph.out" 2>&1 ||
	{ cat "$WORK/ph.out"; tsan_reports; fail "phase-mode connections failed"; }
sed 's/^/  /' "$WORK/ph.out"
shim 1 timeout 60 "$SOAK" quit 10.77.0.2 7611 ||
	{ cat "$WORK/srv.out"; fail "server reports failures"; }
wait "$srv" || { cat "$WORK/srv.out"; tsan_reports; fail "server exited with failure"; }
sed 's/^/  /' "$WORK/srv.out"
tsan_reports && fail "ThreadSanitizer reported races (above)"
say "PASS"
