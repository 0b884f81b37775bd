#!/bin/bash
# SPDX-License-Identifier: MIT
# Peers by name and identity (issue 17 item 3, issue 19 item 9) on the
# local backend, with domain 0 playing Xen's toolstack (`xsockctl domain`)
# and publishing its directory (`xsockctl discover --once`):
#  1. alpha (1) and beta (2) register each other by name; 8 MiB beta ->
#     alpha, SHA-256 compared; `peer list` says name, id, up;
#  2. beta is destroyed and created again as domain 5: alpha reaches it by
#     name (8 MiB, SHA-256), and alpha's listener, running since step 1,
#     accepts it; a name with no domain is down (EHOSTUNREACH);
#  3. gamma (3), registered by id in alpha and in domain 0 (bound to its
#     UUID), is destroyed and a different domain, intruder, gets id 3:
#     connect() from alpha and from domain 0 to intruder's listener fails
#     with EHOSTUNREACH, and intruder's connects to alpha's and to domain
#     0's listeners are refused (domain 0's listener reads identities
#     afresh at each request); nothing arrives, no store node is left.
# XSOCK_FALLBACK=0 throughout: only a ring can carry the data.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
need_prog python3
need_prog sha256sum coreutils
setup_domains 4
export XSOCK_FALLBACK=0

# Namespaces: 1 alpha, 2 beta (then its successor), 3 gamma (then
# intruder), 4 domain 0. ns_do NS DOMID CMD...: CMD in namespace NS as DOMID.
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
# Negotiation nodes (requests, answers), not the per-peer directories that
# stay by design.
neg_nodes() {
	find "$XSOCK_LOCAL_DIR/store/local/domain" -mindepth 6 -maxdepth 6 -type d \
		\( -path '*/data/xsock/req/*/*' -o -path '*/data/xsock/conn/*/*' \) | wc -l
}
ctl_in() { local d=$1; shift; XSOCK_DOMID=$d "$XSOCKCTL" "$@"; }
# dial NS DOMID ADDR PORT: connect() under the shim; prints CONNECTED or
# the errno's name (a connection sends one line and closes).
dial() {
	shim_in "$1" "$2" timeout 20 python3 -c '
import errno, socket, sys
s = socket.socket()
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.sendall(b"intruder was here\n")
    s.close()
    print("CONNECTED")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$3" "$4"
}
# send NS DOMID ADDR PORT FILE: FILE over a ring with socat.
send() {
	shim_in "$1" "$2" timeout 60 socat -u OPEN:"$5" TCP:"$3:$4"
}
# peer_line DOMID PREFIX: that entry of `peer list` (columns squeezed).
peer_line() {
	ctl_in "$1" peer list | awk -v p="$2" '$1 == p' | tr -s ' '
}

for a in 1 2 3 4; do ip -n "xsit$$-$a" addr add "10.77.0.$a/32" dev lo; done
d0 domain create alpha --domid 1 >/dev/null || fail "domain create alpha"
d0 domain create beta --domid 2 >/dev/null || fail "domain create beta"
d0 domain create gamma --domid 3 >/dev/null || fail "domain create gamma"
printf 'allow * *\n' >"$WORK/policy"
d0 discover --once --policy "$WORK/policy" >/dev/null || fail "discover"

head -c 8M /dev/urandom >"$WORK/in"
want=$(sha256sum <"$WORK/in" | cut -d' ' -f1)

# ---- 1. by name --------------------------------------------------------------
ctl_in 1 peer add 10.77.0.2 beta || fail "peer add by name in alpha"
ctl_in 1 peer add 10.77.0.3 3 || fail "peer add by id in alpha"
ctl_in 1 peer add 10.77.0.4 0 || fail "peer add dom0 in alpha"
ctl_in 2 peer add 10.77.0.1 alpha || fail "peer add by name in beta"
ctl_in 3 peer add 10.77.0.1 alpha || fail "peer add in gamma"
ctl_in 0 peer add 10.77.0.3 3 || fail "peer add by id in domain 0"
ctl_in 0 peer add 10.77.0.1 alpha || fail "peer add by name in domain 0"
[ "$(peer_line 1 10.77.0.2)" = "10.77.0.2 2 beta up" ] ||
	fail "alpha's entry for beta: '$(peer_line 1 10.77.0.2)'"
grep -q "uuid=" "$XSOCK_LOCAL_DIR"/store/local/domain/1/data/xsock/peers/4-0a4d0003-32/.v ||
	fail "alpha's entry for domain 3 is not bound to its uuid"
ctl_in 1 peer list -j | python3 -c '
import json, sys
d = {p["prefix"]: p for p in json.load(sys.stdin)["peers"]}
b = d["10.77.0.2"]
assert b["name"] == "beta" and b["domain"] == 2 and b["up"] is True, b' ||
	fail "peer list -j of alpha"

# alpha's listener: one SHA-256 line per connection, for the whole test.
shim_in 1 1 socat TCP-LISTEN:7010,fork,reuseaddr SYSTEM:"sha256sum >>$WORK/alpha.sums" &
PIDS+=($!)
wait_listen 1 7010
# and domain 0's
XSOCK_DEBUG=2 XSOCK_LOG="$WORK/d0.log" shim_in 4 0 socat TCP-LISTEN:7030,fork,reuseaddr SYSTEM:"cat >>$WORK/dom0.got" &
PIDS+=($!)
wait_listen 0 7030

