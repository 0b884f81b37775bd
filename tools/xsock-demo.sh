#!/bin/bash
# SPDX-License-Identifier: MIT
# xsock-demo BUILD_DIR [MIB]: unmodified socat (its default 8 KiB blocks,
# file to file), client in domain 1 and server in domain 2 (two network
# namespaces with loopback only), through libxsock_preload.so on the local
# backend; and the same transfer over TCP loopback for comparison. Needs
# root (network namespaces).
#
# Method, so that neither side pays for the other: the input file is
# written and read once (warm in the page cache) before any timed run;
# the files live on tmpfs when it has room (else the output is synced
# away before each run); the two transports run alternately, xsock first
# in odd rounds and TCP first in even ones, XSOCK_DEMO_RUNS rounds
# (default 3), after one untimed round of each; each run is timed from the client's start to the server's
# exit, its output compared with the input; the median and the best of
# each are printed, and the ratio of the medians.
set -eu
build=${1:?usage: xsock-demo.sh BUILD_DIR [MIB]}
mib=${2:-1024}
runs=${XSOCK_DEMO_RUNS:-3}
preload="$build/.libs/libxsock_preload.so"
xsockctl="$build/xsockctl"
[ -f "$preload" ] || { echo "xsock-demo: no $preload (build first)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "xsock-demo: needs root for network namespaces" >&2; exit 2; }

export XSOCK_BACKEND=local
XSOCK_LOCAL_DIR=$(mktemp -d /dev/shm/xsock-demo-XXXXXX)
export XSOCK_LOCAL_DIR
# Input and output on tmpfs if two copies fit with 512 MiB to spare.
free_kib=$(df -Pk /dev/shm | awk 'NR == 2 {print $4}')
if [ "${free_kib:-0}" -gt $(((2 * mib + 512) * 1024)) ]; then
	work=$(mktemp -d /dev/shm/xsock-demo-files-XXXXXX)
	where="tmpfs ($work)"
	settle() { :; }
else
	work=$(mktemp -d /tmp/xsock-demo-XXXXXX)
	where="$work (not tmpfs: output synced before each run)"
	settle() { sync; }
fi
ns1="xsdemo$$-1" ns2="xsdemo$$-2"
cleanup() {
	kill -9 ${srv:-} 2>/dev/null || true
	ip netns del "$ns1" 2>/dev/null || true
	ip netns del "$ns2" 2>/dev/null || true
	rm -rf "$XSOCK_LOCAL_DIR" "$work"
}
trap cleanup EXIT
ip netns add "$ns1"; ip netns add "$ns2"
ip -n "$ns1" link set lo up; ip -n "$ns2" link set lo up
in1() { ip netns exec "$ns1" env XSOCK_DOMID=1 "$@"; }
in2() { ip netns exec "$ns2" env XSOCK_DOMID=2 "$@"; }

echo "xsock demo: $mib MiB of random data, socat (8 KiB blocks) file -> file,"
echo "  socat in domain 1 -> socat in domain 2, against the same over TCP loopback"
echo "  domains: network namespaces $ns1 and $ns2, loopback only (no TCP path between them)"
in1 "$xsockctl" peer add 10.77.0.2 2
in2 "$xsockctl" peer add 10.77.0.1 1
echo "  domain 1: xsockctl peer add 10.77.0.2 2;  domain 2: xsockctl peer add 10.77.0.1 1"
head -c "${mib}M" /dev/urandom >"$work/in"
want=$(sha256sum <"$work/in" | cut -d' ' -f1)	# also reads it: warm
settle

now() { date +%s.%N; }
port=7000
# run_pair LABEL SERVER-PREFIX CLIENT-PREFIX ADDRESS: one timed transfer;
# prints the seconds.
run_pair() {
	local t0 t1 n=0
	rm -f "$work/out"
	settle
	port=$((port + 1))
	$2 socat -u TCP-LISTEN:$port,reuseaddr OPEN:"$work/out",creat,trunc &
	srv=$!
	# Until the server listens (xsock: its advertisement in the store).
	while :; do
		case $1 in
		xsock) [ -d "$XSOCK_LOCAL_DIR/store/local/domain/2/data/xsock/listen/$port" ] &&
			break ;;
		*) in1 ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break ;;
		esac
		n=$((n + 1))
		[ $n -lt 500 ] || { echo "  $1: server did not start" >&2; exit 1; }
		sleep 0.01
	done
	t0=$(now)
	$3 socat -u OPEN:"$work/in" TCP:"$4":$port
	wait "$srv"
	t1=$(now)
	srv=""
	cmp -s "$work/in" "$work/out" || { echo "  $1: OUTPUT DIFFERS FROM INPUT" >&2; exit 1; }
	echo "$t1 - $t0" | bc
}
xs_run() {
	run_pair xsock "in2 env LD_PRELOAD=$preload XSOCK_FALLBACK=0" \
		"in1 env LD_PRELOAD=$preload XSOCK_FALLBACK=0" 10.77.0.2
}
tcp_run() { run_pair tcp "in1" "in1" 127.0.0.1; }
gbps() { echo "$mib * 8 * 1.048576 / $1 / 1000" | bc -l; }

echo "  files on $where; input warm in the page cache (sha256 ${want:0:16}...)"
echo "  $runs rounds, xsock and TCP alternately (odd rounds xsock first); every output compared"
# One untimed round first: whichever transfer comes first writes its
# output into memory the machine has not touched for a while (on a VM,
# memory the host may have taken back), which can make it 2-5x slower.
echo "  one untimed run of each first (the first to write its output pays for fresh memory)"
xs_run >/dev/null; tcp_run >/dev/null
xs=() tc=()
for ((i = 1; i <= runs; i++)); do
	if ((i % 2)); then
		a=$(xs_run); b=$(tcp_run)
	else
		b=$(tcp_run); a=$(xs_run)
	fi
	xs+=("$a") tc+=("$b")
	printf '  round %d: xsock %.3f s (%.2f Gbit/s), TCP %.3f s (%.2f Gbit/s)\n' \
		"$i" "$a" "$(gbps "$a")" "$b" "$(gbps "$b")"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
	print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
mx=$(median "${xs[@]}") mt=$(median "${tc[@]}")
bx=$(best "${xs[@]}") bt=$(best "${tc[@]}")
printf '  xsock ring   : median %.3f s = %.2f Gbit/s (best %.2f)\n' \
	"$mx" "$(gbps "$mx")" "$(gbps "$bx")"
printf '  TCP loopback : median %.3f s = %.2f Gbit/s (best %.2f; same programs, one namespace, no shim)\n' \
	"$mt" "$(gbps "$mt")" "$(gbps "$bt")"
printf '  ratio        : xsock is %.2fx TCP loopback (medians of %d runs each; best: %.2fx)\n' \
	"$(echo "$mt / $mx" | bc -l)" "$runs" "$(echo "$bt / $bx" | bc -l)"
echo "  (time: socat client start to socat server exit, $mib MiB each run; load average $(cut -d' ' -f1-3 /proc/loadavg))"
