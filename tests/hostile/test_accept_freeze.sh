#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile peer, attack 3a: one peer freezes a server.
#
# An unmodified single-threaded server with a non-blocking listener
# (victim.py echo: Python selectors) under the shim in domain 2 serves an
# ordinary TCP client of its own domain over loopback (victim.py pinger:
# 16 bytes echoed every 0.1 s for 8 s). The attacker in domain 1
# (xsock-hostile stall --real 3) throws 3 ring requests it never attaches
# to, each with a live event channel and a life page whose byte stays 1.
# The server's accept() takes each doorbell and xs_acceptor_claim() waits
# in offer_wait() for the attach, up to XSOCK_ACCEPT_TIMEOUT_MS (5 s), with
# the acceptor lock held, although the listener is non-blocking: the whole
# server, its TCP client included, stops for 5 s (per request accepted:
# the doorbells of the others expire after those same 5 s, so an attacker
# who keeps throwing one now and then keeps the server stopped).
#
# Asserts: every echo of the TCP client is answered within 0.5 s.
# Today: the worst echo takes ~5 s (one per never-attaching request).
# Once fixed: "max 0.00x s, 0 over 0.5 s".
. "$(dirname "$0")/hlib.sh"
need_hostile
setup_domains 2
tag_all 2
store_dir
export XSOCK_FALLBACK=0 XSOCK_ACCEPT_TIMEOUT_MS=5000
PORT=7731

shim 2 /usr/bin/python3 "$VICTIM" echo $PORT >"$WORK/srv.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/srv.out" listening 10 || { cat "$WORK/srv.out"; fail "no server"; }
dom 2 timeout 60 /usr/bin/python3 "$VICTIM" pinger 127.0.0.1 $PORT 8 0.1 >"$WORK/ping.out" 2>&1 &
P=$!
PIDS+=($P)
sleep 0.5
dom 1 timeout 60 "$HOSTILE" stall --peer 2 --port $PORT --real 3 --secs 12 >"$WORK/a.out" 2>&1 &
PIDS+=($!)
wait "$P"
ping=$(grep '^pinger:' "$WORK/ping.out")
[ -n "$ping" ] || { cat "$WORK/ping.out"; fail "the TCP client failed"; }
max=$(echo "$ping" | sed -n 's/.*max=\([^ ]*\).*/\1/p')
late=$(echo "$ping" | sed -n 's/.*over_0.5s=\([^ ]*\).*/\1/p')
fig="TCP client of the server: $ping; ring requests never attached: 3"
lt "$max" 0.5 || fail "$fig: an echo took $max s"
say "$fig"
say "PASS"
