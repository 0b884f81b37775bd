#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile peer, attack 4: the listener's bound address is ignored.
#
# An unmodified echo server (victim.py echo) under the shim in domain 2
# binds 10.77.0.2:PORT only (the address is added to domain 2's lo). The
# store advertises listen/<port> by port alone and the acceptor takes the
# client's daddr for the accepted socket's local address (conn.c offer()),
# so a request for any other address of domain 2 (an honest client whose
# registry maps 10.77.0.3 to domain 2: victim.py connect), or for any
# address at all (xsock-hostile connect --addr 10.99.9.9, daddr=10.99.9.9),
# reaches the listener, and getsockname() on the accepted socket reports
# the address the client chose.
#
# Asserts: a client of 10.77.0.2 is served (control); connect() to
# 10.77.0.3 fails with ECONNREFUSED (XSOCK_FALLBACK=0); the attacker's
# daddr=10.99.9.9 is refused (ECONNREFUSED, or ENOENT: not answered as no
# listener is); a raw request for 10.99.9.9 that skips the advertisement
# (what an older or hostile client sends: xsock-hostile stall) is refused
# by the server itself with ECONNREFUSED, never acknowledged; every socket
# the server accepted has getsockname() = 10.77.0.2:PORT.
# Before the fix (issue 19): both connected, and the server's accepted
# sockets said 10.77.0.3 and 10.99.9.9.
# Since (per-address advertisements, listen/<port>-<C>-<addr key>):
# "10.77.0.3: ECONNREFUSED; daddr 10.99.9.9: ENOENT; raw request: refused
# (ECONNREFUSED); accepted local addresses: 10.77.0.2:PORT(x1)".
. "$(dirname "$0")/hlib.sh"
need_hostile
setup_domains 2
tag_all 2
store_dir
export XSOCK_FALLBACK=0
PORT=7741
ip -n "xsit$$-2" addr add 10.77.0.2/32 dev lo || fail "cannot add 10.77.0.2 to domain 2"
ctl 1 peer add 10.77.0.3 2 >/dev/null || fail "peer add in dom1"

shim 2 /usr/bin/python3 "$VICTIM" echo $PORT 10.77.0.2 >"$WORK/srv.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/srv.out" listening 10 || { cat "$WORK/srv.out"; fail "no server"; }
shim 1 timeout 20 /usr/bin/python3 "$VICTIM" echo-client 10.77.0.2 $PORT 100000 \
	>"$WORK/good.out" 2>&1
good=$(grep -o 'checksum=[a-zA-Z]*' "$WORK/good.out")
shim 1 timeout 20 /usr/bin/python3 "$VICTIM" connect 10.77.0.3 $PORT >"$WORK/c.out" 2>&1
other=$(sed -n 's/^connect: result=//p' "$WORK/c.out")
dom 1 timeout 20 "$HOSTILE" connect --peer 2 --addr 10.99.9.9 --port $PORT >"$WORK/a.out" 2>&1
hostile=$(sed -n 's/^connect: .*result=\([^ ]*\).*/\1/p' "$WORK/a.out")
dom 1 timeout 20 "$HOSTILE" stall --peer 2 --addr 10.99.9.9 --port $PORT --real 1 --secs 2 \
	>"$WORK/s.out" 2>&1
raw=$(sed -n 's/^stall: .*acked=\([0-9]*\) .*refused=\([0-9]*\) (\([^)]*\)).*/acked=\1 refused=\2 (\3)/p' \
	"$WORK/s.out")
sleep 0.3
locals=$(sed -n 's/^accepted .*local=//p' "$WORK/srv.out" | sort | uniq -c |
	awk '{print $2 "(x" $1 ")"}' | xargs)
fig="10.77.0.2: ${good:-none}; 10.77.0.3: ${other:-none}; daddr 10.99.9.9: ${hostile:-none};"
fig="$fig raw request: ${raw:-none}; accepted local addresses: ${locals:-none}"
[ "$good" = checksum=ok ] || { cat "$WORK/good.out"; fail "$fig: the bound address is not served"; }
[ "$other" = ECONNREFUSED ] || fail "$fig: want ECONNREFUSED for 10.77.0.3"
case "$hostile" in ECONNREFUSED | ENOENT) ;; *) fail "$fig: want daddr 10.99.9.9 refused" ;; esac
[ "$raw" = "acked=0 refused=1 (ECONNREFUSED)" ] || { cat "$WORK/s.out"; fail "$fig: want the raw request refused"; }
[ "$locals" = "10.77.0.2:$PORT(x1)" ] || fail "$fig: want 10.77.0.2:$PORT only"
say "$fig"
say "PASS"
