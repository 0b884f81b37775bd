#!/bin/bash
# SPDX-License-Identifier: MIT
# Timeouts and signals on ring sockets, compared with TCP loopback in the
# same run (xsock-limits, an ordinary TCP program): SO_RCVTIMEO; a
# blocking writer with SO_SNDTIMEO and a non-blocking writer against a
# peer that stops reading; recv, send and accept interrupted by a signal
# whose handler has no SA_RESTART (EINTR) or has it (the call restarts),
# and SA_RESTART with SO_RCVTIMEO (TCP: EINTR). Every line must match.
. "$(dirname "$0")/lib.sh"
need_root_netns
setup_domains 3
tag_all 2
export XSOCK_FALLBACK=0
LIM="$TOP_BUILD/tests/integration/xsock-limits"
[ -x "$LIM" ] || fail "no $LIM"

# TCP: both ends in domain 3, loopback, no shim.
dom 3 "$LIM" server 7501 127.0.0.1 7502 >"$WORK/tsrv.out" 2>&1 &
PIDS+=($!)
n=0
until dom 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/7501' 2>/dev/null; do
	n=$((n + 1)); [ $n -gt 100 ] && fail "TCP server did not start"; sleep 0.05
done
dom 3 timeout 60 "$LIM" client 127.0.0.1 7501 7502 >"$WORK/tcp.out" 2>&1 ||
	{ cat "$WORK/tcp.out"; fail "TCP client failed"; }

# Ring: server in domain 2, client in domain 1 (which also listens for
# the accept cases; the server connects back over a ring).
shim 2 "$LIM" server 7501 10.77.0.1 7502 >"$WORK/rsrv.out" 2>&1 &
PIDS+=($!)
wait_listen 2 7501
shim 1 timeout 60 "$LIM" client 10.77.0.2 7501 7502 >"$WORK/ring.out" 2>&1 ||
	{ cat "$WORK/ring.out"; fail "ring client failed"; }

printf '  %-28s | %-40s | %s\n' case "TCP loopback" ring
bad=0
while IFS= read -r tl && IFS= read -r rl <&3; do
	c=${tl%%:*}
	mark=""
	[ "$tl" = "$rl" ] || { mark="  <-- differs"; bad=$((bad + 1)); }
	printf '  %-28s | %-40s | %s%s\n' "$c" "${tl#*: }" "${rl#*: }" "$mark"
done <"$WORK/tcp.out" 3<"$WORK/ring.out"
[ "$(wc -l <"$WORK/tcp.out")" = "$(wc -l <"$WORK/ring.out")" ] ||
	{ cat "$WORK/ring.out"; fail "different number of results"; }
[ "$(wc -l <"$WORK/tcp.out")" -ge 10 ] || fail "too few results"
[ $bad = 0 ] || fail "$bad cases behave differently on the ring"
say "PASS"
