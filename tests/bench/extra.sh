# SPDX-License-Identifier: MIT
# Sourced by run.sh: the rows of issue 18's targets that are not one
# program's run per mode (functions only; run.sh calls them).
#
#   bench_rates  : sockperf ping-pong 64 B at 1,000 and 10,000 messages/s
#                  (idle gaps between requests: the peer sleeps, and each
#                  request is a wake-up), p50 and p99;
#   bench_socat  : the README's demo, unmodified socat with its default
#                  8 KiB blocks moving a file to a file (tmpfs, input warm),
#                  one untimed run of each, then xsock and TCP alternately,
#                  BENCH_SOCAT_RUNS rounds (5), the median of each;
#   bench_pinned : both ends on one CPU (taskset -c 0), where a waiter's spin
#                  can only slow the peer it waits for: sockperf 64 B
#                  ping-pong back to back, and the socat transfer.

bench_rates() {
	local mode mps
	if ! has sockperf; then
		say "sockperf not installed: n/a"
		return
	fi
	SP_SIZE=64 SP_LABEL="64 B" SP_FAM=sockperf_rate
	for mps in 10000 1000; do
		SP_MPS=$mps SP_ROW="_mps$mps" SP_WHAT=" at $mps msg/s"
		for mode in xsock tcp; do
			case_run "sockperf-pp-64-mps$mps" "$mode" start_sockperf client_sockperf_pp ||
				fail_rows "$mode" "$CASE_ERR" \
					"sp_pp_p50_64_mps$mps" "sockperf ping-pong 64 B RTT p50$SP_WHAT" us \
					lower sockperf_rate_p50 64 \
					"sp_pp_p99_64_mps$mps" "sockperf ping-pong 64 B RTT p99$SP_WHAT" us \
					lower sockperf_rate_p99 64
		done
	done
	SP_MPS=10000000 SP_ROW="" SP_WHAT="" SP_FAM=sockperf_pp
}

# ---- socat, file to file --------------------------------------------------------------
SOCAT_MB=${BENCH_SOCAT_MB:-1024}
SOCAT_RUNS=${BENCH_SOCAT_RUNS:-5}
SOCAT_DIR=""

# socat_once MODE LOG: one timed transfer of $SOCAT_DIR/in; the seconds
# (client start to server exit) in SOCAT_SECS, or returns 1 with CASE_ERR.
SOCAT_SECS=""
socat_once() {
	local mode=$1 log=$2 t0 t1 rc
	next_port
	rm -f "$SOCAT_DIR/out"
	start_server "$mode" "$log.srv" socat -u TCP-LISTEN:"$PORT",reuseaddr,bind="$(srv_bind "$mode")" \
		OPEN:"$SOCAT_DIR/out",creat,trunc
	if ! wait_ready "$mode" "$PORT"; then
		CASE_ERR="server did not start: $(errline "$log.srv")"
		stop_server
		return 1
	fi
	t0=$(date +%s.%N)
	run_client "$mode" "$log" 120 socat -u OPEN:"$SOCAT_DIR/in" TCP:"$(host_of "$mode")":"$PORT"
	rc=$?
	wait "$SRV"
	t1=$(date +%s.%N)
	SRV=""
	if [ $rc != 0 ]; then
		CASE_ERR="rc=$rc: $(errline "$log")"
		return 1
	fi
	if ! cmp -s "$SOCAT_DIR/in" "$SOCAT_DIR/out"; then
		CASE_ERR="output differs from input"
		return 1
	fi
	SOCAT_SECS=$(echo "$t1 $t0" | awk '{printf "%.4f\n", $1 - $2}')
}

median_of() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
	if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# socat_rows ROW LABEL MIB RUNS: xsock and TCP alternately (odd rounds xsock
