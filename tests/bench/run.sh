#!/bin/bash
# SPDX-License-Identifier: MIT
# make bench: run the same unmodified programs three ways on this machine and
# print one table of ratios.
#
#   xsock : server in domain 2, client in domain 1 (two network namespaces,
#           loopback only, no TCP path between them), both under
#           libxsock_preload.so, local backend, XSOCK_FALLBACK=0;
#   tcp   : client and server in one namespace over TCP loopback, no shim;
#   unix  : client and server over a UNIX stream socket, no shim, where the
#           program supports it (redis; not sockperf 3.7, not iperf3: n/a).
#
# Plus the ring floor: tools/xsock-ringbench (two processes, one shared
# ring, pipes for wake-ups, no platform layer, no shim).
#
# Usage: tests/bench/run.sh BUILD_DIR
# Writes BUILD_DIR/bench/{results.json,results.tsv,table.txt,bench.png,logs/}.
# Environment: BENCH_T (seconds per timed run, default 3), BENCH_QUICK=1
# (fewer cases, for a smoke test), BENCH_ONLY (a subset of the steps: ring
# sockperf iperf3 redis connect rates socat pinned apps), BENCH_SOCAT_MB (1024)
# and BENCH_SOCAT_RUNS (5, after one untimed run of each mode) for the socat rows. Needs root (network namespaces); exit 77
# (skip) otherwise. Every run is time-limited; a run that fails or hangs is
# recorded as FAIL with its error, and a failing xsock run is repeated once
# with XSOCK_DEBUG=4 to leave a debug log under logs/.
set -u

