#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmodified redis-server and redis-benchmark / redis-cli across two
# isolated domains: redis-benchmark with 50 clients, SET and GET, without
# and with pipelining (-P 16), must finish every request with no error
# (and the server must have counted them all); redis-cli stores values of
# up to 1 MiB and reads them back byte for byte; an idle connected client
# costs neither side any CPU. The same run over plain
# TCP loopback gives the figures to compare with.
. "$(dirname "$0")/applib.sh"
setup_apps
need_app redis-server redis-server
need_app redis-benchmark redis-tools
need_app redis-cli redis-tools
PORT=7601
N=${XSOCK_APPS_REDIS_N:-100000}

for sz in 1 100 4096 65536 1048576; do
	head -c "$sz" /dev/urandom >"$WORK/val$sz"
done

# bench LABEL ARGS...: one redis-benchmark run, checked, figures recorded.
bench() {
	local label=$1 out=$WORK/bench.$MODE.$1 rps lat t
	shift
	$CLI timeout 40 redis-benchmark -h "$HOST" -p $PORT -c 50 -n "$N" -t set,get --csv "$@" \
		>"$out" 2>"$out.err" || { cat "$out" "$out.err"; fail "$MODE: redis-benchmark $label failed (rc $?)"; }
	grep -qi 'error' "$out" "$out.err" && { cat "$out" "$out.err"; fail "$MODE: redis-benchmark $label reported errors"; }
	for t in SET GET; do
		rps=$(awk -F'"' -v t="$t" '$2 == t {print $4}' "$out")
		lat=$(awk -F'"' -v t="$t" '$2 == t {print $6}' "$out")
		[ -n "$rps" ] || { cat "$out" "$out.err"; fail "$MODE: no $t result from redis-benchmark $label"; }
		eval "R_${MODE}_${label}_$t='${rps%.*} req/s, avg ${lat} ms'"
	done
}

# CPU time (clock ticks, all threads) a process has used.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }

# An idle connected client must cost the server (and itself) nothing:
# both sleep in the kernel, the spin before sleeping is bounded.
idle_check() {
	local rpid cpid ppid s0 c0 s1 c1 hz n
	hz=$(getconf CLK_TCK)
	$CLI timeout 20 python3 -c "
# xsock-idle-client-$$
import socket, sys, time
s = socket.create_connection(('$HOST', $PORT))
s.sendall(b'PING\r\n')
assert s.recv(16).startswith(b'+PONG'), 'no PONG'
print('idle', flush=True)
time.sleep(5)
s.sendall(b'PING\r\n')
assert s.recv(16).startswith(b'+PONG'), 'no PONG after idling'
" >"$WORK/idle.$MODE" 2>&1 &
	cpid=$!
	# Measured from when it idles: its start-up (slow on a loaded
	# machine) is not idling.
	n=0
	until grep -q '^idle' "$WORK/idle.$MODE" 2>/dev/null; do
		n=$((n + 1)); [ $n -gt 200 ] && { cat "$WORK/idle.$MODE"; fail "$MODE: the idle client did not start"; }
		sleep 0.05
	done
	rpid=$(own_pgrep -n redis-server)
	[ -n "$rpid" ] || fail "$MODE: redis-server pid not found"
	ppid=$(own_pgrep -n "xsock-idle-client-$$")
	[ -n "$ppid" ] || fail "$MODE: idle client pid not found"
	s0=$(ticks "$rpid"); c0=$(ticks "$ppid")
	sleep 3
	s1=$(ticks "$rpid"); c1=$(ticks "$ppid")
	wait "$cpid" || { cat "$WORK/idle.$MODE"; fail "$MODE: the idle client failed"; }
	say "$MODE: idle connection for 3 s: redis-server used $((s1 - s0)) ticks, client $((c1 - c0)) ticks (of $((3 * hz)))"
	# redis's own housekeeping (hz 10) stays well under 2%.
	[ $((s1 - s0)) -le $((3 * hz / 50)) ] || fail "$MODE: redis-server burns CPU with an idle client"
	[ $((c1 - c0)) -le $((3 * hz / 50)) ] || fail "$MODE: an idle client burns CPU"
	eval "IDLE_$MODE='server $((s1 - s0)) ticks, client $((c1 - c0)) ticks in 3 s'"
}

run_mode() {
	local srv before after want sz
	use_mode "$1"
	$SRV redis-server --port $PORT --bind 0.0.0.0 --protected-mode no --save '' \
		--appendonly no --daemonize no >"$WORK/server.$MODE.log" 2>&1 &
	srv=$!
	PIDS+=($srv)
	wait_server $PORT $srv
	before=$($CLI timeout 10 redis-cli -h "$HOST" -p $PORT info stats |
		 awk -F: '/^total_commands_processed/ {print $2+0}')
	[ -n "$before" ] || fail "$MODE: redis-cli info failed"

	bench plain
	bench pipe16 -P 16
	after=$($CLI timeout 10 redis-cli -h "$HOST" -p $PORT info stats |
		awk -F: '/^total_commands_processed/ {print $2+0}')
	# Each run: N SETs and N GETs (plus a CONFIG GET per client at most).
	want=$((before + 4 * N))
	[ "$after" -ge "$want" ] || fail "$MODE: server processed $((after - before)) commands, expected >= $((4 * N))"

	for sz in 1 100 4096 65536 1048576; do
		$CLI timeout 10 redis-cli -h "$HOST" -p $PORT -x SET "k$sz" <"$WORK/val$sz" >"$WORK/set.out" 2>&1 ||
			fail "$MODE: redis-cli SET k$sz failed: $(cat "$WORK/set.out")"
		[ "$(cat "$WORK/set.out")" = OK ] || fail "$MODE: SET k$sz said: $(head -c 200 "$WORK/set.out")"
		$CLI timeout 10 redis-cli -h "$HOST" -p $PORT --raw GET "k$sz" >"$WORK/get.out" 2>&1 ||
			fail "$MODE: redis-cli GET k$sz failed"
		# --raw prints the value and a newline.
		{ cat "$WORK/val$sz"; echo; } | cmp -s - "$WORK/get.out" ||
			fail "$MODE: GET k$sz: $(stat -c %s "$WORK/get.out") bytes, not the $sz stored"
		[ "$($CLI timeout 10 redis-cli -h "$HOST" -p $PORT STRLEN "k$sz")" = "$sz" ] ||
			fail "$MODE: STRLEN k$sz wrong"
	done
	say "$MODE: redis-cli: 5 values (1 B .. 1 MiB) stored and read back intact"
	idle_check
	stop $srv
	grep -qi 'error' "$WORK/server.$MODE.log" && { cat "$WORK/server.$MODE.log"; fail "$MODE: redis-server logged errors"; }
	return 0
}

run_mode xsock
run_mode tcp
for l in plain pipe16; do
	for t in SET GET; do
		x="R_xsock_${l}_$t"; c="R_tcp_${l}_$t"
		opt=""; [ $l = pipe16 ] && opt=" -P 16"
		row "redis-benchmark -c 50$opt $t" "${!x}" "${!c}"
	done
done
row "CPU of an idle connection (3 s)" "$IDLE_xsock" "$IDLE_tcp"
print_table
say "PASS"
