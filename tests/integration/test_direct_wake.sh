#!/bin/bash
# SPDX-License-Identifier: MIT
# Direct wake-ups (preload/direct.c): a thread asleep waiting for a ring is
# woken by the peer's notification itself, not by the event thread, which
# stays asleep (docs/performance.md, "Waiting").
#
# A python echo server in domain 2 (blocking recv(): io.c's sleep) and a
# python client in domain 1 make ROUNDS round trips of 64 random bytes
# with a 2 ms idle gap after each (both ends sleep between requests, as
# request/response traffic does), the client waiting for each answer in
# the way its argument says: epoll (selectors), select() or a blocking
# recv(). Each process counts its event thread's context switches (the
# thread named xsock-ev) over the round trips.
#
# Asserts: every answer equals its request; each event thread switched
# fewer than ROUNDS/2 times plus its sweeps' (two per 20 ms); without
# direct wake-ups (XSOCK_DIRECT=0) every request and every answer wakes
# one: more than ROUNDS plus its sweeps';
# the server restarts its blocking recv() after a SA_RESTART handler (a
# SIGUSR1 sent mid-run, handled, not seen as EINTR); nothing is left.
# Python's own SIGINT handler has no SA_RESTART: the blocking recv()
# sleeps with SIGINT blocked and watched by a signalfd (preload/signals.c).
. "$(dirname "$0")/lib.sh"
need_root_netns
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
ROUNDS=1000

# ev_switches(), arena_kb()
cp "$(dirname "$0")/evthread.py" "$WORK/ev.py"

cat >"$WORK/srv.py" <<'PY'
import os, signal, socket, sys
sys.path.insert(0, sys.argv[1])
from ev import ev_switches
got = []
signal.signal(signal.SIGUSR1, lambda *a: got.append(1))
signal.siginterrupt(signal.SIGUSR1, False)	# SA_RESTART
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2]) if len(sys.argv) > 2 else 7822))
s.listen(4)
print("pid", os.getpid(), flush=True)
while True:
    c, _ = s.accept()
    first = True
    while True:
        try:
            b = c.recv(64)
        except InterruptedError:
            print("EINTR", flush=True)
            sys.exit(3)
        if not b:
            break
        if first:
            e0, first = ev_switches(), False
        c.sendall(b)
    print("server ev", ev_switches() - e0, "signals", len(got), flush=True)
    c.close()
PY

cat >"$WORK/cli.py" <<'PY'
import os, select, selectors, signal, socket, sys, time
sys.path.insert(0, sys.argv[1])
from ev import ev_switches
how, rounds, host = sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = socket.create_connection((host, int(sys.argv[5]) if len(sys.argv) > 5 else 7822))
sel = None
if how == "epoll":
    c.setblocking(False)
    sel = selectors.EpollSelector()
    sel.register(c, selectors.EVENT_READ)
def recv64():
    b = b""
    while len(b) < 64:
        if how == "epoll":
            sel.select()
        elif how == "select":
            select.select([c], [], [])
        try:
            d = c.recv(64 - len(b))
        except BlockingIOError:
            continue
        if not d:
            raise SystemExit("server closed")
        b += d
    return b
bad = 0
for i in range(rounds + 1):
    m = os.urandom(64)
    c.sendall(m) if how != "epoll" else (select.select([], [c], []), c.send(m))
    if recv64() != m:
        bad += 1
    if i == 0:
        e0, t0 = ev_switches(), time.monotonic()
    time.sleep(0.002)
ms = int((time.monotonic() - t0) * 1000)
print("client", how, "ev", ev_switches() - e0, "bad", bad, "ms", ms, flush=True)
c.close()
PY

