#!/bin/bash
# SPDX-License-Identifier: MIT
# 1000 sequential connect/transfer/close cycles (socat clients) against
# one long-running server (ncat -l -k, which select()s on its listener),
# then counts: the server's fds, grants, event
# channels and store nodes must be back where they started.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog ncat
need_prog socat
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
N=${XSOCK_TEST_CYCLES:-1000}

head -c 1000 /dev/urandom >"$WORK/chunk"
for i in $(seq 0 "$N"); do cat "$WORK/chunk"; done >"$WORK/want"	# warm-up + N

shim 2 ncat -l -k 7005 --recv-only >"$WORK/out" &
PIDS+=($!)
wait_listen 2 7005
# One warm-up connection creates the per-peer directories (req/<dom>,
# conn/<dom>) that stay for the domains' lifetime; count from there.
ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
	socat -u OPEN:"$WORK/chunk" TCP:10.77.0.2:7005 || fail "warm-up connection failed"
n=0
while [ "$(stat -c %s "$WORK/out")" -lt 1000 ]; do
	n=$((n + 1)); [ $n -gt 2500 ] && fail "warm-up data did not arrive"; sleep 0.002
done
sleep 0.2
srv=$(own_pgrep "ncat -l -k 7005")
[ -n "$srv" ] || fail "server not running"
fds0=$(count_fds "$srv")
nodes0=$(count_nodes)
grants0=$(count_grants)
ev0=$(count_evtchns)

t=$(date +%s.%N)
timeout 600 ip netns exec "xsit$$-1" env XSOCK_DOMID=1 bash -c '
	for i in $(seq 1 '"$N"'); do
		LD_PRELOAD="'"$PRELOAD"'" socat -u OPEN:"'"$WORK/chunk"'" TCP:10.77.0.2:7005 || exit 1
		# wait until the server has it: keeps the cycles sequential
		n=0; while [ $(stat -c %s "'"$WORK/out"'") -lt $(((i + 1) * 1000)) ]; do
			n=$((n + 1)); [ $n -gt 5000 ] && exit 2; sleep 0.002; done
	done' || fail "a client cycle failed (rc $?) after $(( $(stat -c %s "$WORK/out") / 1000 - 1 )) cycles"
dt=$(elapsed "$t")
cmp -s "$WORK/out" "$WORK/want" || fail "received data differs ($(stat -c %s "$WORK/out") bytes)"
# The last connection's teardown is asynchronous (the listener's event
# thread closes its doorbell end when it sees the acceptor's close): give
# it up to 3 s to settle, then what is left is a leak.
n=0
while :; do
	fds1=$(count_fds "$srv")
	nodes1=$(count_nodes)
	grants1=$(count_grants)
	ev1=$(count_evtchns)
	[ "$fds1$nodes1$grants1$ev1" = "$fds0$nodes0$grants0$ev0" ] && break
	n=$((n + 1))
	[ $n -gt 30 ] && break
	sleep 0.1
done
if [ "$fds1" != "$fds0" ] || [ "$nodes1" != "$nodes0" ]; then
	ls -l "/proc/$srv/fd" | sed 's/^/  fd: /'
	(cd "$XSOCK_LOCAL_DIR/store" && find . -type d | sort) | sed 's/^/  node: /'
fi
say "$N cycles in ${dt}s; server fds $fds0 -> $fds1, grants $grants0 -> $grants1, event channels $ev0 -> $ev1, store nodes $nodes0 -> $nodes1"
[ "$fds1" = "$fds0" ] || fail "server leaked $((fds1 - fds0)) fds"
[ "$grants1" = "$grants0" ] || fail "leaked $((grants1 - grants0)) grants"
[ "$ev1" = "$ev0" ] || fail "leaked $((ev1 - ev0)) event channels"
[ "$nodes1" = "$nodes0" ] || fail "leaked $((nodes1 - nodes0)) store nodes"
say "PASS"
