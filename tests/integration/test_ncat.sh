#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmodified ncat (which select()s on its sockets) in two isolated domains:
# 256 MiB of random data each way, SHA-256 compared.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog ncat
need_prog bc
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
SIZE_MB=${XSOCK_TEST_SIZE_MB:-256}

head -c "${SIZE_MB}M" /dev/urandom >"$WORK/in"
want=$(sha256sum <"$WORK/in" | cut -d' ' -f1)

shim 2 ncat -l 7003 --recv-only >"$WORK/out12" &
PIDS+=($!)
wait_listen 2 7003
t=$(date +%s.%N)
timeout 120 ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
	ncat --send-only 10.77.0.2 7003 <"$WORK/in" || fail "client ncat in dom1 failed"
timeout 30 tail --pid="${PIDS[0]}" -f /dev/null || fail "server ncat in dom2 did not finish"
dt=$(elapsed "$t")
got=$(sha256sum <"$WORK/out12" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "dom1 -> dom2: checksum mismatch ($(stat -c %s "$WORK/out12") bytes)"
say "dom1 (client) -> dom2 (server): ${SIZE_MB} MiB intact, $(mbps $((SIZE_MB * 1048576)) "$dt") Mbit/s"

shim 1 ncat -l 7004 --send-only <"$WORK/in" &
PIDS+=($!)
wait_listen 1 7004
t=$(date +%s.%N)
timeout 120 ip netns exec "xsit$$-2" env XSOCK_DOMID=2 LD_PRELOAD="$PRELOAD" \
	ncat --recv-only 10.77.0.1 7004 >"$WORK/out21" || fail "client ncat in dom2 failed"
dt=$(elapsed "$t")
got=$(sha256sum <"$WORK/out21" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "dom1 -> dom2 (server sends): checksum mismatch ($(stat -c %s "$WORK/out21") bytes)"
say "dom1 (server) -> dom2 (client): ${SIZE_MB} MiB intact, $(mbps $((SIZE_MB * 1048576)) "$dt") Mbit/s"
say "PASS"
