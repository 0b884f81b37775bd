#!/bin/bash
# SPDX-License-Identifier: MIT
# A peer *domain* that dies (docs/protocol.md, "Dead domains"). On Xen a
# destroyed domain says nothing: no unmap notification, no event; only
# the toolstack's removal of its home from the store shows it. Emulated
# here as exactly that: every process of domain 2 is stopped (SIGSTOP: it
# keeps its channels and pages, and fires nothing) and `xsockctl domain
# destroy 2` removes its home. Domain 1 then has, at that instant:
#   - a reader blocked in recv() after 1 MiB arrived (side B),
#   - a writer blocked in send() on a full ring (side B),
#   - a connect() acknowledged by a listener that never accepts,
#   - a server blocked in recv() on a client of domain 2 (side A),
#   - a listener blocked in accept() on an offer to a client of domain 2
#     that stopped before attaching (XSOCK_FAULT=stop-before-attach),
#   - a client whose only ring, closed, is parked for reuse.
# Each must end within 1 s of the destroy: the reader with the 1 MiB
# (sha256 checked) and then end of stream, the writer with EPIPE or
# ECONNRESET, the connect() with ECONNREFUSED, the server with the 1000
# bytes and end of stream; and while they still hold their sockets, none
# of them, nor the parked ring's client, may map a page domain 2 granted
# (grant/1/ files in /proc/PID/maps): a dead domain's memory must not stay
# pinned. The
# listener must drop the half-done offer and serve a client of domain 3
# (connect, 6 bytes, close) within 1 s of the destroy.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog bc
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 3
XSOCK_DOMID=0 "$XSOCKCTL" domain create survivor --domid 1 >/dev/null || fail "domain create 1"
XSOCK_DOMID=0 "$XSOCKCTL" domain create doomed --domid 2 >/dev/null || fail "domain create 2"
XSOCK_DOMID=0 "$XSOCKCTL" domain create bystander --domid 3 >/dev/null || fail "domain create 3"
tag_all 3
export XSOCK_FALLBACK=0 XSOCK_CONNECT_TIMEOUT_MS=20000 XSOCK_ACCEPT_TIMEOUT_MS=20000
export HOLD=3
PY="$(dirname "$0")/deadpeer.py"

for m in send:7701 sink:7702 noaccept:7703 loop:7706; do
	shim 2 /usr/bin/python3 "$PY" server "${m#*:}" "${m%:*}" >"$WORK/s${m#*:}.out" 2>&1 &
	PIDS+=($!)
done
shim 1 /usr/bin/python3 "$PY" server 7704 recv >"$WORK/s7704.out" 2>&1 &
SRV1=$!
PIDS+=($SRV1)
for p in 7701 7702 7703 7706; do wait_listen 2 $p; done
wait_listen 1 7704
# A one-shot listener (socat accepts once) whose accept() takes domain
# 2's half-negotiated client, then must serve domain 3's.
shim 1 socat -u TCP-LISTEN:7705,reuseaddr OPEN:"$WORK/acc.out",creat,trunc >/dev/null 2>&1 &
ACC=$!
PIDS+=($ACC)
wait_listen 1 7705
XSOCK_FAULT=stop-before-attach XSOCK_DEBUG=2 XSOCK_LOG="$WORK/half.log" \
	shim 2 socat -u OPEN:/dev/null TCP:10.77.0.1:7705 >/dev/null 2>&1 &
PIDS+=($!)
wait_line "$WORK/half.log" "stop-before-attach: offer"

shim 1 /usr/bin/python3 "$PY" reader 10.77.0.2 7701 >"$WORK/reader.out" 2>&1 &
RD=$!
shim 1 /usr/bin/python3 "$PY" writer 10.77.0.2 7702 >"$WORK/writer.out" 2>&1 &
WR=$!
shim 2 /usr/bin/python3 "$PY" sendhold 10.77.0.1 7704 >"$WORK/sendhold.out" 2>&1 &
PIDS+=($RD $WR $!)
XSOCK_REUSE_IDLE_MS=60000 shim 1 /usr/bin/python3 "$PY" parker 10.77.0.2 7706 >"$WORK/parker.out" 2>&1 &
PK=$!
PIDS+=($PK)
wait_line "$WORK/reader.out" "^got 1048576"
wait_line "$WORK/parker.out" ^parked
wait_line "$WORK/sendhold.out" ^sent
shim 1 /usr/bin/python3 "$PY" connect 10.77.0.2 7703 >"$WORK/connect.out" 2>&1 &
CN=$!
PIDS+=($CN)
# The writer fills the ring and blocks; the connect() is acknowledged.
sleep 1.5
for f in reader writer connect s7704; do
	grep -q "t=" "$WORK/$f.out" && { cat "$WORK/$f.out"; fail "$f ended before the destroy"; }
