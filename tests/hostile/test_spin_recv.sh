#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile peer, attack 1 ("spin forever on one word"), blocking recv().
#
# An unmodified server (victim.py recv ... block) under the shim accepts a
# ring connection and blocks in recv() with SO_RCVTIMEO = 2 s. The client
# (xsock-hostile scribble --field cons) sends nothing and keeps writing the
# server's own published consumer index (in_cons) to its producer index
# - 1. The shim's blocking wait (preload/io.c ring_wait()) asks xsr_poll(),
# which reads our own index back from the shared page (ring.c rx_observe()
# with own_reader false): "readable", while every read is EAGAIN, so recv()
# spins at 100% CPU and never reaches its timeout.
#
# Asserts: recv() fails with EAGAIN after 1.5-3 s, and the victim used
# < 0.2 s of CPU meanwhile (/proc/<pid>/stat utime + stime, all threads).
# Before the fix: recv() has not returned after 4 s, CPU ~4 s (one core spinning).
# Now: "recv() EAGAIN after ~2.0 s, CPU ~0.0 s".
# Fixed (fix-ring): readiness takes our own indexes from struct xsr_own,
# never from the shared page; a wait that still meets "ready, then EAGAIN"
# sleeps on the next notification after 3 misses (io.c).
. "$(dirname "$0")/hlib.sh"
need_hostile
setup_domains 2
tag_all 2
store_dir
export XSOCK_FALLBACK=0
PORT=7711

shim 2 timeout 30 /usr/bin/python3 "$VICTIM" recv $PORT 2 block >"$WORK/v.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/v.out" listening 10 || { cat "$WORK/v.out"; fail "no server"; }
dom 1 timeout 30 "$HOSTILE" scribble --peer 2 --addr 10.77.0.2 --port $PORT --field cons \
	--secs 8 >"$WORK/a.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/v.out" accepted 10 || { cat "$WORK/v.out" "$WORK/a.out"; fail "no connection"; }
V=$(victim_pid "$WORK/v.out")
watch_cpu "$V" 4
res=$(sed -n 's/^recv: .*result=\([^ ]*\).*/\1/p' "$WORK/v.out")
el=$(sed -n 's/^recv: .*elapsed=\([^ ]*\).*/\1/p' "$WORK/v.out")
fig="recv() result ${res:-none} after ${el:-more than $WALL} s (SO_RCVTIMEO 2 s), CPU $CPU s over $WALL s"
[ "$ALIVE" = 0 ] || fail "$fig: recv() never returned"
[ "$res" = EAGAIN ] || fail "$fig: want EAGAIN"
lt "$el" 3.0 && lt 1.5 "$el" || fail "$fig: want ~2 s"
lt "$CPU" 0.2 || fail "$fig: the wait spins"
say "$fig"
say "PASS"
