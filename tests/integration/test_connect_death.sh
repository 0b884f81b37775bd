#!/bin/bash
# SPDX-License-Identifier: MIT
# A client killed while its connect() waits for a slow accept() costs the
# server nothing (docs/protocol.md, "Liveness"): the server's accept()
# skips the dead client's request (its event channel cannot be bound) and
# returns the next, live client's connection at once, not after
# XSOCK_ACCEPT_TIMEOUT_MS; the live client's request is answered with
# its checksum; nothing of the dead one's negotiation is left in the
# server's tree, its request is swept from its own domain's tree by the
# next client's connect, and no grant or event channel is left anywhere.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog bc
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
# Far longer than the bound we measure: waiting for the dead client shows.
export XSOCK_ACCEPT_TIMEOUT_MS=8000 XSOCK_CONNECT_TIMEOUT_MS=20000
PY="$(dirname "$0")/slowaccept.py"
ST="$XSOCK_LOCAL_DIR/store/local/domain"
REQ="$ST/1/data/xsock/req/2"

# newreq OLD: wait until domain 1 has a request to domain 2 other than
# OLD; print its name.
newreq() {
	local n=0 r
	for n in $(seq 1 200); do
		r=$(ls "$REQ" 2>/dev/null | grep -v -x -F "${1:-none}" | head -1)
		[ -n "$r" ] && { echo "$r"; return; }
		sleep 0.05
	done
	fail "no new request after 10 s"
}

shim 2 /usr/bin/python3 "$PY" server 7601 "$WORK/go" >"$WORK/srv.out" 2>&1 &
SRV=$!
PIDS+=($SRV)
wait_listen 2 7601

shim 1 /usr/bin/python3 "$PY" client 10.77.0.2 7601 "doomed $$" >"$WORK/c1.out" 2>&1 &
PIDS+=($!)
R1=$(newreq "") || fail "the first client wrote no request"
sleep 0.3	# acknowledged by the listener, waiting for accept()
pkill -9 -f "slowaccept.py client 10.77.0.2 7601 doomed $$" || fail "no client to kill"
sleep 0.2

shim 1 /usr/bin/python3 "$PY" client 10.77.0.2 7601 "alive $$" >"$WORK/c2.out" 2>&1 &
C2=$!
PIDS+=($C2)
newreq "$R1" >/dev/null || fail "the second client wrote no request"
touch "$WORK/go"
wait "$C2" || { cat "$WORK/c2.out" "$WORK/srv.out"; fail "the live client failed"; }
wait "$SRV" || { cat "$WORK/srv.out"; fail "the server failed"; }
PIDS=()
out=$(cat "$WORK/srv.out")
say "$out"
echo "$out" | grep -q "accepted in .*: alive $$\$" || fail "accept() did not return the live client"
want=$(printf 'alive %s\n' "$$" | sha256sum | cut -d' ' -f1)
[ "$(cat "$WORK/c2.out")" = "$want" ] || fail "the live client's answer: $(cat "$WORK/c2.out")"
t=$(echo "$out" | sed -n 's/accepted in \([0-9.]*\) s.*/\1/p')
[ "$(echo "$t < 1.0" | bc)" = 1 ] || fail "accept() took $t s (the dead client was waited for)"

left=$(cd "$ST/2/data/xsock" && find conn bell -mindepth 2 2>/dev/null | grep -v '/\.[pv]$')
[ -z "$left" ] || fail "negotiation nodes left in the server's tree: $left"
# The dead client's request went with the live client's first connect.
[ ! -e "$REQ/$R1" ] || fail "the dead client's request $R1 is still there"
left=$(ls "$REQ")
[ -z "$left" ] || fail "requests left in the client's tree: $left"
# Both processes have exited; the last holder of a grant removes it.
n=0
while [ "$(count_grants)" != 0 ] && [ $n -lt 30 ]; do sleep 0.1; n=$((n + 1)); done
[ "$(count_grants)" = 0 ] || fail "grants left 3 s after both ends exited: $(count_grants)"
# The dead client's channel is collected by the next allocation on the host.
dom 1 "$XSOCKCTL" status >/dev/null 2>&1
say "accept() returned the live client after $t s; grants 0; event channels $(count_evtchns)"
[ "$(count_evtchns)" = 0 ] || fail "event channels left: $(count_evtchns)"
say "PASS"