done
PRD=$(own_pgrep "deadpeer.py reader")
PWR=$(own_pgrep "deadpeer.py writer")
PPK=$(own_pgrep "deadpeer.py parker")
[ -n "$PRD" ] && [ -n "$PWR" ] && [ -n "$PPK" ] || fail "no reader, writer or parker process"
parked=$(grep -c "/grant/1/" "/proc/$PPK/maps")
[ "$parked" -gt 0 ] || fail "the parker maps nothing of domain 2: its ring is not parked"
before=0
for p in $PRD $PWR; do
	before=$((before + $(grep -c "/grant/1/" "/proc/$p/maps")))
done
[ "$before" -gt 0 ] || { fail "the clients map nothing of domain 2 before the destroy"; }

# Domain 2 dies as Xen's domains do: silently, then its home goes.
for p in $(ip netns pids "xsit$$-2"); do kill -STOP "$p"; done
T0=$(date +%s.%N)
XSOCK_DOMID=0 "$XSOCKCTL" domain destroy 2 || fail "domain destroy 2"
( echo hello | shim 3 socat -u - TCP:10.77.0.1:7705 && date +%s.%N >"$WORK/third.t" ) \
	>"$WORK/third.out" 2>&1 &
TH=$!
for f in reader writer connect s7704; do wait_line "$WORK/$f.out" "t="; done
wait "$TH" || { cat "$WORK/third.out"; fail "domain 3's client of the listener failed"; }
n=0
while [ "$(cat "$WORK/acc.out" 2>/dev/null)" != hello ] && [ $n -lt 100 ]; do
	sleep 0.05; n=$((n + 1))
done
T3=$(echo "$(cat "$WORK/third.t") - $T0" | bc)
say "listener with a half-negotiated offer to domain 2: served domain 3's client" \
	"$T3 s after the destroy ($(wc -c <"$WORK/acc.out") bytes)"
[ "$(cat "$WORK/acc.out")" = hello ] || fail "the listener did not serve domain 3"
[ "$(echo "$T3 < 1.0" | bc)" = 1 ] || fail "domain 3's client took $T3 s (more than 1 s)"

# maps_of PID: lines of PID's mappings of pages granted to domain 1.
sleep 0.2
after=0
for p in $PRD $PWR; do
	after=$((after + $(grep -c "/grant/1/" "/proc/$p/maps" 2>/dev/null)))
done

check() {	# check NAME EXPECTED-REGEX
	local line t dt
	line=$(grep "t=" "$WORK/$1.out")
	t=${line##*t=}
	dt=$(echo "$t - $T0" | bc)
	say "$1: ${line% t=*}, $dt s after the destroy"
	echo "$line" | grep -Eq "$2" || fail "$1: expected /$2/"
	[ "$(echo "$dt < 1.0" | bc)" = 1 ] || fail "$1 took $dt s (more than 1 s)"
}
check reader "^bytes=1048576 sha=172c15dc2e12b50e end=EOF "
check writer "err=(EPIPE|ECONNRESET) "
check connect "^connect=ECONNREFUSED "
check s7704 "^bytes=1000 sha=1e9bc38cbf860b9e end=EOF "
say "mappings of domain 2's pages in the reader and writer: $before before, $after after"
[ "$after" = 0 ] || fail "a dead domain's pages are still mapped"
n=0
while [ "$(grep -c "/grant/1/" "/proc/$PPK/maps")" != 0 ] && [ $n -lt 20 ]; do
	sleep 0.05; n=$((n + 1))
done
T4=$(echo "$(date +%s.%N) - $T0" | bc)
left=$(grep -c "/grant/1/" "/proc/$PPK/maps")
say "the parked ring's client: $parked mappings of domain 2's pages before, $left after ($T4 s)"
[ "$left" = 0 ] || fail "a parked ring keeps a dead domain's pages mapped"
for p in $RD $WR $CN $SRV1 $ACC; do wait "$p"; done
say "PASS"
