#!/bin/bash
# SPDX-License-Identifier: MIT
# A server that refuses a client by sending a last message and closing on
# accept (redis in protected mode, an SMTP 421, an HTTP 503): over TCP the
# client's request, written after that close, is still taken (the
# server's kernel answers it with a reset), the client reads the refusal,
# then end of stream, and only its next write fails (EPIPE, or SIGPIPE).
# last_words.py checks each step over TCP loopback first (the reference),
# then across two domains through the shim. Then the same with unmodified
# redis-cli against redis-server's protected mode, when both are
# installed: redis-cli must print the refusal and exit 0, not die of
# SIGPIPE (exit 141).
. "$(dirname "$0")/lib.sh"
need_root_netns
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 3
tag_all 2
export XSOCK_FALLBACK=0
PY="$(dirname "$0")/last_words.py"

# run MODE: the server and the client of last_words.py.
run() {
	local mode=$1 srv cli addr port mark=$WORK/closed.$1
	case $mode in
	tcp) srv="dom 3" cli="dom 3" addr=127.0.0.1 port=7461 ;;
	xsock) srv="shim 2" cli="shim 1" addr=$(addr_of 2) port=7462 ;;
	esac
	$srv timeout 30 /usr/bin/python3 "$PY" server $port "$mark" >"$WORK/srv.$mode" 2>&1 &
	local pid=$!
	PIDS+=($pid)
	wait_line "$WORK/srv.$mode" listening
	[ $mode = xsock ] && wait_listen 2 $port
	$cli timeout 30 /usr/bin/python3 "$PY" client "$addr" $port "$mark" >"$WORK/cli.$mode" 2>&1 ||
		{ cat "$WORK/cli.$mode" "$WORK/srv.$mode"; fail "$mode: client failed"; }
	reap $pid || { cat "$WORK/srv.$mode"; fail "$mode: server failed"; }
	[ "$(grep -c '^ok' "$WORK/cli.$mode")" = 4 ] || { cat "$WORK/cli.$mode"; fail "$mode: client steps"; }
	sed "s/^/  $mode client: /" "$WORK/cli.$mode"
}
run tcp
run xsock

if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
	# Protected mode (the default without a password) refuses clients
	# that are not on loopback: an xsock client is 10.77.0.1.
	shim 2 redis-server --port 7463 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
	PIDS+=($!)
	wait_listen 2 7463
	out=$(shim 1 timeout 10 redis-cli -h "$(addr_of 2)" -p 7463 ping 2>&1)
	rc=$?
	[ $rc = 0 ] || fail "redis-cli exited $rc (141: SIGPIPE), printed: $out"
	case $out in
	DENIED*) say "redis-cli through the shim printed the refusal and exited 0" ;;
	*) fail "redis-cli printed: $out" ;;
	esac
else
	say "redis-server or redis-cli not installed: the redis part did not run"
fi
say "PASS"