build=${1:?usage: run.sh BUILD_DIR}
build=$(cd "$build" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
T=${BENCH_T:-3}
QUICK=${BENCH_QUICK:-0}
PRELOAD="$build/.libs/libxsock_preload.so"
XSOCKCTL="$build/xsockctl"
RINGBENCH="$build/tools/xsock-ringbench"
OUT="$build/bench"
LOGS="$OUT/logs"
TSV="$OUT/results.tsv"

say() { printf 'bench: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
	say "SKIPPED: needs root (network namespaces)"
	exit 77
fi
for f in "$PRELOAD" "$XSOCKCTL" "$RINGBENCH" "$build/tools/xsock-connbench"; do
	[ -x "$f" ] || [ -f "$f" ] || { say "missing $f (build first)"; exit 2; }
done

# 1000 redis clients: their sockets, plus the shim's own fds per ring.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- programs --------------------------------------------------------------------------
need_pkgs=()
command -v sockperf >/dev/null || need_pkgs+=(sockperf)
command -v iperf3 >/dev/null || need_pkgs+=(iperf3)
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v redis-benchmark >/dev/null || need_pkgs+=(redis-tools)
command -v gnuplot >/dev/null || need_pkgs+=(gnuplot-nox)
command -v python3 >/dev/null || need_pkgs+=(python3)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	say "installing ${need_pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_pkgs[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_pkgs[@]}" >/dev/null 2>&1; } ||
		say "apt-get install ${need_pkgs[*]} failed; the missing programs are recorded n/a"
fi
has() { command -v "$1" >/dev/null; }

# ---- domains ---------------------------------------------------------------------------
export XSOCK_BACKEND=local
XSOCK_LOCAL_DIR=$(mktemp -d /dev/shm/xsock-bench-XXXXXX)
export XSOCK_LOCAL_DIR
WORK=$(mktemp -d /tmp/xsock-bench-XXXXXX)
NS1="xsb$$-1" NS2="xsb$$-2"
SRV=""
cleanup() {
	[ -n "$SRV" ] && stop_server
	ip netns del "$NS1" 2>/dev/null
	ip netns del "$NS2" 2>/dev/null
	rm -rf "$XSOCK_LOCAL_DIR" "$WORK" ${SOCAT_DIR:+"$SOCAT_DIR"}
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$NS1" && ip netns add "$NS2" || { say "ip netns add failed"; exit 2; }
ip -n "$NS1" link set lo up
ip -n "$NS2" link set lo up
in_ns() { local i=$1; shift; ip netns exec "xsb$$-$i" env XSOCK_DOMID="$i" "$@"; }
"$XSOCKCTL" --help >/dev/null 2>&1
in_ns 1 "$XSOCKCTL" peer add 10.77.0.2 2 >/dev/null || { say "peer add in dom1 failed"; exit 2; }
in_ns 2 "$XSOCKCTL" peer add 10.77.0.1 1 >/dev/null || { say "peer add in dom2 failed"; exit 2; }

mkdir -p "$LOGS"
rm -f "$LOGS"/* "$TSV"
printf 'row\tlabel\tmode\tvalue\tunit\tbetter\tstatus\terror\tfamily\tsize\n' >"$TSV"

# record ROW LABEL MODE VALUE UNIT BETTER STATUS ERROR FAMILY SIZE
record() {
	[ -n "${DBG_SRV:-}" ] && return 0	# a debug re-run only leaves logs
	local err=${8//$'\t'/ }
	err=${err//$'\n'/ | }
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" \
		"${err:0:300}" "$9" "${10}" >>"$TSV"
}

# ---- servers and clients ---------------------------------------------------------------
# Mode prefixes: where the server and client run, and the address to use.
srv_cmd() { # MODE -> command prefix for the server
	case $1 in
	xsock) echo "ip netns exec $NS2 env XSOCK_DOMID=2 XSOCK_FALLBACK=0 LD_PRELOAD=$PRELOAD" ;;
	*) echo "ip netns exec $NS1 env XSOCK_DOMID=1" ;;
	esac
}
cli_cmd() {
	case $1 in
	xsock) echo "ip netns exec $NS1 env XSOCK_DOMID=1 XSOCK_FALLBACK=0 LD_PRELOAD=$PRELOAD" ;;
	*) echo "ip netns exec $NS1 env XSOCK_DOMID=1" ;;
	esac
}
host_of() { case $1 in xsock) echo 10.77.0.2 ;; *) echo 127.0.0.1 ;; esac; }
srv_bind() { case $1 in xsock) echo 0.0.0.0 ;; *) echo 127.0.0.1 ;; esac; }

PORT=20000
next_port() { PORT=$((PORT + 1)); }

# start_server MODE LOG CMD...: background server, time-limited.
start_server() {
	local mode=$1 log=$2; shift 2
	# shellcheck disable=SC2046
	$(srv_cmd "$mode") ${DBG_SRV:-} ${PIN:-} timeout -s INT -k 3 120 "$@" >"$log" 2>&1 &
	SRV=$!
}

# wait_ready MODE PORT [UNIXPATH]: until the server listens (10 s at most).
wait_ready() {
	local mode=$1 port=$2 path=${3:-} n=0
	while :; do
		case $mode in
		xsock) [ -d "$XSOCK_LOCAL_DIR/store/local/domain/2/data/xsock/listen/$port" ] &&
			return 0 ;;
		tcp) ip netns exec "$NS1" ss -Hltn "sport = :$port" 2>/dev/null | grep -q . &&
			return 0 ;;
		unix) [ -S "$path" ] && return 0 ;;
		esac
		kill -0 "$SRV" 2>/dev/null || return 1
		n=$((n + 1))
		[ $n -gt 200 ] && return 1
		sleep 0.05
	done
}

stop_server() {
	local n=0
	[ -n "$SRV" ] || return 0
	kill -INT "$SRV" 2>/dev/null
	while kill -0 "$SRV" 2>/dev/null && [ $n -lt 30 ]; do sleep 0.1; n=$((n + 1)); done
	if kill -0 "$SRV" 2>/dev/null; then
		say "  server $SRV did not stop on SIGINT within 3 s; SIGKILL"
		pkill -9 -P "$SRV" 2>/dev/null
		kill -9 "$SRV" 2>/dev/null
	fi
	wait "$SRV" 2>/dev/null
	SRV=""
}

# run_client MODE LOG LIMIT CMD...: client, time-limited; returns its status
# (124: timed out).
run_client() {
	local mode=$1 log=$2 limit=$3; shift 3
	# shellcheck disable=SC2046
	$(cli_cmd "$mode") ${DBG_CLI:-} ${PIN:-} timeout -s INT -k 3 "$limit" "$@" >"$log" 2>&1
}

# errline LOG: the most telling line of a failed run's output.
errline() {
	local l
	l=$(grep -iE 'error|fail|refused|reset|denied|unable|cannot|could not|closed' "$1" 2>/dev/null |
		head -1)
	[ -n "$l" ] || l=$(grep -v '^\s*$' "$1" 2>/dev/null | tail -1)
	echo "${l:-no output}"
}

# One case = one server + one client. case_run is called by the test
# functions below with the name of a function that starts the server
# (start_<x> MODE PORT LOG) and one that runs the client and records
# (client_<x> MODE PORT LOG); on an xsock failure it is repeated with debug
# logging.
case_run() { # NAME MODE STARTFN CLIENTFN
	local name=$1 mode=$2 startfn=$3 clientfn=$4 rc
	next_port
	say "  [$mode] $name"
	local slog="$LOGS/$name.$mode.srv.log" clog="$LOGS/$name.$mode.cli.log"
	CASE_ERR=""
	if ! $startfn "$mode" "$PORT" "$slog"; then
		CASE_ERR="server did not start: $(errline "$slog")"
		stop_server
		return 1
	fi
	$clientfn "$mode" "$PORT" "$clog"
	rc=$?
	stop_server
	if [ $rc != 0 ] && [ "$mode" = xsock ] && [ -z "${DBG_SRV:-}" ]; then
		local err=$CASE_ERR
		say "  [$mode] $name FAILED ($err); repeating with XSOCK_DEBUG=4"
		DBG_SRV="XSOCK_DEBUG=4 XSOCK_LOG=$LOGS/$name.xsock.srv.xlog" \
		DBG_CLI="XSOCK_DEBUG=4 XSOCK_LOG=$LOGS/$name.xsock.cli.xlog" \
			case_run "$name.debug" "$mode" "$startfn" "$clientfn"
		if [ $? = 0 ]; then
			CASE_ERR="$err (passed when repeated with XSOCK_DEBUG=4)"
		else
			CASE_ERR="$err (failed again with XSOCK_DEBUG=4: $CASE_ERR)"
		fi
		return 1
	fi
	return $rc
}

# ---- sockperf --------------------------------------------------------------------------
start_sockperf() { # MODE PORT LOG
	start_server "$1" "$3" sockperf server --tcp -i "$(srv_bind "$1")" -p "$2"
	wait_ready "$1" "$2"
}

SP_SIZE=0 SP_MPS=10000000 SP_ROW="" SP_WHAT="" SP_FAM=sockperf_pp
client_sockperf_pp() {
	local mode=$1 port=$2 log=$3 rc p50 p99
	# --mps: sockperf sizes its bookkeeping for 600 k messages/s by default
	# and stops with "_seqN > m_maxSequenceNo" beyond that (xsock gets
	# there): 10 M is "back to back". Lower rates (SP_MPS, bench_rates in
	# extra.sh) leave idle gaps between requests, as real traffic does.
	run_client "$mode" "$log" $((T + 15)) sockperf ping-pong --tcp -i "$(host_of "$mode")" \
		-p "$port" -m "$SP_SIZE" -t "$T" --full-rtt --mps "$SP_MPS"
	rc=$?
	p50=$(awk '/percentile 50.000/ {print $NF}' "$log")
	p99=$(awk '/percentile 99.000/ {print $NF}' "$log")
	if [ $rc != 0 ] || [ -z "$p50" ]; then
		CASE_ERR="rc=$rc: $(errline "$log")"
		return 1
	fi
	record "sp_pp_p50_$SP_SIZE$SP_ROW" "sockperf ping-pong ${SP_LABEL} RTT p50$SP_WHAT" "$mode" \
		"$p50" us lower ok "" "${SP_FAM}_p50" "$SP_SIZE"
	record "sp_pp_p99_$SP_SIZE$SP_ROW" "sockperf ping-pong ${SP_LABEL} RTT p99$SP_WHAT" "$mode" \
		"$p99" us lower ok "" "${SP_FAM}_p99" "$SP_SIZE"
}

client_sockperf_tp() {
	local mode=$1 port=$2 log=$3 rc rate mbps
	run_client "$mode" "$log" $((T + 15)) sockperf throughput --tcp -i "$(host_of "$mode")" \
		-p "$port" -m "$SP_SIZE" -t "$T"
	rc=$?
	rate=$(sed -n 's/.*Message Rate is \([0-9.]*\).*/\1/p' "$log" | tail -1)
	mbps=$(sed -n 's/.*BandWidth is \([0-9.]*\) MBps.*/\1/p' "$log" | tail -1)
	if [ $rc != 0 ] || [ -z "$rate" ]; then
		CASE_ERR="rc=$rc: $(errline "$log")"
		return 1
	fi
	record "sp_tp_$SP_SIZE" "sockperf throughput ${SP_LABEL} msg rate" "$mode" \
		"$(awk -v r="$rate" 'BEGIN {printf "%.3f", r / 1e6}')" Mmsg/s higher ok "" sockperf_tp "$SP_SIZE"
}

fail_rows() { # MODE ERR ROW LABEL UNIT BETTER FAMILY SIZE [ROW LABEL ...]
	local mode=$1 err=$2; shift 2
	while [ $# -ge 6 ]; do
		record "$1" "$2" "$mode" "" "$3" "$4" FAIL "$err" "$5" "$6"
		shift 6
	done
}

bench_sockperf() {
	local mode size sizes="64 1024 16384 65507"
	[ "$QUICK" = 1 ] && sizes="64 65507"
	if ! has sockperf; then
		say "sockperf not installed: n/a"
		return
	fi
	for size in $sizes; do
		SP_SIZE=$size
		case $size in 64) SP_LABEL="64 B" ;; 1024) SP_LABEL="1 KiB" ;;
		16384) SP_LABEL="16 KiB" ;; 65507) SP_LABEL="64 KiB" ;; esac
		for mode in xsock tcp; do
			case_run "sockperf-pp-$size" "$mode" start_sockperf client_sockperf_pp ||
				fail_rows "$mode" "$CASE_ERR" \
					"sp_pp_p50_$size" "sockperf ping-pong $SP_LABEL RTT p50" us lower \
					sockperf_pp_p50 "$size" \
					"sp_pp_p99_$size" "sockperf ping-pong $SP_LABEL RTT p99" us lower \
					sockperf_pp_p99 "$size"
		done
		for mode in unix; do
			record "sp_pp_p50_$size" "sockperf ping-pong $SP_LABEL RTT p50" unix "" us lower \
				n/a "sockperf 3.7 has no UNIX socket mode" sockperf_pp_p50 "$size"
			record "sp_pp_p99_$size" "sockperf ping-pong $SP_LABEL RTT p99" unix "" us lower \
				n/a "sockperf 3.7 has no UNIX socket mode" sockperf_pp_p99 "$size"
		done
	done
	SP_SIZE=64 SP_LABEL="64 B"
	for mode in xsock tcp; do
		case_run "sockperf-tp-64" "$mode" start_sockperf client_sockperf_tp ||
			fail_rows "$mode" "$CASE_ERR" sp_tp_64 "sockperf throughput 64 B msg rate" \
				Mmsg/s higher sockperf_tp 64
	done
	record sp_tp_64 "sockperf throughput 64 B msg rate" unix "" Mmsg/s higher n/a \
		"sockperf 3.7 has no UNIX socket mode" sockperf_tp 64
}

