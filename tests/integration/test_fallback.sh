#!/bin/bash
# SPDX-License-Identifier: MIT
# Fallback and refusal:
#  - a tagged peer with no xsock listener: connect() falls back to TCP
#    (XSOCK_FALLBACK unset) and the data arrives over a veth link;
#  - the same with XSOCK_FALLBACK=0: ECONNREFUSED;
#  - a domain the server has not registered: refused, nothing delivered;
#  - a listener that never answers: ETIMEDOUT;
#  - a server out of grants: that client falls back to TCP;
#  - a client out of store quota: TCP, or ENOBUFS without fallback.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
setup_domains 3
tag_all 2
# a real TCP path between domains 1 and 2 only
ip link add "xsv$$a" netns "xsit$$-1" type veth peer name "xsv$$b" netns "xsit$$-2" ||
	fail "veth"
ip -n "xsit$$-1" addr add 10.77.0.1/24 dev "xsv$$a"
ip -n "xsit$$-2" addr add 10.77.0.2/24 dev "xsv$$b"
ip -n "xsit$$-1" link set "xsv$$a" up
ip -n "xsit$$-2" link set "xsv$$b" up

echo "over tcp $$" >"$WORK/msg"

# 1. plain TCP server (no shim) in dom2; shim client in dom1 falls back.
dom 2 socat -u TCP-LISTEN:7101,reuseaddr OPEN:"$WORK/out1",creat,trunc &
PIDS+=($!)
sleep 0.3
timeout 20 ip netns exec "xsit$$-1" env -u XSOCK_FALLBACK XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
	socat -u OPEN:"$WORK/msg" TCP:10.77.0.2:7101 || fail "fallback to TCP did not connect"
wait "${PIDS[0]}"
cmp -s "$WORK/msg" "$WORK/out1" || fail "fallback: data differs"
say "no ring listener, XSOCK_FALLBACK unset: fell back to TCP, data intact"

# 2. the same with XSOCK_FALLBACK=0: refused.
dom 2 socat -u TCP-LISTEN:7102,reuseaddr OPEN:"$WORK/out2",creat,trunc &
PIDS+=($!)
sleep 0.3
out=$(timeout 20 ip netns exec "xsit$$-1" env XSOCK_FALLBACK=0 XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
	socat -u OPEN:"$WORK/msg" TCP:10.77.0.2:7102 2>&1) && fail "XSOCK_FALLBACK=0 connected anyway"
echo "$out" | grep -q "Connection refused" || fail "XSOCK_FALLBACK=0: expected ECONNREFUSED, got: $out"
say "no ring listener, XSOCK_FALLBACK=0: ECONNREFUSED"

# 3. dom3 tags dom2's address, but dom2 never registered dom3.
ctl 3 peer add 10.77.0.2 2 >/dev/null || fail "peer add in dom3"
shim 2 socat -u TCP-LISTEN:7103,reuseaddr OPEN:"$WORK/out3",creat,trunc &
PIDS+=($!)
wait_listen 2 7103
out=$(timeout 20 ip netns exec "xsit$$-3" env XSOCK_FALLBACK=0 XSOCK_DOMID=3 LD_PRELOAD="$PRELOAD" \
	socat -u OPEN:"$WORK/msg" TCP:10.77.0.2:7103 2>&1) && fail "unregistered dom3 connected"
echo "$out" | grep -q "Connection refused" || fail "unregistered domain: expected ECONNREFUSED, got: $out"
[ ! -s "$WORK/out3" ] || fail "unregistered domain delivered data"
say "unregistered domain 3: ECONNREFUSED, nothing delivered"

# 4. a listener that never answers (stopped): ETIMEDOUT. (A stopped listener
#    does not acknowledge either, which by default reads as a dead one and is
#    refused after XSOCK_LISTENER_ACK_MS, see test_listener_death.sh; with the
#    bound above the connect timeout, the timeout is what remains.)
# (Match our own $WORK: other test runs on this host listen on 7103 too.)
srv=$(pgrep -f "socat -u TCP-LISTEN:7103,reuseaddr OPEN:$WORK/out3" | head -1)
[ -n "$srv" ] || fail "listener on 7103 is gone"
kill -STOP "$srv"
t=$(date +%s.%N)
out=$(timeout 20 ip netns exec "xsit$$-1" env XSOCK_FALLBACK=0 XSOCK_CONNECT_TIMEOUT_MS=1000 \
	XSOCK_LISTENER_ACK_MS=2000 XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
	socat -u OPEN:"$WORK/msg" TCP:10.77.0.2:7103 2>&1) &&
	fail "connected to a stopped listener"
