#!/bin/bash
# SPDX-License-Identifier: MIT
# Discovery (issue 17 item 5) on the local backend: domain 0 runs
# `xsockctl discover --once` with a policy that lets alpha (1) and beta (2)
# reach each other and names three domains' addresses; with no `peer add`
# anywhere, alpha and beta exchange 8 MiB each way (SHA-256 compared),
# while delta (3), which the policy leaves out, gets no route, and its own
# `peer add` of alpha is refused (alpha's listener does not accept it).
# The policy then allows delta, which connects; then revokes it, and the
# stale entries go. `xsockctl discover` as a daemon publishes a domain
# created meanwhile and withdraws it when destroyed. A malformed policy
# changes nothing.
# XSOCK_FALLBACK=0 throughout.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
need_prog python3
need_prog sha256sum coreutils
setup_domains 4
export XSOCK_FALLBACK=0

ns_do() {
	local ns=$1 d=$2
	shift 2
	ip netns exec "xsit$$-$ns" env XSOCK_DOMID="$d" "$@"
}
shim_in() {
	local ns=$1 d=$2
	shift 2
	ns_do "$ns" "$d" env LD_PRELOAD="$PRELOAD" "$@"
}
d0() { ns_do 4 0 "$XSOCKCTL" "$@"; }
ctl_in() { local d=$1; shift; XSOCK_DOMID=$d "$XSOCKCTL" "$@"; }
dial() {
	shim_in "$1" "$1" timeout 20 python3 -c '
import errno, socket, sys
s = socket.socket()
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.sendall(b"hello from %s\n" % sys.argv[3].encode())
    s.close()
    print("CONNECTED")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$2" "$3" "$1"
}
entries() { ls "$XSOCK_LOCAL_DIR/store/local/domain/$1/data/xsock/dir" 2>/dev/null | tr '\n' ' '; }
own_entries() { ls "$XSOCK_LOCAL_DIR/store/local/domain/$1/data/xsock/peers" 2>/dev/null | wc -l; }

for a in 1 2 3 4; do ip -n "xsit$$-$a" addr add "10.77.0.$a/32" dev lo; done
d0 domain create alpha --domid 1 >/dev/null || fail "domain create alpha"
d0 domain create beta --domid 2 >/dev/null || fail "domain create beta"
d0 domain create delta --domid 3 >/dev/null || fail "domain create delta"
cat >"$WORK/policy" <<EOF
# who may reach whom (both ways)
allow alpha beta
addr alpha 10.77.0.1
addr beta 10.77.0.2
addr delta 10.77.0.3
EOF
out=$(d0 discover --once --policy "$WORK/policy") || fail "discover: $out"
say "$out"
[ "$(entries 1)" = "2 " ] && [ "$(entries 2)" = "1 " ] && [ "$(entries 3)" = "" ] ||
	fail "directories: alpha '$(entries 1)' beta '$(entries 2)' delta '$(entries 3)'"
line=$(ctl_in 1 peer list | awk '$1 == "10.77.0.2"' | tr -s ' ')
[ "$line" = "10.77.0.2 2 beta up (domain 0's directory)" ] || fail "alpha's peer list: '$line'"

head -c 8M /dev/urandom >"$WORK/in"
want=$(sha256sum <"$WORK/in" | cut -d' ' -f1)
shim_in 1 1 socat TCP-LISTEN:7010,fork,reuseaddr SYSTEM:"sha256sum >>$WORK/alpha.sums" &
PIDS+=($!)
wait_listen 1 7010
shim_in 2 2 socat -u TCP-LISTEN:7020,reuseaddr OPEN:"$WORK/beta.out",creat,trunc &
spid=$!
wait_listen 2 7020
shim_in 1 1 timeout 60 socat -u OPEN:"$WORK/in" TCP:10.77.0.2:7020 || fail "alpha -> beta"
wait "$spid" || fail "beta's server"
[ "$(sha256sum <"$WORK/beta.out" | cut -d' ' -f1)" = "$want" ] || fail "alpha -> beta: checksum"
shim_in 2 2 timeout 60 socat -u OPEN:"$WORK/in" TCP:10.77.0.1:7010 || fail "beta -> alpha"
sleep 0.3
[ "$(tail -n 1 "$WORK/alpha.sums" | cut -d' ' -f1)" = "$want" ] || fail "beta -> alpha: checksum"
[ "$(own_entries 1)" = 0 ] && [ "$(own_entries 2)" = 0 ] || fail "someone has registry entries"
say "alpha <-> beta with no peer add: 8 MiB each way intact"