# ---- iperf3 ----------------------------------------------------------------------------
start_iperf3() {
	start_server "$1" "$3" iperf3 -s -1 -B "$(srv_bind "$1")" -p "$2"
	wait_ready "$1" "$2"
}

IP_LEN=64 IP_PAR=1
client_iperf3() {
	local mode=$1 port=$2 log=$3 rc gbps
	run_client "$mode" "$log" $((T + 20)) iperf3 -c "$(host_of "$mode")" -p "$port" \
		-t "$T" -l "$IP_LEN" -P "$IP_PAR" -J
	rc=$?
	gbps=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
if "error" in d: sys.exit(1)
print("%.3f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9))' "$log" 2>/dev/null)
	if [ $rc != 0 ] || [ -z "$gbps" ]; then
		CASE_ERR="rc=$rc: $(python3 -c 'import json,sys
print(json.load(open(sys.argv[1])).get("error", ""))' "$log" 2>/dev/null || errline "$log")"
		[ "$CASE_ERR" = "rc=$rc: " ] && CASE_ERR="rc=$rc: $(errline "$log")"
		return 1
	fi
	record "ip_${IP_LEN}_P$IP_PAR" "iperf3 -l $IP_LEN -P $IP_PAR" "$mode" "$gbps" Gbit/s \
		higher ok "" "iperf3_P$IP_PAR" "$(size_bytes "$IP_LEN")"
	# CPU seconds (sender + receiver, as iperf3 measures them) per GB moved.
	local cpu
	cpu=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))["end"]
