#!/bin/bash
# SPDX-License-Identifier: MIT
# A connection follows its fd across fork() (issue 16, items 1 and 3;
# docs/protocol.md, "Process model"), with ordinary Python programs
# (procmodel.py, no xsock code) across two isolated domains,
# XSOCK_FALLBACK=0:
#  - a double-forking daemon: the process that called listen() exits, so
#    does the middle one, and the grandchild accepts ring clients (each
#    served by a forked child);
#  - a client that forks after connect(), in four ways: the child reads
#    while the parent writes, the reverse, the parent closes and exits
#    at once (the child writes and reads), the parent is SIGKILLed (the
#    child writes and reads). The client's ring is mapped (side B): the
#    child must map it again.
# Each moves 4 MiB (XSOCK_TEST_PROCMODEL_MB) through the echo, sha256
# compared end to end. Afterwards: the daemon's fds are back where they
# were, and no grant or event channel is left in either domain once every
# program is gone.
. "$(dirname "$0")/lib.sh"
need_root_netns
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
PY="$(dirname "$0")/procmodel.py"
PORT=7341
MB=${XSOCK_TEST_PROCMODEL_MB:-4}
N=$((MB * 1024 * 1024))

shim 2 /usr/bin/python3 "$PY" daemon $PORT "$WORK/daemon.pid" >"$WORK/daemon.out" 2>&1 ||
	fail "the daemon did not start: $(cat "$WORK/daemon.out")"
for i in $(seq 1 600); do [ -s "$WORK/daemon.pid" ] && break; sleep 0.05; done
DPID=$(cat "$WORK/daemon.pid" 2>/dev/null) || fail "no daemon pid file"
PIDS+=("$DPID")
wait_listen 2 $PORT
say "daemon: listen() in pid $$'s grandchild's grandparent, accepting in pid $DPID"

# The daemon's fds after its first client (lazily opened store handles,
# event thread), then after all the others.
run_client() { # MODE: one client, checked
	local mode=$1 out="$WORK/$1.sum" exp got n
	rm -f "$out"
	shim 1 timeout 60 /usr/bin/python3 "$PY" client "$mode" "$(addr_of 2)" $PORT $N "$out" \
		>"$WORK/$mode.out" 2>"$WORK/$mode.err"
	# The reader may outlive the process the shell waited for.
	for n in $(seq 1 600); do [ -s "$out" ] && break; sleep 0.05; done
	exp=$(sed -n 's/^expect //p' "$WORK/$mode.out")
	got=$(cat "$out" 2>/dev/null)
	[ -n "$exp" ] || fail "$mode: the client did not connect: $(head -c 600 "$WORK/$mode.err")"
	[ "$got" = "$exp" ] ||
		fail "$mode: echo differs: sent '$exp', read back '$got' $(head -c 600 "$WORK/$mode.err")"
	say "$mode: $MB MiB echoed intact (${exp#* })"
}

run_client child-reads
sleep 0.5
fd0=$(count_fds "$DPID")
for m in parent-reads child-both parent-killed child-reads; do run_client $m; done
sleep 1
fd1=$(count_fds "$DPID")
[ "$fd1" -le "$fd0" ] || fail "the daemon holds $fd1 fds after 4 more clients, $fd0 before"
say "daemon fds: $fd0 -> $fd1"
# The daemon idles: no ring of any finished client is held anywhere (the
# last echo child may still be on its way out: up to 10 s).
for n in $(seq 1 100); do
	g=$(count_grants)
	e=$(count_evtchns)
	[ "$g" -eq 0 ] && [ "$e" -eq 0 ] && break
	sleep 0.1
done
[ "$g" -eq 0 ] || {
	for p in $(ip netns pids "xsit$$-2"); do echo "$p: $(tr '\0' ' ' < /proc/$p/cmdline)"; done
	fail "$g grant file(s) held after every client ended: $(ls "$XSOCK_LOCAL_DIR"/grant/*)"; }
[ "$e" -eq 0 ] || fail "$e event channel(s) held after every client ended"
say "grants, event channels held with the daemon idle: $g, $e"

say "PASS"
