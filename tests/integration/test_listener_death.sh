#!/bin/bash
# SPDX-License-Identifier: MIT
# A listener that dies leaves nothing that makes clients hang
# (docs/protocol.md, "Liveness"):
#  - SIGKILL a listening socat in domain 2: its advertisement stays behind;
#  - a client in domain 1 (XSOCK_FALLBACK=0) gets "Connection refused"
#    within the acknowledgement bound, not after XSOCK_CONNECT_TIMEOUT_MS,
#    and withdraws its request;
#  - with fallback allowed the TCP fallback gets the refusal from the
#    kernel (nothing listens on the veth address either);
#  - a new listener on the same port replaces the stale node and serves a
#    ring client; a listener on another port sweeps a dead one's node;
#  - at the end no negotiation node is left, only the per-peer directories.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
need_prog bc
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
# Far longer than the bound we measure: a hang would show.
export XSOCK_CONNECT_TIMEOUT_MS=8000
# A TCP path between the domains, for the fallback case only.
ip link add "xsv$$a" netns "xsit$$-1" type veth peer name "xsv$$b" netns "xsit$$-2" ||
	fail "veth"
ip -n "xsit$$-1" addr add 10.77.0.1/24 dev "xsv$$a"
ip -n "xsit$$-2" addr add 10.77.0.2/24 dev "xsv$$b"
ip -n "xsit$$-1" link set "xsv$$a" up
ip -n "xsit$$-2" link set "xsv$$b" up

ST="$XSOCK_LOCAL_DIR/store/local/domain"
LISTEN="$ST/2/data/xsock/listen"
echo "after the death $$" >"$WORK/msg"
list_nodes() { (cd "$XSOCK_LOCAL_DIR/store" && find . -type d | sort); }
list_nodes >"$WORK/nodes0"

# adv PORT: the advertisement's value ("" if none).
adv() { cat "$LISTEN/$1/.v" 2>/dev/null; }