# delta: not in the policy.
r=$(dial 3 10.77.0.1 7010)
[ "$r" = ENETUNREACH ] || fail "delta -> alpha with no entry: $r, want ENETUNREACH (TCP, no route)"
ctl_in 3 peer add 10.77.0.1 1 || fail "peer add in delta"
r=$(dial 3 10.77.0.1 7010)
[ "$r" = ECONNREFUSED ] || fail "delta -> alpha, by its own peer add: $r, want ECONNREFUSED"
sleep 0.3
n=$(wc -l <"$WORK/alpha.sums")
[ "$n" -eq 1 ] || fail "alpha accepted delta ($n connections)"
say "delta, left out by the policy: no route, then refused"

# The policy lets delta in: alpha's running listener accepts it.
echo "allow delta alpha" >>"$WORK/policy"
d0 discover --once --policy "$WORK/policy" >/dev/null || fail "discover (delta allowed)"
[ "$(entries 3)" = "1 " ] || fail "delta's directory: '$(entries 3)'"
sleep 0.3
r=$(dial 3 10.77.0.1 7010)
[ "$r" = CONNECTED ] || fail "delta -> alpha once allowed: $r"
sleep 0.3
[ "$(wc -l <"$WORK/alpha.sums")" -eq 2 ] || fail "alpha did not get delta's connection"
# ... and out again: the stale entries go, delta is refused again.
sed -i '/^allow delta alpha$/d' "$WORK/policy"
out=$(d0 discover --once --policy "$WORK/policy") || fail "discover (delta revoked)"
case "$out" in *", 2 removed") ;; *) fail "revoking delta: '$out'" ;; esac
[ "$(entries 3)" = "" ] && [ "$(entries 1)" = "2 " ] || fail "after revoking: alpha '$(entries 1)' delta '$(entries 3)'"
sleep 0.3
r=$(dial 3 10.77.0.1 7010)
[ "$r" = ECONNREFUSED ] || fail "delta -> alpha once revoked: $r, want ECONNREFUSED"
say "delta allowed: connected; revoked: 2 stale entries removed, refused again"

# The daemon: domains that come and go are published and withdrawn at once
# (@introduceDomain, @releaseDomain: `xsockctl domain` fires them here).
printf 'allow alpha beta\nallow alpha eps*\naddr alpha 10.77.0.1\naddr beta 10.77.0.2\n' >"$WORK/policy2"
printf 'addr epsilon 10.77.0.3\n' >>"$WORK/policy2"
ns_do 4 0 "$XSOCKCTL" discover --policy "$WORK/policy2" >"$WORK/daemon.out" 2>&1 &
PIDS+=($!)
dpid=$!
# wait_entries DOMID WANT: until `entries DOMID` is WANT (5 s at most); prints the seconds.
wait_entries() {
	local t0 n=0
	t0=$(date +%s.%N)
	while [ "$(entries "$1")" != "$2" ]; do
		n=$((n + 1))
		[ $n -gt 500 ] && fail "domain $1's directory: '$(entries "$1")', want '$2'"
		sleep 0.01
	done
	elapsed "$t0"
}
wait_entries 3 "" >/dev/null	# the daemon's first pass: delta still out
d0 domain create epsilon --domid 6 >/dev/null || fail "domain create epsilon"
t_in=$(wait_entries 1 "2 6 ")
shim_in 3 6 socat -u TCP-LISTEN:7060,reuseaddr OPEN:"$WORK/eps.out",creat,trunc &
spid=$!
wait_listen 6 7060
shim_in 1 1 timeout 60 socat -u OPEN:"$WORK/in" TCP:10.77.0.3:7060 || fail "alpha -> epsilon"
wait "$spid" || fail "epsilon's server"
[ "$(sha256sum <"$WORK/eps.out" | cut -d' ' -f1)" = "$want" ] || fail "alpha -> epsilon: checksum"
d0 domain destroy epsilon || fail "domain destroy epsilon"
t_out=$(wait_entries 1 "2 ")
kill "$dpid"
wait "$dpid" 2>/dev/null
say "discover daemon: epsilon published ${t_in} s after its creation (8 MiB alpha -> epsilon" \
	"intact), withdrawn ${t_out} s after its destruction"

# A malformed policy changes nothing.
printf 'allow alpha\nfrobnicate x\naddr beta 10.0.0.300\n' >"$WORK/bad"
d0 discover --once --policy "$WORK/bad" >/dev/null 2>"$WORK/err"
rc=$?
[ $rc -eq 1 ] || fail "discover with a malformed policy: exit $rc"
for want in "bad:1: want 'allow GLOB GLOB'" "bad:2: unknown keyword 'frobnicate'" \
	"bad:3: invalid address '10.0.0.300'" "bad: nothing changed"; do
	grep -qF "$want" "$WORK/err" || fail "no '$want' in: $(cat "$WORK/err")"
done
[ "$(entries 1)" = "2 " ] || fail "a malformed policy changed alpha's directory"
say "PASS"
