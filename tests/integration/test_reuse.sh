#!/bin/bash
# SPDX-License-Identifier: MIT
# Ring reuse (docs/protocol.md, "Ring reuse"): many short connections from
# one client process to one server process carry each connection on a
# ring parked by an earlier one, through both accept() paths (a blocking
# accept() that waits on the parked rings itself; a non-blocking listener
# under selectors, reached by doorbells). Every connection's data is
# checked end to end (SHA-256 and echo; some leave data unread on either
# side, which the next use must not see). Afterwards nothing is left:
# the server's fds, grants, event channels and store nodes are back to
# what they were, and the client's event thread was not woken for each
# connection (ring reuse needs no wake-up of it) nor kept an fd of a
# closed one. A parked ring whose peer dies is dropped: SIGKILL the
# client and the server's parked rings go within 1 s; SIGKILL the server
# and the client's next connections work against a new server.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog bc
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
PY="$(dirname "$0")/reuse.py"
N=300

grants0=$(count_grants)
ev0=$(count_evtchns)
# Negotiation nodes (requests, answers, doorbells): none once connections
# are up or over. The per-peer directories above them stay by design.
count_neg() {
	find "$XSOCK_LOCAL_DIR/store" -mindepth 1 -type d \( -path '*/req/*/*' -o \
		-path '*/conn/*/*' -o -path '*/bell/*/*' \) 2>/dev/null | wc -l
}

# settled PID FDS: wait (up to 3 s) until server PID has FDS fds, the
# host's grants and event channels are back to the start, and no
# negotiation node is left.
settled() {
	local n
	for n in $(seq 1 60); do
		[ "$(count_fds "$1")" = "$2" ] && [ "$(count_grants)" = "$grants0" ] &&
			[ "$(count_evtchns)" = "$ev0" ] && [ "$(count_neg)" = 0 ] && return 0
		sleep 0.05
	done
	say "server fds $(count_fds "$1") (want $2), grants $(count_grants) (want $grants0)," \
	    "event channels $(count_evtchns) (want $ev0), negotiation nodes $(count_neg) (want 0)"
	return 1
}

# srvpid PORT: the server process itself (shim runs in a subshell).
srvpid() { own_pgrep "reuse.py server $1 "; }

port=7700
for mode in block select; do
	port=$((port + 1))
	shim 2 /usr/bin/python3 "$PY" server $port $mode >"$WORK/srv.$mode" 2>&1 &
	SRV=$!
	PIDS+=($SRV)
	wait_listen 2 $port
	spid=$(srvpid $port)
	fds0=$(count_fds "$spid")
	t=$(date +%s.%N)
	# No sweep (its period, not the connections, would set the event
	# thread's wake-ups below).
	ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" XSOCK_DEBUG=4 \
		XSOCK_SWEEP_MS=60000 \
		XSOCK_LOG="$WORK/cli.$mode.log" timeout 120 /usr/bin/python3 "$PY" client \
		10.77.0.2 $port $N 7 >"$WORK/cli.$mode" 2>&1 ||
		fail "$mode: client failed: $(tail -3 "$WORK/cli.$mode")"
	dt=$(elapsed "$t")
	grep -q "^cycles $N " "$WORK/cli.$mode" || fail "$mode: client said $(cat "$WORK/cli.$mode")"
	reused=$(grep -c 'to dom2: use [0-9]*$' "$WORK/cli.$mode.log")
	negotiated=$(grep -c 'connected (evtchn' "$WORK/cli.$mode.log")
	wakeups=$(awk '{ print $6 }' "$WORK/cli.$mode")
	say "$mode accept: $N connections in ${dt}s, $(cut -d' ' -f4 "$WORK/cli.$mode") bytes" \
	    "checked: $reused on parked rings, $negotiated negotiated;" \
	    "the client's event thread woken $wakeups times"
	[ $((reused + negotiated)) = $N ] || fail "$mode: $reused + $negotiated connections, not $N"
	[ "$reused" -ge $((N * 3 / 4)) ] || fail "$mode: only $reused of $N connections reused a ring"
	# Parking a ring, retiring a closed one, taking a parked one: none
	# of these wakes the event thread each time (docs/performance.md,
	# "Connection set-up"); what wakes it is the peer's data arriving
	# while the application is not waiting for it (0.3-1.0 per
	# connection here, plain and ASan). Until these were mended: 1.9.
	[ -n "$wakeups" ] && [ "$wakeups" -lt $((N * 3 / 2)) ] ||
		fail "$mode: the client's event thread was woken $wakeups times for $N connections"
	# Closed rings the event thread has not yet looked at hold no fd: the
	# client's fds after N connections are those after the fifth.
	cfds=$(awk '{ print $8 }' "$WORK/cli.$mode")
	cfds5=$(awk '{ print $10 }' "$WORK/cli.$mode")
	say "$mode accept: the client's fds: $cfds5 after 5 connections, $cfds after $N"
	[ -n "$cfds" ] && [ "$cfds" -le $((cfds5 + 2)) ] ||
		fail "$mode: the client's fds grew from $cfds5 to $cfds over $N connections"
	grep -q 'corrupt\|not reusable\|next use lost' "$WORK/cli.$mode.log" &&
		fail "$mode: $(grep -m1 'corrupt\|not reusable\|next use lost' "$WORK/cli.$mode.log")"
	settled "$spid" "$fds0" || fail "$mode: the client's exit left rings behind"
	kill "$spid"
	wait $SRV 2>/dev/null
