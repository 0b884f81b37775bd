#!/bin/bash
# SPDX-License-Identifier: MIT
# Integrity soak (tools/xsock-soak, an ordinary TCP program) across two
# domains, ring only: two connections each carrying 256 MiB both ways at
# once (random write/read sizes 1 B..256 KiB; poll, edge-triggered epoll
# and blocking phases), SHA-256 compared on both sides; one threaded
# connection (a sender, a receiver and a poller thread on one socket);
# then 200 connections opened and closed in random order with small
# random transfers. Afterwards the server's fds, grants, event channels
# and store nodes must be back where they were.
# XSOCK_SOAK_LONG=1 (make soak): 10 GiB each way on one connection.
# XSOCK_SOAK_BYTES / XSOCK_TEST_SIZE_MB set the bulk size.
. "$(dirname "$0")/lib.sh"
need_root_netns
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
SOAK="$TOP_BUILD/tools/xsock-soak"
[ -x "$SOAK" ] || fail "no $SOAK"
PORT=7601
if [ "${XSOCK_SOAK_LONG:-0}" = 1 ]; then
	BYTES=${XSOCK_SOAK_BYTES:-10G} CONNS=1 TMO=3600
else
	BYTES=${XSOCK_SOAK_BYTES:-${XSOCK_TEST_SIZE_MB:-256}M} CONNS=2 TMO=600
fi

shim 2 "$SOAK" server $PORT >"$WORK/srv.out" 2>&1 &
srv=$!
PIDS+=($srv)
wait_listen 2 $PORT
# A warm-up connection creates the per-peer directories that stay for the
# domains' lifetime; count from there.
shim 1 timeout 30 "$SOAK" client 10.77.0.2 $PORT -m 1 -s 99 >/dev/null ||
	fail "warm-up connection failed"
sleep 0.3
fds0=$(count_fds "$srv")
grants0=$(count_grants)
ev0=$(count_evtchns)
nodes0=$(count_nodes)
say "before: server fds $fds0, grants $grants0, event channels $ev0, store nodes $nodes0"

shim 1 timeout $TMO "$SOAK" client 10.77.0.2 $PORT -b "$BYTES" -c $CONNS -s 7 \
	>"$WORK/bulk.out" 2>&1 || { cat "$WORK/bulk.out" "$WORK/srv.out"; fail "bulk soak failed"; }
sed 's/^/  /' "$WORK/bulk.out"
grep -q ' 0 mismatches, hashes equal' "$WORK/bulk.out" || fail "bulk: no clean summary"
if [ "${XSOCK_SOAK_LONG:-0}" != 1 ]; then
	shim 1 timeout 300 "$SOAK" client 10.77.0.2 $PORT -b 32M -t -s 11 >"$WORK/thr.out" 2>&1 ||
		{ cat "$WORK/thr.out" "$WORK/srv.out"; fail "threaded soak failed"; }
	sed 's/^/  /' "$WORK/thr.out"
	shim 1 timeout 300 "$SOAK" client 10.77.0.2 $PORT -m 200 -s 13 >"$WORK/many.out" 2>&1 ||
		{ cat "$WORK/many.out" "$WORK/srv.out"; fail "200-connection soak failed"; }
	sed 's/^/  /' "$WORK/many.out"
	grep -q '200 connections.* 0 mismatches, hashes equal' "$WORK/many.out" ||
		fail "many: no clean summary"
fi

# Let the server's threads finish their closes, then count.
n=0
while [ "$(count_fds "$srv")" != "$fds0" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
sleep 0.3
fds1=$(count_fds "$srv")
grants1=$(count_grants)
ev1=$(count_evtchns)
nodes1=$(count_nodes)
say "after:  server fds $fds1, grants $grants1, event channels $ev1, store nodes $nodes1"
[ "$fds1" = "$fds0" ] || { ls -l "/proc/$srv/fd"; fail "server leaked $((fds1 - fds0)) fds"; }
[ "$grants1" = "$grants0" ] || fail "leaked $((grants1 - grants0)) grants"
[ "$ev1" = "$ev0" ] || fail "leaked $((ev1 - ev0)) event channels"
[ "$nodes1" = "$nodes0" ] || fail "leaked $((nodes1 - nodes0)) store nodes"

shim 1 timeout 30 "$SOAK" quit 10.77.0.2 $PORT ||
	{ cat "$WORK/srv.out"; fail "server reports failures"; }
wait "$srv" || { cat "$WORK/srv.out"; fail "server exited with failure"; }
sed 's/^/  /' "$WORK/srv.out"
grep -q 'mismatches=0$' "$WORK/srv.out" || fail "server: no clean summary"
say "PASS"
