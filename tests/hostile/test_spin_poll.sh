#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile peer, attack 1 ("spin forever on one word"), poll() + recv().
#
# As test_spin_recv.sh, but the victim (victim.py recv ... poll) waits in
# poll(POLLIN, up to 2 s) and reads with recv(MSG_DONTWAIT) when woken. The
# scribbled consumer index makes the shim's token logic (preload/ready.c
# ring_sync(), which asks xsr_poll(): own_reader false) put a token in the
# application's end, so the kernel says POLLIN, while the revents the shim
# computes from the ring (own reader: not fooled) say nothing: poll() loops
# between the two inside the shim, spinning, until its timeout.
#
# Asserts: poll() reports nothing for 2 s (no wake-up, the loop times out
# after 1.8-3 s), with < 0.2 s of CPU (/proc/<pid>/stat utime + stime).
# Before the fix: it times out after 2.0 s but burns ~1.9 s of CPU doing so.
# Now: "poll() timeout after ~2.0 s, 0 wake-ups, CPU ~0.0 s".
# Fixed (fix-ring): readiness takes our own indexes from struct xsr_own,
# never from the shared page, so no token stands for the lie.
. "$(dirname "$0")/hlib.sh"
need_hostile
setup_domains 2
tag_all 2
store_dir
export XSOCK_FALLBACK=0
PORT=7712

shim 2 timeout 30 /usr/bin/python3 "$VICTIM" recv $PORT 2 poll >"$WORK/v.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/v.out" listening 10 || { cat "$WORK/v.out"; fail "no server"; }
dom 1 timeout 30 "$HOSTILE" scribble --peer 2 --addr 10.77.0.2 --port $PORT --field cons \
	--secs 8 >"$WORK/a.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/v.out" accepted 10 || { cat "$WORK/v.out" "$WORK/a.out"; fail "no connection"; }
V=$(victim_pid "$WORK/v.out")
watch_cpu "$V" 4
line=$(grep '^recv:' "$WORK/v.out")
res=$(echo "$line" | sed -n 's/.*result=\([^ ]*\).*/\1/p')
el=$(echo "$line" | sed -n 's/.*elapsed=\([^ ]*\).*/\1/p')
wk=$(echo "$line" | sed -n 's/.*wakeups=\([^ ]*\).*/\1/p')
fig="poll() result ${res:-none} after ${el:-more than $WALL} s, ${wk:-?} wake-ups, CPU $CPU s over $WALL s"
[ "$ALIVE" = 0 ] || fail "$fig: the poll loop never ended"
[ "$res" = timeout ] || fail "$fig: want a timeout (nothing to read)"
lt "$el" 3.0 && lt 1.8 "$el" || fail "$fig: want ~2 s"
lt "$CPU" 0.2 || fail "$fig: the wait spins"
say "$fig"
say "PASS"