done

# The client dies with parked rings: the server lets its own go.
port=$((port + 1))
shim 2 /usr/bin/python3 "$PY" server $port block >"$WORK/srv.kill" 2>&1 &
SRV=$!
PIDS+=($SRV)
wait_listen 2 $port
spid=$(srvpid $port)
fds0=$(count_fds "$spid")
ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" XSOCK_REUSE_IDLE_MS=60000 \
	/usr/bin/python3 "$PY" client 10.77.0.2 $port 50 8 "$WORK/never" >"$WORK/cli.kill" 2>&1 &
CLI=$!
PIDS+=($CLI)
for n in $(seq 1 600); do grep -q '^cycles 50 ' "$WORK/cli.kill" && break; sleep 0.05; done
grep -q '^cycles 50 ' "$WORK/cli.kill" || fail "client before the kill: $(cat "$WORK/cli.kill")"
held=$(count_fds "$spid")
[ "$held" -gt "$fds0" ] || fail "the server holds no parked ring ($held fds, $fds0 before)"
kill -KILL $CLI
t=$(date +%s.%N)
for n in $(seq 1 100); do [ "$(count_fds "$spid")" = "$fds0" ] && break; sleep 0.01; done
dt=$(elapsed "$t")
say "client SIGKILLed holding parked rings: server fds $held -> $(count_fds "$spid") in ${dt}s"
[ "$(count_fds "$spid")" = "$fds0" ] || fail "the server kept the dead client's rings"
[ "$(echo "$dt < 1" | bc)" = 1 ] || fail "the server took ${dt}s to let the rings go"

# The server dies while the client holds parked rings: its next
# connections go to a new server, every one of them intact.
ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" XSOCK_REUSE_IDLE_MS=60000 \
	XSOCK_DEBUG=4 XSOCK_LOG="$WORK/cli.srvkill.log" \
	/usr/bin/python3 "$PY" client 10.77.0.2 $port 50 9 "$WORK/go" >"$WORK/cli.srvkill" 2>&1 &
CLI=$!
PIDS+=($CLI)
for n in $(seq 1 600); do grep -q '^cycles 50 ' "$WORK/cli.srvkill" && break; sleep 0.05; done
grep -q '^cycles 50 ' "$WORK/cli.srvkill" || fail "client before the server's death: $(cat "$WORK/cli.srvkill")"
kill -KILL "$(srvpid $port)"
wait $SRV 2>/dev/null
shim 2 /usr/bin/python3 "$PY" server $port block >"$WORK/srv.new" 2>&1 &
SRV=$!
PIDS+=($SRV)
wait_listen 2 $port
touch "$WORK/go"
wait $CLI || fail "client after the server's death: $(tail -3 "$WORK/cli.srvkill")"
grep -q '^cycles 100 ' "$WORK/cli.srvkill" || fail "client said $(cat "$WORK/cli.srvkill")"
say "server SIGKILLed under the client's parked rings: the next 50 connections went to the new" \
    "server, all intact ($(grep -c 'parked ring .* closed' "$WORK/cli.srvkill.log") parked rings dropped)"
say "PASS"