g0=$(count_grants)
e0=$(count_evtchns)
shim 2 /usr/bin/python3 "$WORK/srv.py" "$WORK" >"$WORK/srv.out" 2>&1 &
PIDS+=($!)
wait_listen 2 7822
wait_line "$WORK/srv.out" '^pid '
spid=$(awk '/^pid/ {print $2}' "$WORK/srv.out")
for how in epoll select blocking; do
	( sleep 1; kill -USR1 "$spid" ) &
	K=$!
	shim 1 timeout 60 /usr/bin/python3 "$WORK/cli.py" "$WORK" "$how" "$ROUNDS" "$(addr_of 2)" \
		>"$WORK/cli.$how" 2>&1 || fail "client ($how): $(tail -3 "$WORK/cli.$how")"
	wait "$K"
	sleep 0.3
	read -r _ _ _ cev _ bad _ ms < <(grep '^client' "$WORK/cli.$how")
	# The sweeps' wake-ups (two per XSOCK_SWEEP_MS, 20 ms) are allowed on
	# top of ROUNDS/2; each request (server) and each answer (client)
	# woke the event thread before: ROUNDS more.
	max=$((ROUNDS / 2 + 2 * ms / 20))
	sl=$(grep '^server ev' "$WORK/srv.out" | tail -1)
	grep -q EINTR "$WORK/srv.out" && fail "server's blocking recv() failed with EINTR after a SA_RESTART handler"
	read -r _ _ sev _ sig <<<"$sl"
	say "$how: $ROUNDS round trips in $ms ms, bad answers $bad; event thread switches: client $cev, server $sev (bound $max); server signals handled $sig"
	[ "$bad" = 0 ] || fail "$how: $bad answers differ from their requests"
	[ "$cev" -ge 0 ] && [ "$sev" -ge 0 ] || fail "$how: no event thread named xsock-ev found"
	[ "$sig" -ge 1 ] || fail "$how: the server's SIGUSR1 handler did not run"
	[ "$cev" -lt "$max" ] ||
		fail "$how: the client's event thread was woken $cev times in $ROUNDS round trips"
	[ "$sev" -lt "$max" ] ||
		fail "$how: the server's event thread was woken $sev times in $ROUNDS round trips"
done
# The token: a thread woken by a ring's channel that reads the ring itself
# (a blocking call, poll/select) gives A no token for data only it was
# waiting for (ready.c, sock_sleep_end()): no send() of one as it wakes
# and no recv() to take it back after the read. Counted by strace in a
# second server (blocking recv(), asleep in each 2 ms gap): a separate
# run, as tracing wakes its event thread too.
if command -v strace >/dev/null; then
	shim 2 strace -f -c -o "$WORK/st.srv" -e trace=sendto,recvfrom \
		/usr/bin/python3 "$WORK/srv.py" "$WORK" 7823 >"$WORK/srv2.out" 2>&1 &
	PIDS+=($!)
	wait_listen 2 7823
	# Under strace the pid line comes well after the listen node.
	wait_line "$WORK/srv2.out" '^pid ' 20
	spid2=$(awk '/^pid/ {print $2}' "$WORK/srv2.out")
	shim 1 timeout 60 /usr/bin/python3 "$WORK/cli.py" "$WORK" blocking 300 "$(addr_of 2)" 7823 \
		>"$WORK/cli.st" 2>&1 || fail "client (strace run): $(tail -3 "$WORK/cli.st")"
	sleep 0.3
	kill "$spid2"
	reap "${PIDS[-1]}" 20 2>/dev/null
	calls=$(awk '$NF == "sendto" || $NF == "recvfrom" { n += $4 } END { print n + 0 }' \
		"$WORK/st.srv")
	read -r _ _ _ _ _ bad _ ms < <(grep '^client' "$WORK/cli.st")
	say "300 round trips in $ms ms, server under strace: $calls sendto/recvfrom system calls"
	[ "$bad" = 0 ] || fail "strace run: $bad answers differ from their requests"
	# Sweeps (one per 20 ms) may each raise a token and take it back.
	[ "$calls" -lt $((150 + 2 * ms / 20)) ] ||
		fail "$calls sendto/recvfrom calls in 300 round trips: a token per wake-up"
else
	say "strace not installed: token count not checked"
fi
kill "$spid" 2>/dev/null
sleep 1
[ "$(count_grants)" = "$g0" ] || fail "grants left: $(count_grants) (before: $g0)"
[ "$(count_evtchns)" = "$e0" ] || fail "event channels left: $(count_evtchns) (before: $e0)"
say "PASS"
