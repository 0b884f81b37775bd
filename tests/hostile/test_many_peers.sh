#!/bin/bash
# SPDX-License-Identifier: MIT
# Attack 7b: a domain with more than 63 registered peers cannot advertise.
#
# Domain 2 registers 70 peer domains (3..72, addresses 10.78.0.<d>) and
# runs an unmodified echo server (victim.py echo) under the shim. The
# listener gave every registered domain read access to one node,
# listen/<port> (one permission entry each, up to 65), but
# xsp_store_set_perms() takes at most 64 entries (and xenstored lets a
# domain U name 5): with 64 peers or more the advertisement failed, and no
# peer (the 70th included) got a ring.
#
# Asserts: a client in domain 72 (the 70th registered peer; in its own
# namespace, XSOCK_FALLBACK=0) is served: 100 kB echoed, checksummed; each
# registered domain has its own advertisement (listen/<port>-<d>, 70 of
# them) and the legacy listen/<port> names nobody but domain 2 (70 do not
# fit); once domain 72 is taken out of the registry, its advertisement is
# gone (a shrinking registry leaves no removed peer with read access).
# Before the fix (issue 19): "listen/7772 permission entries 1; peer
# number 70 (dom72): connect=ECONNREFUSED".
# Since: "per-domain advertisements 70, legacy permission entries 1; peer
# number 70 (dom72): checksum=ok; after peer del: dom72's advertisement
# gone".
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
per=$(cd "$ST/2/data/xsock/listen" && ls -d "$PORT"-* 2>/dev/null | wc -l)
ip netns exec "xsit$$-1" env XSOCK_DOMID=$LAST LD_PRELOAD="$PRELOAD" timeout 20 \
	/usr/bin/python3 "$VICTIM" echo-client 10.77.0.2 $PORT 100000 >"$WORK/c.out" 2>&1
res=$(grep -o -E 'checksum=[a-zA-Z]+|connect=[A-Z]+' "$WORK/c.out")
# The last peer out of the registry: its advertisement goes.
ctl 2 peer del "10.78.0.$LAST" >/dev/null || fail "peer del $LAST in dom2"
n=0
while [ -e "$ST/2/data/xsock/listen/$PORT-$LAST" ] && [ $n -lt 100 ]; do
	n=$((n + 1))
	sleep 0.05
done
[ -e "$ST/2/data/xsock/listen/$PORT-$LAST" ] && del=kept || del=gone
fig="$NPEERS registered peers: per-domain advertisements ${per:-none}, legacy permission"
fig="$fig entries ${adv:-none}; peer number $NPEERS (dom$LAST): ${res:-no result};"
fig="$fig after peer del: dom$LAST's advertisement $del"
[ "$res" = checksum=ok ] || fail "$fig"
[ "$per" = "$NPEERS" ] || fail "$fig: want one advertisement per registered domain"
[ "$adv" = 1 ] || fail "$fig: want the legacy node readable by domain 2 only"
[ "$del" = gone ] || fail "$fig: a removed peer keeps its advertisement"
say "$fig"
say "PASS"
