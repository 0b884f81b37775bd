#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmodified socat in two isolated domains (loopback-only namespaces, so
# only the ring can carry data): 256 MiB of random data each way, SHA-256
# compared, then the leak counts.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
need_prog sha256sum coreutils
need_prog bc
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
SIZE_MB=${XSOCK_TEST_SIZE_MB:-256}

head -c "${SIZE_MB}M" /dev/urandom >"$WORK/in"
want=$(sha256sum <"$WORK/in" | cut -d' ' -f1)

# dom1 -> dom2: the server in domain 2 receives.
shim 2 socat -u TCP-LISTEN:7001,reuseaddr OPEN:"$WORK/out12",creat,trunc &
PIDS+=($!)
wait_listen 2 7001
t=$(date +%s.%N)
timeout 120 ip netns exec "xsit$$-1" env XSOCK_DOMID=1 LD_PRELOAD="$PRELOAD" \
	socat -u OPEN:"$WORK/in" TCP:10.77.0.2:7001 ||
	fail "client socat (dom1 -> dom2) failed"
wait "${PIDS[0]}" || fail "server socat (dom2) failed"
dt=$(elapsed "$t")
got=$(sha256sum <"$WORK/out12" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "dom1 -> dom2: checksum mismatch ($(stat -c %s "$WORK/out12") bytes arrived)"
say "dom1 -> dom2: ${SIZE_MB} MiB intact, $(mbps $((SIZE_MB * 1048576)) "$dt") Mbit/s"

# dom2 -> dom1: the server in domain 1 sends.
shim 1 socat -u OPEN:"$WORK/in" TCP-LISTEN:7002,reuseaddr &
PIDS+=($!)
wait_listen 1 7002
t=$(date +%s.%N)
timeout 120 ip netns exec "xsit$$-2" env XSOCK_DOMID=2 LD_PRELOAD="$PRELOAD" \
	socat -u TCP:10.77.0.1:7002 OPEN:"$WORK/out21",creat,trunc ||
	fail "client socat in dom2 failed"
wait "${PIDS[1]}" || fail "server socat (dom1) failed"
dt=$(elapsed "$t")
got=$(sha256sum <"$WORK/out21" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "dom1 (server) -> dom2 (client): checksum mismatch"
say "dom1 (server) -> dom2 (client): ${SIZE_MB} MiB intact, $(mbps $((SIZE_MB * 1048576)) "$dt") Mbit/s"

# Nothing left behind once both sides are gone.
sleep 0.2
[ "$(count_grants)" = 0 ] || fail "$(count_grants) grants leaked"
[ "$(count_evtchns)" = 0 ] || fail "$(count_evtchns) event channels leaked"
say "PASS"
