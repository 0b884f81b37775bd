#!/bin/bash
# SPDX-License-Identifier: MIT
# TCP stream semantics through the shim, seen by an unmodified Python
# program in each of two isolated domains (semantics.py): peer address,
# socket options, half-close, MSG_PEEK, MSG_WAITALL, EPIPE on a closed
# peer, non-blocking EAGAIN and select() wake-up, epoll edge-triggered and
# one-shot, EPOLLRDHUP, poll() over rings and pipes, FIONREAD/SIOCOUTQ.
. "$(dirname "$0")/lib.sh"
need_root_netns
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
PY="$(dirname "$0")/semantics.py"

shim 2 timeout 60 /usr/bin/python3 "$PY" server 7401 >"$WORK/srv.out" 2>&1 &
PIDS+=($!)
wait_listen 2 7401
shim 1 timeout 60 /usr/bin/python3 "$PY" client 10.77.0.2 7401 >"$WORK/cli.out" 2>&1 ||
	{ cat "$WORK/cli.out" "$WORK/srv.out"; fail "client failed"; }
wait "${PIDS[0]}" || { cat "$WORK/srv.out"; fail "server failed"; }
sed 's/^/  server: /' "$WORK/srv.out"
sed 's/^/  client: /' "$WORK/cli.out"
[ "$(grep -c '^ok' "$WORK/srv.out")" = 15 ] || fail "server did not finish all steps"
say "PASS"
