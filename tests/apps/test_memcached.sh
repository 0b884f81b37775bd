#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmodified memcached across two isolated domains: a python3 client
# speaking the text protocol stores 200 values (1 B .. 512 KiB) and reads
# them back byte for byte, then times small get round trips; memcslap
# (libmemcached-tools) sets 100000 keys from 50 threads, and the server's
# own counters must show every one. Then the same over TCP loopback.
. "$(dirname "$0")/applib.sh"
setup_apps
need_app memcached memcached
need_app memcslap libmemcached-tools
PY3=/usr/bin/python3; [ -x $PY3 ] || skip "python3 not installed (apt-get install python3)"
PORT=7641
PYC="$(dirname "$0")/mc_client.py"
# Keys in the multi-get: memcached answers with ~3 iovecs per key in one
# sendmsg(); test_memcached_multiget.sh asks for more than the shim takes.
NMULTI=${NMULTI:-10}

# stat NAME: one counter from the server's "stats".
stat() {
	$CLI timeout 10 $PY3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"stats\r\nquit\r\n")
buf = b""
while not buf.endswith(b"END\r\n"):
    d = s.recv(65536)
    if not d: break
    buf += d
for l in buf.decode().splitlines():
    p = l.split()
    if len(p) == 3 and p[1] == sys.argv[3]: print(p[2])
' "$HOST" $PORT "$1"
}

run_mode() {
	local srv out before after rtt t dt
	use_mode "$1"
	$SRV memcached -u root -l 0.0.0.0 -p $PORT -U 0 -t 2 -m 256 -I 1m \
		>"$WORK/server.$MODE.log" 2>&1 &
	srv=$!
	PIDS+=($srv)
	wait_server $PORT $srv
	out=$WORK/py.$MODE
	$CLI timeout 40 $PY3 "$PYC" "$HOST" $PORT "$NMULTI" >"$out" 2>&1 ||
		{ cat "$out"; fail "$MODE: python3 memcached client failed"; }
	grep -q '^ok 200 values' "$out" || { cat "$out"; fail "$MODE: client did not check 200 values"; }
	rtt=$(sed -n 's/^rtt //p' "$out")
	eval "RTT_$MODE=\"$rtt us\""

	before=$(stat cmd_set)
	[ -n "$before" ] || fail "$MODE: no stats from memcached"
	out=$WORK/slap.$MODE
	t=$(date +%s.%N)
	$CLI timeout 40 memcslap --servers="$HOST:$PORT" --concurrency=50 --execute-number=2000 \
		--test=set >"$out" 2>&1 || { cat "$out"; fail "$MODE: memcslap failed"; }
	dt=$(elapsed "$t")
	grep -qi 'error\|fail' "$out" && { cat "$out"; fail "$MODE: memcslap reported errors"; }
	after=$(stat cmd_set)
	[ "$((after - before))" -ge 100000 ] ||
		{ cat "$out"; fail "$MODE: server counted $((after - before)) sets, not 100000"; }
	t=$(sed -n 's/.*Time to set .* \([0-9.]*\) seconds.*/\1/p' "$out")
	eval "SLAP_$MODE=\"$(echo "100000 / $t" | bc) set/s\""
	say "$MODE: 200 values intact, get rtt $rtt us, memcslap 100000 sets in $t s"
	stop $srv
	return 0
}

run_mode xsock
run_mode tcp
row "python3 get round trip" "$RTT_xsock" "$RTT_tcp"
row "memcslap -c 50 set" "$SLAP_xsock" "$SLAP_tcp"
print_table
say "PASS"