c = d["cpu_utilization_percent"]
secs = d["sum_received"]["seconds"]
gb = d["sum_received"]["bytes"] / 1e9
print("%.3f" % ((c["host_total"] + c["remote_total"]) / 100 * secs / gb))' "$log" 2>/dev/null)
	[ -n "$cpu" ] && record "ipcpu_${IP_LEN}_P$IP_PAR" "iperf3 -l $IP_LEN -P $IP_PAR CPU per GB" \
		"$mode" "$cpu" "CPU s/GB" lower ok "" "iperf3cpu_P$IP_PAR" "$(size_bytes "$IP_LEN")"
	return 0
}

size_bytes() {
	case $1 in *K) echo $((${1%K} * 1024)) ;; *M) echo $((${1%M} * 1048576)) ;; *) echo "$1" ;; esac
}

bench_iperf3() {
	local len par mode lens="64 4K 128K" pars="1 4"
	[ "$QUICK" = 1 ] && lens="64 128K" pars=1
	if ! has iperf3; then
		say "iperf3 not installed: n/a"
		return
	fi
	for par in $pars; do
		for len in $lens; do
			IP_LEN=$len IP_PAR=$par
			for mode in xsock tcp; do
				case_run "iperf3-l$len-P$par" "$mode" start_iperf3 client_iperf3 ||
					fail_rows "$mode" "$CASE_ERR" "ip_${len}_P$par" \
						"iperf3 -l $len -P $par" Gbit/s higher "iperf3_P$par" \
						"$(size_bytes "$len")"
			done
			record "ip_${len}_P$par" "iperf3 -l $len -P $par" unix "" Gbit/s higher n/a \
				"iperf3 has no UNIX socket mode" "iperf3_P$par" "$(size_bytes "$len")"
		done
	done
}

