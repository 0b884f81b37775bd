#!/bin/bash
# SPDX-License-Identifier: MIT
# Attack 6b: close() from a signal handler.
#
# No attacker: an ordinary C program (sigclose) under the shim connects to
# an echo server (victim.py echo, under the shim) over a ring, puts the
# socket in an epoll set, and for 3 s keeps a dup() of it open while it
# loops on epoll_wait(timeout 0); a SIGALRM every 200 us closes the dup
# from the handler (close() is async-signal-safe). The shim's close()
# takes locks the interrupted thread may hold (preload/wait.c
# wait_fd_closed() takes ep_lock, which epoll_wait() holds in ep_rings();
# shim.c shim_remove() the table lock): the handler then waits for itself.
#
# Asserts: the program ends its 3 s loop (within 15 s) having closed
# dups from the handler.
# Before the fix: it deadlocks within the first signals (killed after 15 s).
# Now: "secs=3.0 signals=~15000 closes=~N".
# Fixed (fix-ring): close() in a handler that interrupted the shim does
# only the lock-free part and defers the rest (preload/defer.c).
. "$(dirname "$0")/hlib.sh"
need_hostile
SIGCLOSE="$TOP_BUILD/tests/hostile/sigclose"
[ -x "$SIGCLOSE" ] || fail "no $SIGCLOSE (make check builds it)"
setup_domains 2
tag_all 2
store_dir
export XSOCK_FALLBACK=0
PORT=7762

shim 2 /usr/bin/python3 "$VICTIM" echo $PORT >"$WORK/srv.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/srv.out" listening 10 || { cat "$WORK/srv.out"; fail "no server"; }
rc=0
shim 1 timeout 15 "$SIGCLOSE" 10.77.0.2 $PORT 3 >"$WORK/c.out" 2>&1 || rc=$?
line=$(grep '^sigclose:' "$WORK/c.out")
fig="${line:-no output} (exit $rc)"
[ $rc != 124 ] || fail "$fig: deadlocked (killed after 15 s)"
[ $rc = 0 ] || { cat "$WORK/c.out"; fail "$fig"; }
case "$line" in *" closes=0 "*) fail "$fig: no close() ran in the handler" ;; esac
say "$fig"
say "PASS"