kill -CONT "$srv"
echo "$out" | grep -q "timed out" || fail "stopped listener: expected ETIMEDOUT, got: $out"
say "listener never answers: ETIMEDOUT after $(elapsed "$t")s"

# 5. a server out of grants (XSOCK_GRANT_LIMIT=40: one ring of order 5
#    takes 33) refuses the second ring; that client falls back to TCP.
XSOCK_GRANT_LIMIT=40 shim 2 ncat -l -k 7105 --recv-only >"$WORK/out5" &
PIDS+=($!)
wait_listen 2 7105
(echo first; sleep 3) | ip netns exec "xsit$$-1" env -u XSOCK_FALLBACK XSOCK_DOMID=1 \
	LD_PRELOAD="$PRELOAD" socat -u STDIN TCP:10.77.0.2:7105 &
PIDS+=($!)
sleep 0.5
ctl 1 status | grep -q "client 2 .* 7105 " || fail "first client is not on a ring: $(ctl 1 status)"
echo second | timeout 20 ip netns exec "xsit$$-1" env -u XSOCK_FALLBACK XSOCK_DOMID=1 \
	XSOCK_DEBUG=3 XSOCK_LOG="$WORK/log5" LD_PRELOAD="$PRELOAD" socat -u STDIN TCP:10.77.0.2:7105 ||
	fail "second client failed instead of falling back"
grep -q "refused the ring: No space left on device" "$WORK/log5" || fail "no log line for the refusal"
[ "$(ctl 1 status | grep -c " 7105 ")" = 1 ] || fail "second client got a ring after all"
n=0
until grep -q second "$WORK/out5" && grep -q first "$WORK/out5"; do
	n=$((n + 1)); [ $n -gt 50 ] && fail "server did not get both: $(cat "$WORK/out5")"; sleep 0.1
done
say "grants exhausted: the next client fell back to TCP (logged), both delivered"

# 6. the client's own domain out of store quota (it cannot even write its
#    request): with fallback, TCP (logged); without, ENOBUFS as TCP says
#    when short of buffers (ENOSPC is not a connect() error).
shim 2 socat -u TCP-LISTEN:7106,reuseaddr,fork OPEN:"$WORK/out6",creat,append &
PIDS+=($!)
wait_listen 2 7106
echo quota | timeout 20 ip netns exec "xsit$$-1" env -u XSOCK_FALLBACK XSOCK_DOMID=1 \
	XSOCK_STORE_NODE_QUOTA=1 XSOCK_DEBUG=2 XSOCK_LOG="$WORK/log6" LD_PRELOAD="$PRELOAD" \
	socat -u STDIN TCP:10.77.0.2:7106 || fail "client out of store quota failed instead of falling back"
grep -q "falling back to TCP" "$WORK/log6" || fail "no log line for the fallback: $(cat "$WORK/log6")"
n=0
until grep -q quota "$WORK/out6"; do
	n=$((n + 1)); [ $n -gt 50 ] && fail "quota fallback: nothing delivered"; sleep 0.1
done
out=$(echo x | timeout 20 ip netns exec "xsit$$-1" env XSOCK_FALLBACK=0 XSOCK_DOMID=1 \
	XSOCK_STORE_NODE_QUOTA=1 LD_PRELOAD="$PRELOAD" socat -u STDIN TCP:10.77.0.2:7106 2>&1) &&
	fail "out of store quota with XSOCK_FALLBACK=0 connected anyway"
echo "$out" | grep -q "No buffer space available" || fail "out of store quota: expected ENOBUFS, got: $out"
say "client out of store quota: fell back to TCP (logged); with XSOCK_FALLBACK=0: ENOBUFS"
say "PASS"
