#!/bin/bash
# SPDX-License-Identifier: MIT
# A ring connection crosses exec() (docs/protocol.md, "What crosses exec"):
# servers that hand the accepted connection to an exec'd program serve
# ring clients, the program reading and writing the ring on its inherited
# fd: socat EXEC (nofork: the program gets the connection as stdin and
# stdout; fork: socat relays), ncat --sh-exec, and a python server that
# starts the program with subprocess pass_fds (a shell redirecting it, and a
# python program using the fd itself), subprocess stdin/stdout,
# fork+dup2+execv (inetd), os.system(), popen(), os.posix_spawn() with
# dup2 file actions; an inetd-style handler's getpeername(0) names the
# client. Each client sends 1 MiB of random bytes over the
# ring (XSOCK_FALLBACK=0: no TCP path between the two domains) and must
# get back the sha256 of exactly those bytes.
# A program that does not run under the shim (LD_PRELOAD dropped from its
# environment, a set-user-ID program) reads end of file: never a readiness
# byte of the shim's. Nothing is left behind: grants, channels, and the
# python server's fds.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
need_prog ncat
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0

head -c 1048576 /dev/urandom >"$WORK/in"
want="$(sha256sum <"$WORK/in" | cut -d' ' -f1)  -"

# client PORT NAME: send the bytes from domain 1, print the answer. With
# KEEP set, the client does not shut its direction down for a while (ncat
# ends the connection when the client does, as over TCP).
client() {
	{ cat "$WORK/in"; [ -n "${KEEP:-}" ] && sleep 2; } |
		timeout 30 ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
		XSOCK_DEBUG=3 XSOCK_LOG="$WORK/cli-$2.log" \
		socat -t 20 - "TCP:$(addr_of 2):$1" 2>"$WORK/cli-$2.err"
}