# first), RUNS rounds; records the median rate of each.
socat_rows() {
	local row=$1 label=$2 mib=$3 runs=$4 i mode m err
	local -A t=([xsock]="" [tcp]="") bad=()
	head -c "${mib}M" "$SOCAT_DIR/src" >"$SOCAT_DIR/in"
	cat "$SOCAT_DIR/in" >/dev/null	# warm
	# One untimed run of each mode first: the step's first transfer writes
	# its output into memory the guest has not touched for a while (or
	# handed back to the host), which cost it 2-5x (1.8-3.7 s against
	# 0.65-1.0 for the next ones, 2026-12-07) whichever mode it was.
	for mode in xsock tcp; do
		say "  [$mode] $row warm-up (untimed)"
		socat_once "$mode" "$LOGS/$row.$mode.warm.log" || bad[$mode]=${CASE_ERR:-failed}
	done
	for ((i = 1; i <= runs; i++)); do
		for m in xsock tcp; do
			mode=$m
			((i % 2)) || mode=$([ $m = xsock ] && echo tcp || echo xsock)
			[ -n "${bad[$mode]:-}" ] && continue
			say "  [$mode] $row round $i"
			if socat_once "$mode" "$LOGS/$row.$mode.$i.log"; then
				t[$mode]+=" $SOCAT_SECS"
			else
				bad[$mode]=${CASE_ERR:-failed}
			fi
		done
	done
	for mode in xsock tcp; do
		if [ -n "${bad[$mode]:-}" ]; then
			err=${bad[$mode]}
			record "$row" "$label" "$mode" "" Gbit/s higher FAIL "$err" socat "$mib"
			continue
		fi
		# shellcheck disable=SC2086
		m=$(median_of ${t[$mode]})
		record "$row" "$label" "$mode" \
			"$(awk -v s="$m" -v n="$mib" 'BEGIN {printf "%.3f", n * 8 * 1.048576 / s / 1000}')" \
			Gbit/s higher ok "" socat "$mib"
		say "  [$mode] $row: seconds${t[$mode]}"
	done
	record "$row" "$label" unix "" Gbit/s higher n/a "not measured over UNIX sockets" socat "$mib"
}

bench_socat() {
	local mib=$SOCAT_MB runs=$SOCAT_RUNS
	if ! has socat; then
		say "socat not installed: n/a"
		return
	fi
	[ "$QUICK" = 1 ] && mib=$((mib / 4)) runs=2
	SOCAT_DIR=$(mktemp -d /dev/shm/xsock-bench-socat-XXXXXX)
	head -c "${mib}M" /dev/urandom >"$SOCAT_DIR/src"
	socat_rows socat_file "socat file -> file, 8 KiB blocks, $mib MiB (median of $runs)" \
		"$mib" "$runs"
	rm -rf "$SOCAT_DIR"
	SOCAT_DIR=""
}

bench_pinned() {
	local mode mib=$((SOCAT_MB / 4)) runs=$SOCAT_RUNS
	[ "$QUICK" = 1 ] && mib=$((mib / 4)) runs=2
	PIN="taskset -c 0"
	if has sockperf; then
		SP_SIZE=64 SP_LABEL="64 B" SP_ROW="_cpu0" SP_WHAT=", both ends on one CPU" SP_FAM=pinned
		for mode in xsock tcp; do
			case_run "sockperf-pp-64-cpu0" "$mode" start_sockperf client_sockperf_pp ||
				fail_rows "$mode" "$CASE_ERR" \
					sp_pp_p50_64_cpu0 "sockperf ping-pong 64 B RTT p50$SP_WHAT" us lower \
					pinned_p50 64 \
					sp_pp_p99_64_cpu0 "sockperf ping-pong 64 B RTT p99$SP_WHAT" us lower \
					pinned_p99 64
		done
		SP_ROW="" SP_WHAT="" SP_FAM=sockperf_pp
	fi
	if has socat; then
		SOCAT_DIR=$(mktemp -d /dev/shm/xsock-bench-socat-XXXXXX)
		head -c "${mib}M" /dev/urandom >"$SOCAT_DIR/src"
		socat_rows socat_file_cpu0 \
			"socat file -> file, 8 KiB blocks, $mib MiB, both ends on one CPU" "$mib" "$runs"
		rm -rf "$SOCAT_DIR"
		SOCAT_DIR=""
	fi
	PIN=""
}
