#!/bin/bash
# SPDX-License-Identifier: MIT
# A pre-forking server (prefork.py: the parent listens, three children
# block in accept() on the shared socket) across two isolated domains with
# XSOCK_FALLBACK=0: 30 ring connections, each answered by exactly one
# child with the checksum of its request, by more than one child in all;
# then nothing left behind (grants, event channels).
. "$(dirname "$0")/lib.sh"
need_root_netns
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
PY="$(dirname "$0")/prefork.py"

shim 2 /usr/bin/python3 "$PY" server 7501 3 >"$WORK/srv.out" 2>&1 &
PIDS+=($!)
wait_listen 2 7501
out=$(shim 1 timeout 120 /usr/bin/python3 "$PY" client 10.77.0.2 7501 30 2>&1) ||
	{ rc=$?; echo "$out"; echo "client exit status $rc"; cat "$WORK/srv.out"; fail "client failed"; }
say "$out"
echo "$out" | grep -q "^ok 30 connections" || fail "not every connection was answered"
n=$(echo "$out" | sed -n 's/.* answered by \([0-9]*\) workers.*/\1/p')
[ "${n:-0}" -ge 2 ] || fail "only $n worker(s) served ring connections"
pkill -TERM -f "prefork.py server 7501"
wait "${PIDS[0]}" 2>/dev/null
PIDS=()
sleep 0.5
[ "$(count_grants)" = 0 ] || fail "grants left: $(count_grants)"
[ "$(count_evtchns)" = 0 ] || fail "event channels left: $(count_evtchns)"
say "PASS"