# start_listener PORT OUT: a shim socat in dom2 receiving into OUT. Sets
# JOB (the background job: a subshell) and SPID (socat itself, as its
# advertisement names it) once PORT is advertised by a new process.
start_listener() {
	local old n=0
	old=$(adv "$1")
	shim 2 socat -u TCP-LISTEN:"$1",reuseaddr OPEN:"$2",creat,trunc &
	JOB=$!
	PIDS+=("$JOB")
	until [ -n "$(adv "$1")" ] && [ "$(adv "$1")" != "$old" ]; do
		n=$((n + 1))
		[ $n -gt 200 ] && fail "port $1 not advertised anew after 10 s"
		sleep 0.05
	done
	SPID=$(adv "$1" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
	[ -n "$SPID" ] && kill -0 "$SPID" || fail "advertisement names no live pid: '$(adv "$1")'"
}

# kill_listener: SIGKILL the socat and reap it (a zombie's pid still exists).
kill_listener() {
	kill -9 "$SPID"
	wait "$JOB" 2>/dev/null
}

# 1. A SIGKILLed listener leaves its advertisement behind.
start_listener 7201 "$WORK/out0"
kill_listener
[ -n "$(adv 7201)" ] || fail "precondition: the killed listener left no advertisement"
say "SIGKILLed listener on 7201 left '$(adv 7201)' behind"

# 2. A ring-only client is refused quickly, and withdraws its request.
t=$(date +%s.%N)
out=$(timeout 20 ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
	socat -u OPEN:"$WORK/msg" TCP:10.77.0.2:7201 2>&1) && fail "connected to a dead listener"
dt=$(elapsed "$t")
echo "$out" | grep -q "Connection refused" || fail "dead listener: expected ECONNREFUSED, got: $out"
[ "$(echo "$dt < 1.5" | bc)" = 1 ] || fail "ECONNREFUSED took ${dt}s (bound 1.5 s)"
left=$(find "$ST/1/data/xsock/req/2" -mindepth 1 -type d 2>/dev/null | wc -l)
[ "$left" = 0 ] || fail "$left request node(s) left behind by the refused client"
say "dead listener, XSOCK_FALLBACK=0: ECONNREFUSED after ${dt}s, request withdrawn"

# 3. With fallback allowed, TCP gets the kernel's refusal (nothing listens).
t=$(date +%s.%N)
out=$(timeout 20 ip netns exec "xsit$$-1" env -u XSOCK_FALLBACK XSOCK_DOMID=1 \
	LD_PRELOAD="$PRELOAD" socat -u OPEN:"$WORK/msg" TCP:10.77.0.2:7201 2>&1) &&
	fail "fallback connected to nothing"
dt=$(elapsed "$t")
echo "$out" | grep -q "Connection refused" || fail "fallback: expected ECONNREFUSED, got: $out"
[ "$(echo "$dt < 1.5" | bc)" = 1 ] || fail "fallback ECONNREFUSED took ${dt}s (bound 1.5 s)"
say "dead listener, fallback allowed: TCP ECONNREFUSED after ${dt}s"

# 4. A new listener on the port takes over and serves a ring client
#    (XSOCK_FALLBACK=0: only the ring can carry the data).
start_listener 7201 "$WORK/out1"
timeout 20 ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
	socat -u OPEN:"$WORK/msg" TCP:10.77.0.2:7201 || fail "ring client of the new listener failed"
wait "$JOB" || fail "new listener failed"
cmp -s "$WORK/msg" "$WORK/out1" || fail "new listener: data differs"
[ -z "$(adv 7201)" ] || fail "advertisement of 7201 left after its listener exited: '$(adv 7201)'"
say "new listener on 7201 served a ring client; its advertisement is gone with it"

# 5. A listener on another port sweeps a dead listener's node.
start_listener 7202 "$WORK/out2"
kill_listener
[ -n "$(adv 7202)" ] || fail "precondition: no stale advertisement on 7202"
start_listener 7203 "$WORK/out3"
[ -z "$(adv 7202)" ] || fail "stale advertisement of 7202 not swept: '$(adv 7202)'"
timeout 20 ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
	socat -u OPEN:"$WORK/msg" TCP:10.77.0.2:7203 || fail "ring client of 7203 failed"
wait "$JOB" || fail "listener on 7203 failed"
cmp -s "$WORK/msg" "$WORK/out3" || fail "7203: data differs"
say "listen() on 7203 swept the dead listener's node of 7202"

# 5b. xsockctl sweep does the same for operators.
start_listener 7204 "$WORK/out4"
kill_listener
[ -n "$(adv 7204)" ] || fail "precondition: no stale advertisement on 7204"
out=$(ctl 2 sweep) || fail "xsockctl sweep failed: $out"
[ -z "$(adv 7204)" ] || fail "xsockctl sweep left the advertisement of 7204"
echo "$out" | grep -q "^removed 1 stale listener advertisement$" || fail "xsockctl sweep said: $out"
echo "$out" | grep -q "^removed 0 stale connection requests$" || fail "xsockctl sweep said: $out"
say "xsockctl sweep: $out"

# 6. Nothing left but the per-peer directories the protocol keeps.
sleep 0.2
list_nodes >"$WORK/nodes1"
extra=$(comm -13 "$WORK/nodes0" "$WORK/nodes1" |
	grep -Ev '/data/xsock/(listen|bell|req|req/[0-9]+|conn|conn/[0-9]+)$')
[ -z "$extra" ] || fail "store nodes left behind: $extra"
gone=$(comm -23 "$WORK/nodes0" "$WORK/nodes1")
[ -z "$gone" ] || fail "store nodes vanished: $gone"
say "store nodes: $(wc -l <"$WORK/nodes0") before, $(wc -l <"$WORK/nodes1") after" \
	"(the difference is per-peer directories only)"
[ "$(count_grants)" = 0 ] || fail "$(count_grants) grants leaked"
[ "$(count_evtchns)" = 0 ] || fail "$(count_evtchns) event channels leaked"
say "PASS"