# ---- redis -----------------------------------------------------------------------------
REDIS_C=${BENCH_REDIS_CLIENTS:-16}
start_redis() {
	local mode=$1 port=$2 log=$3
	case $mode in
	unix)
		start_server "$mode" "$log" redis-server --port 0 --unixsocket "$WORK/redis.sock" \
			--save '' --appendonly no --protected-mode no
		wait_ready unix 0 "$WORK/redis.sock" ;;
	*)
		start_server "$mode" "$log" redis-server --port "$port" --bind "$(srv_bind "$mode")" \
			--save '' --appendonly no --protected-mode no
		wait_ready "$mode" "$port" ;;
	esac
}

RB_P=1 RB_N=20000
client_redis() {
	local mode=$1 port=$2 log=$3 rc t v where
	case $mode in
	unix) where=(-s "$WORK/redis.sock") ;;
	*) where=(-h "$(host_of "$mode")" -p "$port") ;;
	esac
	run_client "$mode" "$log" 90 redis-benchmark "${where[@]}" -c "$REDIS_C" -t set,get \
		-n "$RB_N" -P "$RB_P" --csv
	rc=$?
	for t in SET GET; do
		v=$(awk -F'"' -v t="$t" '$2 == t {print $4}' "$log")
		if [ $rc != 0 ] || [ -z "$v" ]; then
			CASE_ERR="rc=$rc: $(errline "$log")"
			return 1
		fi
	done
	for t in SET GET; do
		v=$(awk -F'"' -v t="$t" '$2 == t {print $4}' "$log")
		record "rb_${t}_P${RB_P}_c$REDIS_C" "redis-benchmark $t -P $RB_P (-c $REDIS_C)" \
			"$mode" "$(awk -v r="$v" 'BEGIN {printf "%.1f", r / 1000}')" kreq/s higher ok "" \
			"$([ "$REDIS_C" = 16 ] && echo redis || echo redis_scale)" "$REDIS_C"
	done
}

