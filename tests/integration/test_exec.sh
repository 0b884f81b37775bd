#!/bin/bash
# SPDX-License-Identifier: MIT
# exec() with an inherited ring connection (the inetd pattern: socat
# TCP-LISTEN,fork EXEC:...,nofork hands the accepted connection to the
# program as its stdin/stdout). A ring cannot cross exec, so the program
# finds its stdin at end-of-file and its writes fail (EPIPE), as with a TCP
# peer that closed; the client sees the connection end, promptly, and the
# server goes on serving. Meanwhile an exec in a child whose parent still
# uses the connection must not disturb the parent: socat's own fork (no
# exec) keeps working on the next connection. Nothing is left behind.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0

cat >"$WORK/prog.sh" <<PROG
#!/bin/sh
# what reaches the program on its inherited stdin (must be nothing: no
# stray readiness byte of the shim's), and whether its write is refused
n=\$(cat | wc -c)
echo reply 2>/dev/null
echo "read-bytes=\$n write-status=\$?" >>"$WORK/exec.out"
PROG
chmod +x "$WORK/prog.sh"
XSOCK_DEBUG=3 XSOCK_LOG="$WORK/srv.log" shim 2 \
	socat TCP-LISTEN:7801,fork,reuseaddr EXEC:"$WORK/prog.sh",nofork &
PIDS+=($!)
wait_listen 2 7801
for i in 1 2; do
	t=$(date +%s.%N)
	# (the client's own write may meet the closed connection: EPIPE, logged
	# by socat on stderr, as over TCP)
	out=$(echo "hello $i" | timeout 20 ip netns exec "xsit$$-1" env XSOCK_DOMID=1 \
		LD_PRELOAD="$PRELOAD" socat -t 10 - TCP:10.77.0.2:7801 2>"$WORK/cli$i.err")
	rc=$?
	dt=$(elapsed "$t")
	[ $rc = 124 ] && fail "client $i hung"
	[ -z "$out" ] || fail "client $i got data through an exec'd program: $out"
	awk -v d="$dt" 'BEGIN { exit !(d < 5) }' || fail "client $i took ${dt}s to see the end"
	say "client $i: connection ended after ${dt}s (the exec'd program saw it closed)"
done
grep -q "handed over closed" "$WORK/srv.log" || fail "no log line for the handover"
n=0
until [ "$(grep -c read-bytes= "$WORK/exec.out" 2>/dev/null)" = 2 ]; do
	n=$((n + 1)); [ $n -gt 50 ] && fail "the exec'd programs did not both finish: $(cat "$WORK/exec.out")"
	sleep 0.1
done
[ "$(grep -c "read-bytes=0 write-status=[1-9]" "$WORK/exec.out")" = 2 ] ||
	fail "the exec'd programs read something or could write: $(tr '\n' ' ' <"$WORK/exec.out")"
say "both exec'd programs read end-of-file, their writes failed: $(tr '\n' ' ' <"$WORK/exec.out")"

# The same server without exec (socat's forked child relays itself): rings work.
shim 2 socat TCP-LISTEN:7802,fork,reuseaddr PIPE &
PIDS+=($!)
wait_listen 2 7802
out=$(echo ping | timeout 20 ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
	socat -t 2 - TCP:10.77.0.2:7802 2>&1)
[ "$out" = ping ] || fail "forked relay without exec: got '$out'"
kill "${PIDS[@]}" 2>/dev/null
pkill -f "TCP-LISTEN:780[12]" 2>/dev/null
wait 2>/dev/null
PIDS=()
sleep 0.5
[ "$(count_grants)" = 0 ] || fail "grants left: $(count_grants)"
[ "$(count_evtchns)" = 0 ] || fail "event channels left: $(count_evtchns)"
say "PASS"
