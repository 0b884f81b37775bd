#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile peer, attack 1 ("spin forever on one word"), level-triggered epoll.
#
# An unmodified server (victim.py epoll) under the shim accepts a ring
# connection, makes it non-blocking and runs a level-triggered epoll loop
# (Python selectors) for 3 s, calling recv() whenever epoll says readable.
# The client (xsock-hostile scribble --field cons) sends nothing and keeps
# writing the server's own published consumer index to its producer index
# - 1, and kicks it. The shim reads that index back (ring.c rx_observe()
# with own_reader false, via xsr_poll() in ready.c and io.c): epoll says
# readable, and the non-blocking recv() never returns EAGAIN: its
# ring_wait() sees "readable" and retries the read for ever.
#
# Asserts: the 3 s loop ends (within 5 s), the victim used < 0.3 s of CPU
# meanwhile (/proc/<pid>/stat utime + stime), no data was "read".
# Before the fix: the loop never ends, CPU ~5 s over 5 s (recv() spinning).
# Now: "epoll loop done after 3.0 s: 0 wake-ups, CPU ~0.0 s".
# Fixed (fix-ring): readiness takes our own indexes from struct xsr_own;
# a non-blocking call retries at most once after "ready" (io.c).
. "$(dirname "$0")/hlib.sh"
need_hostile
setup_domains 2
tag_all 2
store_dir
export XSOCK_FALLBACK=0
PORT=7713

shim 2 timeout 30 /usr/bin/python3 "$VICTIM" epoll $PORT 3 >"$WORK/v.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/v.out" listening 10 || { cat "$WORK/v.out"; fail "no server"; }
dom 1 timeout 30 "$HOSTILE" scribble --peer 2 --addr 10.77.0.2 --port $PORT --field cons \
	--secs 10 >"$WORK/a.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/v.out" accepted 10 || { cat "$WORK/v.out" "$WORK/a.out"; fail "no connection"; }
V=$(victim_pid "$WORK/v.out")
watch_cpu "$V" 5
line=$(grep '^epoll:' "$WORK/v.out")
wk=$(echo "$line" | sed -n 's/.*wakeups=\([^ ]*\).*/\1/p')
data=$(echo "$line" | sed -n 's/.*data=\([^ ]*\).*/\1/p')
fig="epoll loop ${line:+done, }${wk:-?} wake-ups, ${data:-?} bytes read, CPU $CPU s over $WALL s"
[ "$ALIVE" = 0 ] || fail "$fig: the 3 s loop never ended (a call in it never returned)"
[ "$data" = 0 ] || fail "$fig: read bytes nobody sent"
lt "$CPU" 0.3 || fail "$fig: the loop spins"
say "$fig"
say "PASS"