# check PORT NAME: the answer is the sum of what was sent.
check() {
	local t out dt
	t=$(date +%s.%N)
	out=$(client "$1" "$2")
	dt=$(elapsed "$t")
	if [ "$out" != "$want" ]; then
		[ -n "${XSOCK_TEST_VERBOSE:-}" ] && grep -hv "store\|doorbell" "$WORK"/*.log | tail -40
		fail "$2: got '$out' (want '$want'), $(tr '\n' ' ' <"$WORK/cli-$2.err")"
	fi
	say "$2: 1 MiB through the exec'd program, sum matches (${dt}s)"
}

# socat: EXEC with nofork (the program's stdin/stdout are the ring), and
# without (socat relays through a socketpair of its own).
XSOCK_DEBUG=3 XSOCK_LOG="$WORK/socat.log" shim 2 \
	socat TCP-LISTEN:7801,fork,reuseaddr EXEC:sha256sum,nofork &
PIDS+=($!)
XSOCK_DEBUG=3 XSOCK_LOG="$WORK/socat2.log" shim 2 \
	socat TCP-LISTEN:7802,fork,reuseaddr EXEC:sha256sum &
PIDS+=($!)
XSOCK_DEBUG=3 XSOCK_LOG="$WORK/ncat.log" shim 2 \
	ncat -l -k --sh-exec "head -c 1048576 | sha256sum" 7803 &
PIDS+=($!)
wait_listen 2 7801
wait_listen 2 7802
wait_listen 2 7803
check 7801 socat-nofork
check 7801 socat-nofork-again
grep -q "handed over" "$WORK/socat.log" || fail "socat nofork: no hand-over logged"
grep -q "taken over from the old image" "$WORK/socat.log" ||
	fail "socat nofork: the exec'd program did not take the ring"
check 7802 socat-fork
KEEP=1 check 7803 ncat-sh-exec

# python: every way of starting the program.
cp /usr/bin/wc "$WORK/wc-setuid"
chown nobody "$WORK/wc-setuid"
chmod 4755 "$WORK/wc-setuid"
chmod 755 "$WORK"
MODES="passfds direct stdio inetd peer system popen spawn noshim setuid"
XSOCK_DEBUG=3 XSOCK_LOG="$WORK/py.log" shim 2 /usr/bin/python3 \
	"$(dirname "$0")/exec_server.py" 7804 "$WORK" $MODES >"$WORK/py.out" 2>&1 &
PIDS+=($!)
wait_listen 2 7804
for m in $MODES; do
	case $m in
	noshim | setuid)
		# (once the server has counted its fds: our doorbell would count)
		n=0
		until [ -s "$WORK/fdlist.after" ]; do
			n=$((n + 1)); [ $n -gt 100 ] && fail "python server did not count its fds"
			sleep 0.05
		done
		out=$(client 7804 "$m")
		[ -z "$out" ] || fail "$m: the client got '$out' from a program without the shim"
		n=0
		until [ -s "$WORK/$m.out" ]; do
			n=$((n + 1)); [ $n -gt 100 ] && fail "$m: the program did not finish"
			sleep 0.1
		done
		[ "$(tr -d ' \n' <"$WORK/$m.out")" = 0 ] ||
			fail "$m: the program without the shim read $(cat "$WORK/$m.out") bytes (readiness bytes?)"
		say "$m: the program without the shim read end of file (0 bytes), the client saw the end"
		;;
	peer)
		out=$(client 7804 "$m")
		[ "$out" = "peer 0 $(python3 -c 'import socket; print(int(socket.AF_INET))') $(addr_of 1) 1048576" ] ||
			fail "peer: the handler's getpeername(0) on its relayed stdin said '$out'"
		say "peer: the handler read 1 MiB from its stdin, getpeername(0) names the client: $out"
		;;
	*) check 7804 "py-$m" ;;
	esac
done
n=0
until [ -s "$WORK/fds.after" ]; do
	n=$((n + 1)); [ $n -gt 100 ] && fail "python server did not finish: $(cat "$WORK/py.out")"
	sleep 0.1
done
[ "$(cat "$WORK/fds.after")" -le "$(cat "$WORK/fds.before")" ] ||
	fail "python server fds: $(cat "$WORK/fds.before") before, $(cat "$WORK/fds.after") after: $(diff "$WORK/fdlist.before" "$WORK/fdlist.after" | tr '\n' ' ')"
say "python server fds: $(cat "$WORK/fds.before") before, $(cat "$WORK/fds.after") after the programs under the shim"
# A connection that a close() ends in the caller's thread is freed by the
# event thread at its next wake-up (evloop_close_end(): no wake-up per
# close): after the last one, its end B may still be open. Said, not failed.
[ "$(wc -l <"$WORK/fdlist.end")" -le "$(cat "$WORK/fds.before")" ] ||
	say "not freed yet (the event thread's next wake-up): $(diff "$WORK/fdlist.after" "$WORK/fdlist.end" | grep '^>' | tr '\n' ' ')"
grep -q "refused\|cannot be rebuilt" "$WORK"/*.log && fail "hand-over failures: $(grep -h "refused\|cannot be rebuilt" "$WORK"/*.log | head -3)"

# The client side (mapped pages) crosses exec too: xsock-forkpair connects
# and execs itself at once, the ring on the same fd (not stdio), and the new
# image (the same pid: it serves the ring) writes and reads 4 MiB through
# an echo server. The old image disarms its mapping's unmap notification
# before exec (on Xen exec's unmap would fire it), the new one arms its own.
FP="$TOP_BUILD/tests/xen/xsock-forkpair"
if [ -x "$FP" ]; then
	shim 2 socat TCP-LISTEN:7809,fork,reuseaddr PIPE &
	PIDS+=($!)
	wait_listen 2 7809
	out=$(XSOCK_DEBUG=3 XSOCK_LOG="$WORK/fp.log" shim 1 timeout 60 "$FP" exec-after-connect \
		"$(addr_of 2)" 7809 4194304 2>&1)
	echo "$out" | grep -q "^RC=0" || fail "client exec'd after connect: $(echo "$out" | tr '\n' ' ')"
	grep -q "taken over from the old image" "$WORK/fp.log" ||
		fail "client exec'd after connect: the new image did not take the ring"
	say "client exec'd after connect: 4 MiB echoed through the new image ($(echo "$out" | head -n 1))"
fi

kill "${PIDS[@]}" 2>/dev/null
wait 2>/dev/null
PIDS=()
sleep 0.5
[ "$(count_grants)" = 0 ] || fail "grants left: $(count_grants)"
[ "$(count_evtchns)" = 0 ] || fail "event channels left: $(count_evtchns)"
say "no grant or channel left"
say "PASS"
