# SPDX-License-Identifier: MIT
# Shared setup for the integration tests: two (or more) "domains", each a
# network namespace with loopback only (no TCP path between them), on the
# local backend with a private XSOCK_LOCAL_DIR. Sourced by test_*.sh.
#
# Exit codes follow automake: 0 pass, 1 fail, 77 skip (said loudly).

set -u

TOP_BUILD=${XSOCK_TEST_TOP_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PRELOAD="$TOP_BUILD/.libs/libxsock_preload.so"
XSOCKCTL="$TOP_BUILD/xsockctl"
# A sanitizer build of the shim needs its runtimes loaded first.
if [ -f "$PRELOAD" ]; then
	# libasan must come first of all.
	for lib in $(ldd "$PRELOAD" 2>/dev/null | awk '/libubsan/ {print $3}') \
		   $(ldd "$PRELOAD" 2>/dev/null | awk '/libasan/ {print $3}'); do
		PRELOAD="$lib:$PRELOAD"
	done
	case "$PRELOAD" in
	*asan*) export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0:verify_asan_link_order=0 ;;
	esac
fi
T0=$(date +%s.%N)

say() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*"; }
fail() { say "FAIL: $*"; exit 1; }
skip() { say "SKIPPED: $*" >&2; say "SKIPPED: $*"; exit 77; }

need_root_netns() {
	[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
	command -v ip >/dev/null || skip "needs iproute2 (ip)"
	[ -f "${PRELOAD##*:}" ] || fail "no preload library at ${PRELOAD##*:}"
}

need_prog() {
	command -v "$1" >/dev/null || skip "program '$1' is not installed (apt-get install ${2:-$1})"
}

NSES=()
PIDS=()
cleanup() {
	local p n
	for p in "${PIDS[@]}"; do pkill -9 -P "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
	# Whatever still runs in a domain (a server's forked workers) goes too.
	for n in "${NSES[@]}"; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
	wait 2>/dev/null 3>&-
	for n in "${NSES[@]}"; do ip netns del "$n" 2>/dev/null; done
	[ -n "${XSOCK_LOCAL_DIR:-}" ] && case "$XSOCK_LOCAL_DIR" in
		/dev/shm/xsock-it-*) rm -rf "$XSOCK_LOCAL_DIR" ;;
	esac
	[ -n "${WORK:-}" ] && rm -rf "$WORK"
}
trap 'cleanup 2>/dev/null' EXIT

# setup_domains N: domains 1..N as namespaces xsit<pid>-<i>, lo up.
setup_domains() {
	local i ns
	export XSOCK_BACKEND=local
	XSOCK_LOCAL_DIR=$(mktemp -d /dev/shm/xsock-it-XXXXXX)
	export XSOCK_LOCAL_DIR
	WORK=$(mktemp -d /tmp/xsock-it-XXXXXX)
	for i in $(seq 1 "$1"); do
		ns="xsit$$-$i"
		ip netns add "$ns" || fail "ip netns add $ns"
		ip -n "$ns" link set lo up
		NSES+=("$ns")
	done
}

# dom I CMD...: run CMD in domain I (its namespace, XSOCK_DOMID=I), no shim.
dom() {
	local i=$1; shift
	ip netns exec "xsit$$-$i" env XSOCK_DOMID="$i" "$@"
}

# shim I CMD...: the same, under the shim.
shim() {
	local i=$1; shift
	ip netns exec "xsit$$-$i" env XSOCK_DOMID="$i" LD_PRELOAD="$PRELOAD" "$@"
}

# ctl I ARGS...: xsockctl inside domain I.
ctl() {
	local i=$1; shift
	dom "$i" "$XSOCKCTL" "$@"
}

# The address of domain I as the tests tag it.
addr_of() { echo "10.77.0.$1"; }

# Tag every pair of domains 1..N as peers of each other.
tag_all() {
	local i j
	for i in $(seq 1 "$1"); do
		for j in $(seq 1 "$1"); do
			[ "$i" = "$j" ] && continue
			ctl "$i" peer add "$(addr_of "$j")" "$j" >/dev/null || fail "peer add in dom$i"
		done
	done
}

# wait_port I PORT: until a ring listener of domain I advertises PORT.
wait_listen() {
	local i=$1 port=$2 n=0
	while [ ! -d "$XSOCK_LOCAL_DIR/store/local/domain/$i/data/xsock/listen/$port" ]; do
		n=$((n + 1))
		[ $n -gt 200 ] && fail "no ring listener on dom$i port $port after 10 s"
		sleep 0.05
	done
}

# wait_line FILE ERE [SECS]: wait (at most SECS, 10) until FILE holds a
# line matching ERE; else the test fails, showing FILE's last lines. A
# server says its pid after listen(), so the store's listen node
# (wait_listen) can come first.
wait_line() {
	local f=$1 re=$2 n=0 max=$(( ${3:-10} * 20 ))
	until grep -q -E "$re" "$f" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt $max ] && { tail -20 "$f" 2>/dev/null; fail "no line '$re' in $(basename "$f") after ${3:-10} s"; }
		sleep 0.05
	done
}

# reap PID [SECS]: wait (at most SECS, 10) for the background job PID to
# end and return its status; a job still running then is killed (with its
# children) and the test fails: a bare `wait` on a server that was never
# stopped hangs the whole suite.
reap() {
	local p=$1 n=0 max=$(( ${2:-10} * 20 )) st
	while kill -0 "$p" 2>/dev/null; do
		st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)
		[ "$st" = Z ] && break
		n=$((n + 1))
		if [ $n -gt $max ]; then
			pkill -9 -P "$p" 2>/dev/null
			kill -9 "$p" 2>/dev/null
			wait "$p" 2>/dev/null
			fail "process $p still running ${2:-10} s after it was told to stop"
		fi
		sleep 0.05
	done
	wait "$p"
}

# own_pgrep [-n] TEXT: the oldest (-n: newest) process of this test's
# domains whose command line contains TEXT; never another test's process on
# this machine, as a plain pgrep may be.
own_pgrep() {
	local newest=0 n p
	[ "$1" = -n ] && { newest=1; shift; }
	for n in "${NSES[@]}"; do ip netns pids "$n" 2>/dev/null; done | sort -n |
		while read -r p; do
			tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$1" && echo "$p"
		done | if [ $newest = 1 ]; then tail -1; else head -1; fi
}

# Counts of what the local backend holds: grants, channels, store nodes.
count_grants() { find "$XSOCK_LOCAL_DIR/grant" -type f 2>/dev/null | wc -l; }
count_evtchns() { find "$XSOCK_LOCAL_DIR/evtchn" -type p 2>/dev/null | wc -l; }
count_nodes() { find "$XSOCK_LOCAL_DIR/store" -type d 2>/dev/null | wc -l; }
count_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

elapsed() { echo "$(date +%s.%N) - $1" | bc; }

# mbps BYTES SECONDS
mbps() { echo "scale=1; $1 * 8 / $2 / 1000000" | bc; }