bench_redis() {
	local p mode
	if ! has redis-server || ! has redis-benchmark; then
		say "redis not installed: n/a"
		return
	fi
	for p in 1 16; do
		RB_P=$p
		case $p in 1) RB_N=${BENCH_REDIS_N1:-20000} ;; *) RB_N=${BENCH_REDIS_N16:-200000} ;; esac
		[ "$QUICK" = 1 ] && RB_N=$((RB_N / 4))
		for mode in xsock tcp unix; do
			case_run "redis-P$p" "$mode" start_redis client_redis ||
				fail_rows "$mode" "$CASE_ERR" \
					"rb_SET_P${p}_c$REDIS_C" "redis-benchmark SET -P $p (-c $REDIS_C)" \
					kreq/s higher redis "$REDIS_C" \
					"rb_GET_P${p}_c$REDIS_C" "redis-benchmark GET -P $p (-c $REDIS_C)" \
					kreq/s higher redis "$REDIS_C"
		done
	done
	# Scale: redis-benchmark's default of 50 clients, and 1000 clients
	# (1000 rings: 16 big ones, then small ones; see docs/performance.md).
	[ "$QUICK" = 1 ] && return
	local save=$REDIS_C c
	for c in 50 1000; do
		REDIS_C=$c RB_P=1 RB_N=$((c * 100))
		for mode in xsock tcp; do
			case_run "redis-c$c" "$mode" start_redis client_redis ||
				fail_rows "$mode" "$CASE_ERR" \
					"rb_SET_P1_c$c" "redis-benchmark SET -P 1 (-c $c)" kreq/s higher \
					redis_scale "$c" \
					"rb_GET_P1_c$c" "redis-benchmark GET -P 1 (-c $c)" kreq/s higher \
					redis_scale "$c"
		done
	done
	REDIS_C=$save
}

# ---- connection set-up ----------------------------------------------------------------
CONNBENCH="$build/tools/xsock-connbench"
start_connbench() {
	start_server "$1" "$3" "$CONNBENCH" server "$2"
	wait_ready "$1" "$2"
}

client_connbench() {
	local mode=$1 port=$2 log=$3 rc rate
	run_client "$mode" "$log" $((T + 20)) "$CONNBENCH" client "$(host_of "$mode")" "$port" "$T"
	rc=$?
	rate=$(sed -n 's/.*: \([0-9]*\) per second.*/\1/p' "$log")
	if [ $rc != 0 ] || [ -z "$rate" ]; then
		CASE_ERR="rc=$rc: $(errline "$log")"
		return 1
	fi
	record conn_rate "connect + 16 B request + close" "$mode" "$rate" conn/s higher ok "" \
		conn_rate 16
}

bench_connect() {
	local mode
	for mode in xsock tcp; do
		case_run "connbench" "$mode" start_connbench client_connbench ||
			fail_rows "$mode" "$CASE_ERR" conn_rate "connect + 16 B request + close" conn/s \
				higher conn_rate 16
	done
	record conn_rate "connect + 16 B request + close" unix "" conn/s higher n/a \
		"not measured over UNIX sockets" conn_rate 16
}

