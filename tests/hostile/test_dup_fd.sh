#!/bin/bash
# SPDX-License-Identifier: MIT
# Attack 5: the shim does I/O on an unrelated fd after dup() + close().
#
# No attacker: an ordinary client (victim.py dup) under the shim connects
# to an echo server (victim.py echo, under the shim) over a ring, then
# d = dup(fd); close(d); and opens a socketpair, whose first end gets the
# number d again. preload/shim.c shim_install() overwrote the ring
# socket's s->fd with d at the dup and nothing repaired it at the close, so
# the shim's own waits (preload/io.c ring_wait(): recv(MSG_PEEK), send() of
# a filler byte, poll, fcntl) now go to the socketpair: a blocked recv() on
# fd sleeps on the wrong socket, a blocked send() writes a byte into it.
#
# Asserts: within 20 s, poll(fd, POLLOUT) says writable, 4 MB go through fd
# and come back with the same checksum, and neither end of the socketpair
# received a byte.
# Before the fix: the client hangs (killed after 20 s), or the socketpair gets the
# shim's filler bytes.
# Now: "4194304 bytes checksum ok, stray bytes 0,0".
# Fixed (fix-ring): the shim keeps no fd number of the application's and
# works on end A only through the fd the call came in on.
. "$(dirname "$0")/hlib.sh"
need_hostile
setup_domains 2
tag_all 2
store_dir
export XSOCK_FALLBACK=0
PORT=7751
N=4194304

shim 2 /usr/bin/python3 "$VICTIM" echo $PORT >"$WORK/srv.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/srv.out" listening 10 || { cat "$WORK/srv.out"; fail "no server"; }
t0=$(date +%s.%N)
rc=0
shim 1 timeout 20 /usr/bin/python3 "$VICTIM" dup 10.77.0.2 $PORT $N >"$WORK/c.out" 2>&1 || rc=$?
el=$(printf '%.1f' "$(elapsed "$t0")")
line=$(grep '^dup:' "$WORK/c.out")
[ $rc = 124 ] && fail "the client hung: killed after $el s (${line:-no output})"
[ -n "$line" ] || { cat "$WORK/c.out"; fail "the client failed (exit $rc)"; }
fig="$line, $el s"
[ $rc = 0 ] || fail "$fig"
say "$fig"
say "PASS"
