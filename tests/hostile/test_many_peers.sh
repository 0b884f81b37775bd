#!/bin/bash
# SPDX-License-Identifier: MIT
# Attack 7b: a domain with more than 63 registered peers cannot advertise.
#
# Domain 2 registers 70 peer domains (3..72, addresses 10.78.0.<d>) and
# runs an unmodified echo server (victim.py echo) under the shim. The
# listener gives every registered domain read access to listen/<port>
# (conn.c listener_advertise(): one permission entry each, up to 65), but
# xsp_store_set_perms() takes at most 64 entries: with 64 peers or more
# the advertisement fails, and no peer (the 70th included) gets a ring.
#
# Asserts: a client in domain 72 (the 70th registered peer; in its own
# namespace, XSOCK_FALLBACK=0) is served: 100 kB echoed, checksummed.
# Today: connect() fails with ECONNREFUSED (nothing advertised to it).
# Once fixed: "the 70th peer: checksum ok".
. "$(dirname "$0")/hlib.sh"
need_hostile
setup_domains 2
store_dir
export XSOCK_FALLBACK=0
PORT=7772
NPEERS=${XSOCK_HOSTILE_PEERS:-70}
LAST=$((NPEERS + 2))

for d in $(seq 3 $LAST); do
	ctl 2 peer add "10.78.0.$d" "$d" >/dev/null || fail "peer add $d in dom2"
done
ip netns exec "xsit$$-1" env XSOCK_DOMID=$LAST "$XSOCKCTL" peer add 10.77.0.2 2 >/dev/null ||
	fail "peer add in dom$LAST"
shim 2 /usr/bin/python3 "$VICTIM" echo $PORT >"$WORK/srv.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/srv.out" listening 10 || fail "no server"
sleep 1
adv=$([ -e "$ST/2/data/xsock/listen/$PORT/.v" ] && cat "$ST/2/data/xsock/listen/$PORT/.p" 2>/dev/null | wc -w)
ip netns exec "xsit$$-1" env XSOCK_DOMID=$LAST LD_PRELOAD="$PRELOAD" timeout 20 \
	/usr/bin/python3 "$VICTIM" echo-client 10.77.0.2 $PORT 100000 >"$WORK/c.out" 2>&1
res=$(grep -o -E 'checksum=[a-zA-Z]+|connect=[A-Z]+' "$WORK/c.out")
fig="$NPEERS registered peers: listen/$PORT permission entries ${adv:-none};"
fig="$fig peer number $NPEERS (dom$LAST): ${res:-no result}"
[ "$res" = checksum=ok ] || fail "$fig"
say "$fig"
say "PASS"