# ---- ring floor ------------------------------------------------------------------------
bench_ring() {
	local s j log
	for s in 64 1024 16384 65536; do
		[ "$QUICK" = 1 ] && [ $s != 64 ] && continue
		say "  [ring] xsock-ringbench ping-pong $s B"
		log="$LOGS/ringbench-pp-$s.log"
		if timeout -k 3 $((T + 15)) "$RINGBENCH" -p -j -s "$s" -t "$T" >"$log" 2>&1 &&
			j=$(grep '^{' "$log"); then
			record "ring_pp_p50_$s" "ring floor ping-pong $s B RTT p50" ring \
				"$(json_get "$j" rtt_p50_us)" us lower ok "" ring_pp_p50 "$s"
			record "ring_pp_p99_$s" "ring floor ping-pong $s B RTT p99" ring \
				"$(json_get "$j" rtt_p99_us)" us lower ok "" ring_pp_p99 "$s"
		else
			record "ring_pp_p50_$s" "ring floor ping-pong $s B RTT p50" ring "" us lower \
				FAIL "$(errline "$log")" ring_pp_p50 "$s"
		fi
	done
	for s in 64 4096 65536 131072; do
		[ "$QUICK" = 1 ] && [ $s != 64 ] && [ $s != 65536 ] && continue
		say "  [ring] xsock-ringbench stream $s B writes"
		log="$LOGS/ringbench-stream-$s.log"
		if timeout -k 3 $((T + 15)) "$RINGBENCH" -j -s "$s" -t "$T" >"$log" 2>&1 &&
			j=$(grep '^{' "$log"); then
			record "ring_st_$s" "ring floor stream $s B writes" ring \
				"$(awk -v r="$(json_get "$j" mb_per_s)" 'BEGIN {printf "%.3f", r * 8 / 1000}')" Gbit/s higher \
				ok "" ring_stream "$s"
		else
			record "ring_st_$s" "ring floor stream $s B writes" ring "" Gbit/s higher FAIL \
				"$(errline "$log")" ring_stream "$s"
		fi
	done
}

# sockperf at a rate, socat file to file, one CPU: extra.sh.
# shellcheck source=tests/bench/extra.sh
. "$here/extra.sh"
# The applications of tests/apps at their own benchmarks: apps.sh.
# shellcheck source=tests/bench/apps.sh
. "$here/apps.sh"

json_get() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# ---- main ------------------------------------------------------------------------------
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "xsock benchmark: $(nproc) CPUs, load average $LOAD_START, ${T} s per timed run"
say "results in $OUT"
# BENCH_ONLY: a space-separated subset of the steps below (default: all).
step() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }
step ring && { say "ring floor (xsock-ringbench)"; bench_ring; }
step sockperf && { say "sockperf (TCP ping-pong latency, throughput)"; bench_sockperf; }
step iperf3 && { say "iperf3"; bench_iperf3; }
step redis && { say "redis-benchmark"; bench_redis; }
step connect && { say "connection set-up (xsock-connbench)"; bench_connect; }
step rates && { say "sockperf ping-pong at a rate (idle gaps: wake-ups from sleep)"; bench_rates; }
step socat && { say "socat file -> file, 8 KiB blocks (the README's demo)"; bench_socat; }
step pinned && { say "both ends pinned to one CPU (taskset -c 0)"; bench_pinned; }
step apps && { say "applications at their own benchmarks (tests/apps)"; bench_apps; }
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
T_END=$(date +%s)
say "done in $((T_END - T_START)) s, load average now $LOAD_END"

cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
python3 "$here/report.py" "$TSV" "$OUT" \
	"{\"cpus\": $(nproc), \"cpu\": \"${cpu//\"/}\", \"kernel\": \"$(uname -r)\",
	  \"load_start\": \"$LOAD_START\", \"load_end\": \"$LOAD_END\",
	  \"seconds_per_run\": $T, \"wall_seconds\": $((T_END - T_START)),
	  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",
	  \"versions\": {\"sockperf\": \"$(sockperf --version 2>/dev/null | awk '/version/ {print $NF; exit}')\",
	                 \"iperf3\": \"$(iperf3 --version 2>/dev/null | awk 'NR==1 {print $2}')\",
	                 \"redis\": \"$(redis-server --version 2>/dev/null | awk '{print $3}')\"}}" ||
	{ say "report failed"; exit 1; }
if has gnuplot && [ -f "$OUT/plot.gp" ]; then
	gnuplot "$OUT/plot.gp" 2>"$LOGS/gnuplot.log" || say "gnuplot failed, see $LOGS/gnuplot.log"
fi
say "table: $OUT/table.txt  json: $OUT/results.json  plot: $OUT/bench.png"
exit 0
