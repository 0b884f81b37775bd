#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmodified sockperf across two isolated domains: a TCP server
# (sockperf sr --tcp), a ping-pong latency run (pp) that must lose,
# duplicate and reorder nothing, and a throughput run (tp, 1400-byte
# messages); then the same over plain TCP loopback.
. "$(dirname "$0")/applib.sh"
setup_apps
need_app sockperf sockperf
PORT=7631
SECS=${XSOCK_APPS_SOCKPERF_SECS:-3}

# sockperf colours some lines; keep plain text.
plain() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }

run_mode() {
	local srv out lat p99 rate bw
	use_mode "$1"
	$SRV sockperf sr --tcp -i 0.0.0.0 -p $PORT >"$WORK/server.$MODE.log" 2>&1 &
	srv=$!
	PIDS+=($srv)
	wait_server $PORT $srv

	out=$WORK/pp.$MODE
	# --mps: beyond sockperf's default bookkeeping of 600 k messages/s it
	# stops with "_seqN > m_maxSequenceNo"; a quiet machine gets there.
	$CLI timeout $((SECS + 20)) sockperf pp --tcp -i "$HOST" -p $PORT -t "$SECS" --mps 10000000 \
		>"$out" 2>&1 ||
		{ plain "$out"; fail "$MODE: sockperf pp failed"; }
	grep -qi 'error' "$out" && { plain "$out"; fail "$MODE: sockperf pp reported an error"; }
	plain "$out" | grep -q '# dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0' ||
		{ plain "$out"; fail "$MODE: sockperf pp lost, duplicated or reordered messages"; }
	lat=$(plain "$out" | sed -n 's/.*Summary: Latency is \([0-9.]*\) usec.*/\1/p')
	p99=$(plain "$out" | sed -n 's/.*percentile 99.000 = *\([0-9.]*\).*/\1/p')
	[ -n "$lat" ] || { plain "$out"; fail "$MODE: no latency figure from sockperf pp"; }
	eval "LAT_$MODE=\"$lat us (p99 $p99)\""

	out=$WORK/tp.$MODE
	$CLI timeout $((SECS + 20)) sockperf tp --tcp -i "$HOST" -p $PORT -t "$SECS" -m 1400 >"$out" 2>&1 ||
		{ plain "$out"; fail "$MODE: sockperf tp failed"; }
	grep -qi 'error' "$out" && { plain "$out"; fail "$MODE: sockperf tp reported an error"; }
	rate=$(plain "$out" | sed -n 's/.*Message Rate is \([0-9]*\) .*/\1/p')
	bw=$(plain "$out" | sed -n 's/.*BandWidth is [0-9.]* MBps (\([0-9.]*\) Mbps).*/\1/p')
	[ -n "$rate" ] && [ "$rate" -gt 0 ] || { plain "$out"; fail "$MODE: no message rate from sockperf tp"; }
	eval "RATE_$MODE=\"$rate msg/s\""
	eval "BW_$MODE=\"${bw%.*} Mbit/s\""
	say "$MODE: pp ${lat} us, tp $rate msg/s"
	stop $srv
	grep -qi 'error' "$WORK/server.$MODE.log" &&
		{ plain "$WORK/server.$MODE.log"; fail "$MODE: sockperf server reported an error"; }
	return 0
}

run_mode xsock
run_mode tcp
row "sockperf pp --tcp latency" "$LAT_xsock" "$LAT_tcp"
row "sockperf tp --tcp -m 1400 rate" "$RATE_xsock" "$RATE_tcp"
row "sockperf tp --tcp -m 1400 bw" "$BW_xsock" "$BW_tcp"
print_table
say "PASS"
