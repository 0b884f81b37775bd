#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile peer, attack 2: store nodes leak into the server's quota.
#
# An unmodified single-threaded echo server (victim.py echo) under the shim
# in domain 2; domain 1 is registered with it. After a good client has
# been served (so that the per-peer directories exist), the attacker in
# domain 1 (xsock-hostile flood) writes 10,000 bad requests, 100 at a
# time, each batch removed once the server answered it (as a client does):
# malformed values (refused: "state=refused err=EPROTO"), ids of 17-20 hex
# digits and ids that are not hex (acknowledged with "state=wait", then
# rejected by the acceptor as a malformed doorbell record), and
# well-formed requests that vanish at once. The refusals used to stay for
# ever, and so did the acknowledgements of the ids xs_acceptor_claim()
# rejected, piling up in the server's tree against its store quota
# (XSOCK_STORE_NODE_QUOTA, 10,000 nodes).
#
# Asserts: within 15 s of the flood, the server domain's node count (its
# whole subtree, store/local/domain/2) is back to what it was (tolerance
# 0); its fds, the host's grants and channels too; a good client is still
# served (1 MB echoed, checksummed).
# Before the fix (issue 19): "server nodes 11 -> 7511" (flood: refused=2500
# acked=5000).
# Since (ids checked before anything is written: bad ones are ignored; a
# refusal goes when its request goes): "server nodes 12 -> 12" (flood:
# refused=2500 acked=0 ignored=5000).
. "$(dirname "$0")/hlib.sh"
need_hostile
setup_domains 2
tag_all 2
store_dir
export XSOCK_FALLBACK=0
PORT=7721
COUNT=${XSOCK_HOSTILE_COUNT:-10000}

shim 2 /usr/bin/python3 "$VICTIM" echo $PORT >"$WORK/srv.out" 2>&1 &
PIDS+=($!)
wait_line "$WORK/srv.out" listening 10 || { cat "$WORK/srv.out"; fail "no server"; }
S=$(victim_pid "$WORK/srv.out")
good() {
	shim 1 timeout 30 /usr/bin/python3 "$VICTIM" echo-client 10.77.0.2 $PORT 1000000 \
		>"$WORK/good.out" 2>&1
	grep -q 'checksum=ok' "$WORK/good.out"
}
good || { cat "$WORK/good.out"; fail "the first good client was not served"; }
sleep 0.5
n0=$(dom_nodes 2) f0=$(count_fds "$S") g0=$(count_grants) e0=$(count_evtchns)
dom 1 timeout 600 "$HOSTILE" flood --peer 2 --port $PORT --count "$COUNT" >"$WORK/a.out" 2>&1 ||
	{ cat "$WORK/a.out"; fail "the attacker failed"; }
flood=$(grep '^flood:' "$WORK/a.out")
# Give the server time to tidy up after the last batch.
t1=$(date +%s.%N)
while lt "$(elapsed "$t1")" 15 && [ "$(dom_nodes 2)" -gt "$n0" ]; do
	sleep 0.2
done
n1=$(dom_nodes 2) f1=$(count_fds "$S") g1=$(count_grants) e1=$(count_evtchns)
good && ok=ok || ok=FAILED
fig="$COUNT bad requests: server nodes $n0 -> $n1, fds $f0 -> $f1, grants $g0 -> $g1,"
fig="$fig channels $e0 -> $e1; good client $ok ($flood)"
left=$(cd "$ST/2/data/xsock" && find conn -mindepth 2 -type d | head -1)
[ "$n1" -le "$n0" ] || fail "$fig: $((n1 - n0)) nodes left (e.g. \"$(cat "$ST/2/data/xsock/$left/.v")\")"
[ "$f1" -le "$f0" ] || fail "$fig: fds left"
[ "$g1" -le "$g0" ] && [ "$e1" -le "$e0" ] || fail "$fig: grants or channels left"
[ "$ok" = ok ] || { cat "$WORK/good.out"; fail "$fig: the good client was not served"; }
say "$fig"
say "PASS"
