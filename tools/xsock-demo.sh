#!/bin/bash
# SPDX-License-Identifier: MIT
# xsock-demo BUILD_DIR [MIB]: unmodified socat, client in domain 1 and
# server in domain 2 (two network namespaces with loopback only), through
# libxsock_preload.so on the local backend; then the same transfer over
# TCP loopback for comparison. Needs root (network namespaces).
set -eu
build=${1:?usage: xsock-demo.sh BUILD_DIR [MIB]}
mib=${2:-1024}
preload="$build/.libs/libxsock_preload.so"
xsockctl="$build/xsockctl"
[ -f "$preload" ] || { echo "xsock-demo: no $preload (build first)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "xsock-demo: needs root for network namespaces" >&2; exit 2; }

export XSOCK_BACKEND=local
XSOCK_LOCAL_DIR=$(mktemp -d /dev/shm/xsock-demo-XXXXXX)
export XSOCK_LOCAL_DIR
work=$(mktemp -d /tmp/xsock-demo-XXXXXX)
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

echo "xsock demo: $mib MiB of random data, socat in domain 1 -> socat in domain 2"
echo "  domains: network namespaces $ns1 and $ns2, loopback only (no TCP path between them)"
in1 "$xsockctl" peer add 10.77.0.2 2
in2 "$xsockctl" peer add 10.77.0.1 1
echo "  domain 1: xsockctl peer add 10.77.0.2 2;  domain 2: xsockctl peer add 10.77.0.1 1"
head -c "${mib}M" /dev/urandom >"$work/in"
want=$(sha256sum <"$work/in" | cut -d' ' -f1)

now() { date +%s.%N; }
run_pair() { # label server-prefix client-prefix address
	local t0 t1 got
	rm -f "$work/out"
	$2 socat -u TCP-LISTEN:7000,reuseaddr OPEN:"$work/out",creat,trunc &
	srv=$!
	sleep 0.5
	t0=$(now)
	$3 socat -u OPEN:"$work/in" TCP:"$4":7000
	wait "$srv"
	t1=$(now)
	got=$(sha256sum <"$work/out" | cut -d' ' -f1)
	[ "$got" = "$want" ] || { echo "  $1: CHECKSUM MISMATCH" >&2; exit 1; }
	echo "$t1 - $t0" | bc
}
d=$(run_pair xsock "in2 env LD_PRELOAD=$preload XSOCK_FALLBACK=0" \
	"in1 env LD_PRELOAD=$preload XSOCK_FALLBACK=0" 10.77.0.2)
printf '  xsock ring   : %s MiB in %.3f s = %.2f Gbit/s, sha256 %s... matches\n' \
	"$mib" "$d" "$(echo "$mib * 8 * 1.048576 / $d / 1000" | bc -l)" "${want:0:16}"
d2=$(run_pair tcp "in1" "in1" 127.0.0.1)
printf '  TCP loopback : %s MiB in %.3f s = %.2f Gbit/s (same programs, one namespace, no shim)\n' \
	"$mib" "$d2" "$(echo "$mib * 8 * 1.048576 / $d2 / 1000" | bc -l)"
printf '  ratio        : xsock is %.2fx TCP loopback\n' "$(echo "$d2 / $d" | bc -l)"
