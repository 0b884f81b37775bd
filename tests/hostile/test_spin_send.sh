#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile peer, attack 1 ("spin forever on one word"), blocking send().
#
# An unmodified server (victim.py send) under the shim accepts a ring
# connection and sends with SO_SNDTIMEO = 2 s until a send() fails. The
# client (xsock-hostile scribble --field prod) reads nothing, so the ring
# fills, and keeps writing the server's own published producer index to
# the client's consumer index: the ring "looks" empty. The shim's blocking
# wait for room asks xsr_poll(), whose tx_observe() reads our own producer
# index back from the shared page: "writable", while every write is
# EAGAIN, so send() spins and never reaches its timeout.
#
# Asserts: the blocked send() fails with EAGAIN after 1.5-3 s, with
# < 0.2 s of CPU meanwhile (/proc/<pid>/stat utime + stime).
# Before the fix: send() has not returned after 4 s, CPU ~4 s.
# Now: "send() EAGAIN after ~2.0 s, CPU ~0.0 s".
# Fixed (fix-ring): readiness takes our own producer index from struct
# xsr_own, never from the shared page.
. "$(dirname "$0")/hlib.sh"
need_hostile
setup_domains 2
tag_all 2
store_dir
export XSOCK_FALLBACK=0
PORT=7714

shim 2 timeout 30 /usr/bin/python3 "$VICTIM" send $PORT 2 >"$WORK/v.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/v.out" listening 10 || { cat "$WORK/v.out"; fail "no server"; }
dom 1 timeout 30 "$HOSTILE" scribble --peer 2 --addr 10.77.0.2 --port $PORT --field prod \
	--secs 8 >"$WORK/a.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/v.out" accepted 10 || { cat "$WORK/v.out" "$WORK/a.out"; fail "no connection"; }
V=$(victim_pid "$WORK/v.out")
watch_cpu "$V" 4
line=$(grep '^send:' "$WORK/v.out")
res=$(echo "$line" | sed -n 's/.*result=\([^ ]*\).*/\1/p')
el=$(echo "$line" | sed -n 's/.*elapsed=\([^ ]*\).*/\1/p')
fig="send() result ${res:-none} after ${el:-more than $WALL} s (SO_SNDTIMEO 2 s), CPU $CPU s over $WALL s"
[ "$ALIVE" = 0 ] || fail "$fig: send() never returned"
[ "$res" = EAGAIN ] || fail "$fig: want EAGAIN"
lt "$el" 3.0 && lt 1.5 "$el" || fail "$fig: want ~2 s"
lt "$CPU" 0.2 || fail "$fig: the wait spins"
say "$fig"
say "PASS"
