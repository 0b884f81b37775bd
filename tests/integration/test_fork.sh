#!/bin/bash
# SPDX-License-Identifier: MIT
# A server that forks after accept (socat ...,fork: the inetd/PostgreSQL
# pattern): the child serves the ring connection, the parent closes its
# copy and goes on accepting; the connection must survive the parent's
# close and end when the child closes. Echo of 8 MiB per client, three
# clients in a row and three at once, checksums compared, nothing leaked.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0

head -c 8M /dev/urandom >"$WORK/in"
shim 2 socat TCP-LISTEN:7301,fork,reuseaddr PIPE &
PIDS+=($!)
wait_listen 2 7301

client() { # $1: output file
	timeout 60 ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
		socat -t 30 OPEN:"$WORK/in"\!\!OPEN:"$1",creat,trunc TCP:10.77.0.2:7301
}
for i in 1 2 3; do
	client "$WORK/out$i" || fail "client $i failed"
	cmp -s "$WORK/in" "$WORK/out$i" || fail "client $i: echo differs ($(stat -c %s "$WORK/out$i") bytes)"
done
say "3 sequential clients: 8 MiB echoed intact by forked children"
cl=()
for i in 4 5 6; do client "$WORK/out$i" & cl+=($!); done
for p in "${cl[@]}"; do wait "$p" || fail "a concurrent client failed"; done
for i in 4 5 6; do
	cmp -s "$WORK/in" "$WORK/out$i" || fail "concurrent client $i: echo differs"
done
say "3 concurrent clients: intact"
# Forked children held the shared pages too (as gntalloc pages are
# inherited on Xen): the share ends with the last holder, and the local
# backend collects what such children left at its next share. Make one.
client "$WORK/out7" || fail "client 7 failed"
n=0
while [ "$(count_grants)" != 0 ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
[ "$(count_grants)" = 0 ] || fail "$(count_grants) grant files left 5 s after the last connection ended: $(ls "$XSOCK_LOCAL_DIR"/grant/*)"
[ "$(count_evtchns)" = 0 ] || fail "$(count_evtchns) event channels left"
say "PASS"