send 2 2 10.77.0.1 7010 "$WORK/in" || fail "beta -> alpha by name"
sleep 0.3
[ "$(tail -n 1 "$WORK/alpha.sums" | cut -d' ' -f1)" = "$want" ] ||
	fail "beta -> alpha: checksum mismatch"
say "1. beta -> alpha by name: 8 MiB intact"

# ---- 2. beta restarts as domain 5 ------------------------------------------------
d0 domain destroy beta || fail "domain destroy beta"
d0 domain create beta --domid 5 >/dev/null || fail "domain create beta again"
d0 discover --once --policy "$WORK/policy" >/dev/null || fail "discover after the restart"
[ "$(peer_line 1 10.77.0.2)" = "10.77.0.2 5 beta up" ] ||
	fail "alpha's entry for beta after the restart: '$(peer_line 1 10.77.0.2)'"
ctl_in 5 peer add 10.77.0.1 alpha || fail "peer add in the new beta"
# alpha -> beta (5): the name follows the domain to its new id.
shim_in 2 5 socat -u TCP-LISTEN:7020,reuseaddr OPEN:"$WORK/out5",creat,trunc &
spid=$!
wait_listen 5 7020
send 1 1 10.77.0.2 7020 "$WORK/in" || fail "alpha -> beta (domain 5) by name"
wait "$spid" || fail "server in beta (domain 5)"
[ "$(sha256sum <"$WORK/out5" | cut -d' ' -f1)" = "$want" ] ||
	fail "alpha -> beta (domain 5): checksum mismatch"
# beta (5) -> alpha's listener, which has been running since beta was domain 2.
n0=$(wc -l <"$WORK/alpha.sums")
send 2 5 10.77.0.1 7010 "$WORK/in" || fail "beta (domain 5) -> alpha's listener"
sleep 0.3
[ "$(wc -l <"$WORK/alpha.sums")" -eq $((n0 + 1)) ] &&
	[ "$(tail -n 1 "$WORK/alpha.sums" | cut -d' ' -f1)" = "$want" ] ||
	fail "beta (domain 5) -> alpha's listener: checksum mismatch or nothing"
say "2. beta restarted as domain 5: reached by name both ways, 8 MiB intact each"
# A name that no domain has: the peer is down.
ctl_in 1 peer add 10.77.0.9 nobody 2>/dev/null || fail "peer add of an unknown name"
[ "$(peer_line 1 10.77.0.9)" = "10.77.0.9 - nobody down: no domain has that name" ] ||
	fail "alpha's entry for nobody: '$(peer_line 1 10.77.0.9)'"
r=$(dial 1 1 10.77.0.9 7010)
[ "$r" = EHOSTUNREACH ] || fail "connect to a name with no domain: $r, want EHOSTUNREACH"

# ---- 3. gamma's id goes to another domain ------------------------------------------
d0 domain destroy gamma || fail "domain destroy gamma"
d0 domain create intruder --domid 3 >/dev/null || fail "domain create intruder"
d0 discover --once --policy "$WORK/policy" >/dev/null || fail "discover after the reuse"
case "$(peer_line 1 10.77.0.3)" in
"10.77.0.3 3 intruder down: another domain holds that id") ;;
*) fail "alpha's entry for domain 3 after the reuse: '$(peer_line 1 10.77.0.3)'" ;;
esac
ctl_in 3 peer add 10.77.0.1 1 || fail "peer add in intruder"
ctl_in 3 peer add 10.77.0.4 0 || fail "peer add in intruder"
shim_in 3 3 socat -u TCP-LISTEN:7040,fork,reuseaddr OPEN:"$WORK/intruder.got",creat,append &
PIDS+=($!)
wait_listen 3 7040
sleep 0.3	# registries are read every 250 ms by a running shim
nodes0=$(neg_nodes)
r=$(dial 1 1 10.77.0.3 7040)
[ "$r" = EHOSTUNREACH ] || fail "alpha -> intruder: $r, want EHOSTUNREACH"
r=$(dial 4 0 10.77.0.3 7040)
[ "$r" = EHOSTUNREACH ] || fail "domain 0 -> intruder: $r, want EHOSTUNREACH"
r=$(dial 3 3 10.77.0.1 7010)
[ "$r" = ECONNREFUSED ] || fail "intruder -> alpha: $r, want ECONNREFUSED"
r=$(dial 3 3 10.77.0.4 7030)
[ "$r" = ECONNREFUSED ] || fail "intruder -> domain 0: $r, want ECONNREFUSED"
sleep 0.5
nodes1=$(neg_nodes)
[ ! -s "$WORK/intruder.got" ] || fail "intruder received '$(cat "$WORK/intruder.got")'"
[ ! -s "$WORK/dom0.got" ] || fail "domain 0 received '$(cat "$WORK/dom0.got")'"
[ "$(wc -l <"$WORK/alpha.sums")" -eq $((n0 + 1)) ] || fail "alpha's listener accepted the intruder"
[ "$nodes1" -eq "$nodes0" ] || fail "negotiation nodes $nodes0 -> $nodes1 after the refusals"
say "3. id 3 reused by another domain: connects to it EHOSTUNREACH, its connects" \
	"ECONNREFUSED (alpha, domain 0), nothing arrived; negotiation nodes $nodes0 -> $nodes1;" \
	"domain 0's listener: $(grep -c 'not the domain registered' "$WORK/d0.log" 2>/dev/null) refusal(s) logged"
say "PASS"
