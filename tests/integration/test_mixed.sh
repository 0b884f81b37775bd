#!/bin/bash
# SPDX-License-Identifier: MIT
# One listening socket, two kinds of clients: a server under the shim in
# domain 2 serves a plain TCP client of its own domain and a ring client
# from domain 1 at the same time, on the same port; a listener bound to
# loopback is never advertised to other domains.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0

head -c 4M /dev/urandom >"$WORK/ring.in"
head -c 4M /dev/urandom >"$WORK/tcp.in"
shim 2 socat TCP-LISTEN:7501,fork,reuseaddr SYSTEM:"cat >$WORK/got.\$\$" &
PIDS+=($!)
wait_listen 2 7501
# both at once: a ring client from dom1, a TCP client (no shim) inside dom2
ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
	socat -u OPEN:"$WORK/ring.in" TCP:10.77.0.2:7501 &
c1=$!
dom 2 socat -u OPEN:"$WORK/tcp.in" TCP:127.0.0.1:7501 &
c2=$!
wait "$c1" || fail "ring client failed"
wait "$c2" || fail "TCP client failed"
n=0
while :; do
	sums=$(cat "$WORK"/got.* 2>/dev/null | wc -c)
	[ "$sums" = $((8 * 1048576)) ] && break
	n=$((n + 1)); [ $n -gt 100 ] && fail "server got $sums bytes, want 8 MiB"
	sleep 0.1
done
want=$(sha256sum "$WORK/ring.in" "$WORK/tcp.in" | cut -d' ' -f1 | sort)
got=$(sha256sum "$WORK"/got.* | cut -d' ' -f1 | sort)
[ "$want" = "$got" ] || fail "contents differ"
say "one listener served a ring client and a TCP client at once, both intact"

# a loopback-bound listener is not advertised
shim 2 socat -u TCP-LISTEN:7502,bind=127.0.0.1,reuseaddr OPEN:/dev/null &
PIDS+=($!)
sleep 0.5
[ ! -e "$XSOCK_LOCAL_DIR/store/local/domain/2/data/xsock/listen/7502" ] ||
	fail "a listener bound to 127.0.0.1 was advertised"
say "loopback listener not advertised"
say "PASS"
