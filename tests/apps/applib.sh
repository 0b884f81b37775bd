# SPDX-License-Identifier: MIT
# Shared setup for the application tests (tests/apps/test_*.sh): an
# unmodified Debian server/client pair, run twice in the same test:
#   xsock  server in domain 2, client in domain 1, each in its own
#          loopback-only namespace, both under the shim, XSOCK_FALLBACK=0
#          (the ring is the only path between them);
#   tcp    both in domain 3, a third namespace, no shim: plain TCP over
#          loopback, the baseline the figures are printed next to.
# Builds on tests/integration/lib.sh (domains, shim, cleanup).
. "$(dirname "$0")/../integration/lib.sh"

# Under a sanitizer build the shim drags the ASan runtime into third-party
# servers (PostgreSQL, curl, ...), which is not what is being tested and
# makes some of them hang; the shim's own code is covered under the
# sanitizers by tests/unit and tests/integration.
case "${PRELOAD%%:*}" in
*asan*|*ubsan*) skip "application tests do not run under a sanitizer build" ;;
esac

# need_app PROGRAM PACKAGE: install PACKAGE when root, otherwise skip loudly.
need_app() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "installing $2 (for $1)"
		DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq "$2" \
			>/dev/null 2>&1
	fi
	command -v "$1" >/dev/null 2>&1 || skip "$1 not installed (apt-get install $2)"
}

# Domains 1 and 2 tagged as peers of each other; domain 3 is untagged.
setup_apps() {
	need_root_netns
	need_prog bc
	setup_domains 3
	tag_all 2
	export XSOCK_FALLBACK=0
}

# use_mode xsock|tcp: sets SRV and CLI (command prefixes: a domain and
# whether the shim is loaded), HOST (the server's address as the client
# names it) and MODE.
use_mode() {
	MODE=$1
	case $1 in
	xsock) SRV="shim 2"; CLI="shim 1"; HOST=$(addr_of 2); SRVDOM=2 ;;
	tcp) SRV="dom 3"; CLI="dom 3"; HOST=127.0.0.1; SRVDOM=3 ;;
	*) fail "use_mode: $1" ;;
	esac
}

# wait_server PORT [PID]: until the current mode's server listens on PORT
# (a ring listener advertised in xsock mode, a TCP listener in tcp mode);
# fails early if PID died.
wait_server() {
	local port=$1 pid=${2:-} n=0
	while :; do
		if [ "$MODE" = xsock ]; then
			[ -d "$XSOCK_LOCAL_DIR/store/local/domain/2/data/xsock/listen/$port" ] && break
		else
			dom 3 ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
		fi
		[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && fail "$MODE: server died before listening on port $port"
		n=$((n + 1))
		[ $n -gt 300 ] && fail "$MODE: no listener on port $port after 15 s"
		sleep 0.05
	done
}

# stop PID...: end a server started as "$SRV prog ... &" (PID is the
# subshell; the program is its child): TERM, KILL after 5 s, reaped.
stop() {
	local p c n
	for p in "$@"; do
		c=$(pgrep -P "$p")
		kill $c "$p" 2>/dev/null
		n=0
		while [ $n -lt 50 ]; do
			kill -0 $c "$p" 2>/dev/null || break
			sleep 0.1
			n=$((n + 1))
		done
		kill -9 $c "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	return 0
}

# wait_gone PID: until the server exits by itself (10 s), reaped; 1 if not.
wait_gone() {
	local n=0
	while [ -n "$(pgrep -P "$1")" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	[ -z "$(pgrep -P "$1")" ] || { stop "$1"; return 1; }
	wait "$1" 2>/dev/null
	return 0
}

# Servers get TERM first at exit (nginx's master then ends its workers,
# which a KILL would orphan), then lib.sh's cleanup.
trap 'stop "${PIDS[@]}" 2>/dev/null; cleanup 2>/dev/null' EXIT

# check_workers USER: while a load runs, the processes that serve ring
# connections (`xsockctl status` in the server's domain) must all be nginx
# workers running as USER, and at least two of them.
check_workers() {
	local user=$1 st per pids p n=0
	sleep 1
	st=$(ctl $SRVDOM status -j)
	# "COUNT PID" per serving process (wrk's connections spread over them).
	per=$(echo "$st" | grep -o '"pid":[0-9]*,"role":"server"' | cut -d: -f2 | cut -d, -f1 |
		sort | uniq -c)
	pids=$(echo "$per" | awk '{ print $2 }')
	for p in $pids; do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q 'worker process' ||
			fail "xsock: ring connection served by pid $p, not an nginx worker"
		[ "$(stat -c %U "/proc/$p")" = "$user" ] ||
			fail "xsock: worker $p runs as $(stat -c %U "/proc/$p"), not $user"
		n=$((n + 1))
	done
	[ $n -ge 2 ] || fail "xsock: ring connections served by $n worker(s), expected 2: $st"
	say "xsock: ring connections served by $n workers ($(echo $pids)), as $user;" \
		"connections each: $(echo "$per" | awk '{ print $1 }' | paste -sd+)"
}

# check_workers_loaded USER: check_workers under a wrk load of its own
# (http://$HOST:$PORT/small.txt, 2 s), before a measured run: xsockctl
# status and ps would take CPU from the measured run's xsock figure only.
check_workers_loaded() {
	local w
	$CLI timeout 20 wrk -t 2 -c 50 -d 2s "http://$HOST:$PORT/small.txt" >"$WORK/wrk.check" 2>&1 &
	w=$!
	check_workers "$1"
	wait $w || { cat "$WORK/wrk.check"; fail "xsock: wrk (check) failed"; }
}

# A results table, printed at the end: row NAME XSOCK TCP.
ROWS=()
# row FIGURE XSOCK TCP: a line of the table print_table() prints; with
# XSOCK_APPS_ROWS set (make bench: tests/bench/apps.sh), also appended there
# as "FIGURE<TAB>XSOCK<TAB>TCP".
row() {
	ROWS+=("$(printf '%-34s %22s %22s' "$1" "$2" "$3")")
	[ -z "${XSOCK_APPS_ROWS:-}" ] || printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$XSOCK_APPS_ROWS"
}
print_table() {
	local r
	say "$(printf '%-34s %22s %22s' "figure" "xsock (2 domains)" "tcp loopback")"
	for r in "${ROWS[@]}"; do say "$r"; done
}

# A shim log for diagnosis: XSOCK_APPS_DEBUG=4 keeps one per test in $WORK
# and prints its tail on failure.
if [ -n "${XSOCK_APPS_DEBUG:-}" ]; then
	export XSOCK_DEBUG=$XSOCK_APPS_DEBUG
	export XSOCK_LOG=/tmp/xsock-apps-$(basename "$0" .sh).log
	rm -f "$XSOCK_LOG"
fi
