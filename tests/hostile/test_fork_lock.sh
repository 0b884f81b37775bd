#!/bin/bash
# SPDX-License-Identifier: MIT
# Attack 6a: fork() while another thread blocks in recv() on a ring.
#
# An ordinary server (victim.py fork) under the shim accepts a ring
# connection from an idle, honest peer (xsock-hostile scribble --field
# none); a thread blocks in recv() on it (preload/io.c ring_recv() holds
# the socket's rlock while it sleeps), the main thread forks, and the child
# sets SO_RCVTIMEO = 1 s and calls recv() on the same socket, as a server
# that forks after accept() does (side A's pages survive fork()). The
# child's copy of the rlock is locked by a thread that does not exist in
# the child: its recv() waits for ever.
#
# Asserts: the child's recv() returns (EAGAIN after its 1 s timeout, or
# data) within 5 s.
# Before the fix: the child is stuck (killed after 5 s).
# Now: "child recv() EAGAIN after ~1.0 s".
# Fixed (fix-ring): the reader's lock is shared with forked children
# (robust) and never held across a wait.
. "$(dirname "$0")/hlib.sh"
need_hostile
setup_domains 2
tag_all 2
store_dir
export XSOCK_FALLBACK=0
PORT=7761

shim 2 timeout 20 /usr/bin/python3 "$VICTIM" fork $PORT >"$WORK/c.out" 2>&1 &
V=$!
PIDS+=($V)
wait_line "$WORK/c.out" listening 10 || { cat "$WORK/c.out"; fail "no server"; }
dom 1 timeout 20 "$HOSTILE" scribble --peer 2 --addr 10.77.0.2 --port $PORT --field none \
	--secs 10 >"$WORK/a.out" 2>&1 &
PIDS+=($!)
rc=0
wait "$V" || rc=$?
line=$(grep '^fork:' "$WORK/c.out")
fig="${line:-no output} (exit $rc)"
[ $rc != 124 ] || fail "$fig: the server hung"
case "$line" in
*"recv=stuck"*) fail "$fig: the child's recv() never returned" ;;
*"recv=EAGAIN"* | *"recv="*-bytes*) ;;
*) cat "$WORK/c.out"; fail "$fig" ;;
esac
say "$fig"
say "PASS"
