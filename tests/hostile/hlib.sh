# SPDX-License-Identifier: MIT
# Shared by tests/hostile/test_*.sh (issue 19, "Hostile peers and dead
# domains"): tests/integration/lib.sh (domains = network namespaces on the
# local backend), plus the attacker (xsock-hostile, built by make check),
# the victims (victim.py, ordinary programs run under the shim) and the
# figures the tests assert on. Exit codes as lib.sh: 0 pass, 1 fail, 77 skip.
. "$(dirname "$0")/../integration/lib.sh"

HOSTILE="$TOP_BUILD/tests/hostile/xsock-hostile"
VICTIM="$(cd "$(dirname "$0")" && pwd)/victim.py"
TCK=$(getconf CLK_TCK)
ST="${XSOCK_LOCAL_DIR:-/nonexistent}/store/local/domain"

need_hostile() {
	need_root_netns
	need_prog bc
	need_prog timeout coreutils
	[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
	[ -x "$HOSTILE" ] || fail "no attacker at $HOSTILE (make check builds it)"
}

# After setup_domains: where the store's domains live.
store_dir() { ST="$XSOCK_LOCAL_DIR/store/local/domain"; }

# cpu_s PID: user + system CPU seconds of process PID, all its threads
# (/proc/PID/stat utime + stime); empty once it is gone.
cpu_s() {
	local f
	f=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -n "$f" ] && echo "$f" | awk -v t="$TCK" '$1 != "Z" { printf "%.2f\n", ($12 + $13) / t }'
}

# wait_line FILE REGEX SECS: until a line of FILE matches REGEX (1 if not).
wait_line() {
	local n=0 max
	max=$(echo "$3 * 20 / 1" | bc)
	until grep -q -E "$2" "$1" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt "$max" ] && return 1
		sleep 0.05
	done
	return 0
}

# victim_pid FILE: the pid a victim printed ("pid=N ...").
victim_pid() { sed -n 's/^pid=\([0-9]*\) .*/\1/p' "$1" | head -1; }

# watch_cpu PID SECS: sample PID's CPU time every 0.1 s until it exits or
# SECS have passed. Sets CPU (seconds used meanwhile, up to its last
# sample), WALL (seconds watched) and ALIVE (1: still running at the end).
watch_cpu() {
	local pid=$1 secs=$2 c0 c t0
	c0=$(cpu_s "$pid")
	[ -n "$c0" ] || c0=0
	CPU=0
	ALIVE=1
	t0=$(date +%s.%N)
	while [ "$(echo "$(elapsed "$t0") < $secs" | bc)" = 1 ]; do
		c=$(cpu_s "$pid")
		if [ -z "$c" ]; then
			ALIVE=0
			break
		fi
		CPU=$(echo "$c - $c0" | bc)
		sleep 0.1
	done
	WALL=$(printf '%.2f' "$(elapsed "$t0")")
	CPU=$(printf '%.2f' "$CPU")
}

# lt A B: is A < B (decimals)?
lt() { [ "$(echo "$1 < $2" | bc)" = 1 ]; }

# neg_nodes D: store nodes of domain D's negotiation directories
# (conn/<peer>/<id>, bell/<port>/<bell>; the per-peer directories excluded).
neg_nodes() {
	(cd "$ST/$1/data/xsock" 2>/dev/null &&
		find conn bell -mindepth 2 -type d 2>/dev/null | wc -l) || echo 0
}

# inflight_nodes D: the same, less the refusals: what domain D keeps
# for negotiations still in flight (acknowledgements, offers, doorbells),
# read as one snapshot: under the store's shared lock (store.lock, which
# every change holds exclusively), so a request that leaves and one that
# takes its place while the scan runs are not both counted. A node without
# its value yet is not counted. The nodes counted (path, and state for an
# answer) are left in $WORK/inflight.now.
inflight_nodes() {
	flock -s "$XSOCK_LOCAL_DIR/store.lock" sh -c '
		cd "$1/data/xsock" 2>/dev/null || exit 0
		for d in conn/*/* bell/*/*; do
			[ -d "$d" ] || continue
			case $d in
			conn/*) [ -e "$d/.v" ] || continue
				st=
				while IFS= read -r l || [ -n "$l" ]; do
					for w in $l; do
						case $w in state=*) st=${w#state=} ;; esac
					done
				done <"$d/.v"
				[ "$st" = refused ] && continue
				echo "$d ${st:-?}" ;;
			*) echo "$d" ;;
			esac
		done' _ "$ST/$1" >"$WORK/inflight.now"
	wc -l <"$WORK/inflight.now"
}

# dom_nodes D: every store node of domain D's subtree.
dom_nodes() { find "$ST/$1" -type d 2>/dev/null | wc -l; }
