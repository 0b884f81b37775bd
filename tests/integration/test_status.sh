#!/bin/bash
# SPDX-License-Identifier: MIT
# `xsockctl status` in both domains shows the live ring connection with
# its peer, ports, role and the exact bytes moved; nothing once it ends.
# Also: a server that only select()s before reading must be woken by the
# first bytes of a connection it has just accepted.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0

shim 2 socat -u TCP-LISTEN:7201,reuseaddr OPEN:/dev/null &
PIDS+=($!)
wait_listen 2 7201
(head -c 1234567 /dev/zero; sleep 3) |
	ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
		socat -u STDIN TCP:10.77.0.2:7201 &
PIDS+=($!)
n=0
while :; do
	c=$(ctl 1 status -j)
	s=$(ctl 2 status -j)
	case "$c$s" in
	*'"bytes_out":1234567'*'"bytes_in":1234567'*) break ;;
	esac
	n=$((n + 1)); [ $n -gt 100 ] && fail "status never showed 1234567 bytes each side: $c $s"
	sleep 0.05
done
echo "$c" | grep -q '"role":"client","peer_domain":2,"peer_address":"10.77.0.2"' ||
	fail "client status: $c"
echo "$c" | grep -q '"peer_port":7201' || fail "client status port: $c"
echo "$s" | grep -q '"role":"server","peer_domain":1,"peer_address":"10.77.0.1","local_port":7201' ||
	fail "server status: $s"
ctl 1 status | grep -q "client 2 *10.77.0.2 .*1234567 .*connected" || fail "status table: $(ctl 1 status)"
say "status: $(ctl 2 status | tail -1)"
wait "${PIDS[1]}"
sleep 0.3
ctl 1 status | grep -q "no live ring connections" || fail "client status after close: $(ctl 1 status)"
ctl 2 status | grep -q "no live ring connections" || fail "server status after close: $(ctl 2 status)"
say "PASS"
