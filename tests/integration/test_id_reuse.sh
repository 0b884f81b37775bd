#!/bin/bash
# SPDX-License-Identifier: MIT
# Domain ids are reused (issue 19 item 9), by id only (no names): alpha (1)
# and domain 0 register gamma (3) by id; gamma is destroyed and another
# domain, intruder, is created with id 3. Neither alpha nor domain 0 may
# reach intruder (EHOSTUNREACH), and alpha's listener, running since gamma
# was there, must refuse it (ECONNREFUSED); nothing arrives on either side.
# Before entries were bound to identities, all three connected
# (intruder received 2 lines, alpha 1). XSOCK_FALLBACK=0.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
need_prog python3
setup_domains 4
export XSOCK_FALLBACK=0

ns_do() {
	local ns=$1 d=$2
	shift 2
	ip netns exec "xsit$$-$ns" env XSOCK_DOMID="$d" "$@"
}
d0() { ns_do 4 0 "$XSOCKCTL" "$@"; }
ctl_in() { local d=$1; shift; XSOCK_DOMID=$d "$XSOCKCTL" "$@"; }
dial() {
	ns_do "$1" "$2" env LD_PRELOAD="$PRELOAD" timeout 20 python3 -c '
import errno, socket, sys
s = socket.socket()
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.sendall(b"intruder was here\n")
    s.close()
    print("CONNECTED")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$3" "$4"
}
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

for a in 1 3 4; do ip -n "xsit$$-$a" addr add "10.77.0.$a/32" dev lo; done
d0 domain create alpha --domid 1 >/dev/null || fail "domain create alpha"
d0 domain create gamma --domid 3 >/dev/null || fail "domain create gamma"
echo 'allow * *' >"$WORK/policy"
# alpha learns gamma's identity from domain 0's directory (a build
# without `discover` just has none: its entries stay plain ids)
d0 discover --once --policy "$WORK/policy" >/dev/null 2>&1
ctl_in 1 peer add 10.77.0.3 3 || fail "peer add in alpha"
ctl_in 0 peer add 10.77.0.3 3 || fail "peer add in domain 0"
ctl_in 3 peer add 10.77.0.1 1 || fail "peer add in gamma"
ns_do 1 1 env LD_PRELOAD="$PRELOAD" socat TCP-LISTEN:7010,fork,reuseaddr \
	SYSTEM:"cat >>$WORK/alpha.got" &
PIDS+=($!)
wait_listen 1 7010

d0 domain destroy gamma || fail "domain destroy gamma"
d0 domain create intruder --domid 3 >/dev/null || fail "domain create intruder"
d0 discover --once --policy "$WORK/policy" >/dev/null 2>&1
ctl_in 3 peer add 10.77.0.1 1 || fail "peer add in intruder"
ctl_in 3 peer add 10.77.0.4 0 || fail "peer add in intruder"
ns_do 3 3 env LD_PRELOAD="$PRELOAD" socat -u TCP-LISTEN:7040,fork,reuseaddr \
	OPEN:"$WORK/intruder.got",creat,append &
PIDS+=($!)
wait_listen 3 7040
sleep 0.3	# a running shim reads its registry every 250 ms
r1=$(dial 1 1 10.77.0.3 7040)
r0=$(dial 4 0 10.77.0.3 7040)
r3=$(dial 3 3 10.77.0.1 7010)
sleep 0.5
say "alpha -> intruder: $r1; domain 0 -> intruder: $r0; intruder -> alpha: $r3;" \
	"intruder received $(lines "$WORK/intruder.got") line(s), alpha $(lines "$WORK/alpha.got")"
[ "$r1" = EHOSTUNREACH ] || fail "alpha -> intruder: $r1, want EHOSTUNREACH"
[ "$r0" = EHOSTUNREACH ] || fail "domain 0 -> intruder: $r0, want EHOSTUNREACH"
[ "$r3" = ECONNREFUSED ] || fail "intruder -> alpha: $r3, want ECONNREFUSED"
[ "$(lines "$WORK/intruder.got")" = 0 ] && [ "$(lines "$WORK/alpha.got")" = 0 ] ||
	fail "data crossed"
say "PASS"
