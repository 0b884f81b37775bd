#!/bin/bash
# SPDX-License-Identifier: MIT
# A new process's first ring connection opens one store handle, not three
# (docs/performance.md, "A new process's first connection"): the registry
# read, the negotiation and the dead-domain watch share the handle the
# registry read opened. On the local backend every store handle makes one
# watch FIFO (store-watch/<pid>-<n>-<x>.fifo), so strace counts them.
# Three socat clients, each a fresh process, send 64 KiB each to one
# ncat -l -k; all arrive intact (sha256), and store nodes, grants and
# event channels are back where they were. The Xen libraries are loaded by
# the xen backend only (src/platform/xen/xenlibs.c): the server, serving
# rings on the local backend, has none of them mapped.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog ncat
need_prog socat
need_prog strace
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0

shim 2 ncat -l -k 7007 --recv-only >"$WORK/out" &
PIDS+=($!)
wait_listen 2 7007
# The per-peer directories (req/<dom>, conn/<dom>) come with the first
# connection and stay: count from after a warm-up one.
echo warm-up | shim 1 socat -u STDIN TCP:"$(addr_of 2)":7007 || fail "warm-up connection failed"
sleep 0.3
nodes0=$(count_nodes)
grants0=$(count_grants)
ev0=$(count_evtchns)

: >"$WORK/want"
for i in 1 2 3; do
	head -c 65536 /dev/urandom >"$WORK/chunk.$i"
	cat "$WORK/chunk.$i" >>"$WORK/want"
	shim 1 strace -f -qq -e trace=mknodat,mknod -o "$WORK/st.$i" \
		socat -u OPEN:"$WORK/chunk.$i" TCP:"$(addr_of 2)":7007 ||
		fail "client $i: socat failed"
	h=$(grep -c 'store-watch/[0-9]*-[0-9]*-[0-9a-f]*\.fifo' "$WORK/st.$i")
	say "client $i: store handles opened: $h"
	[ "$h" = 1 ] || { cat "$WORK/st.$i"; fail "client $i opened $h store handles, not 1"; }
done

# All three arrived, in order (sequential clients), after the warm-up line.
n=0
want=$(( $(stat -c %s "$WORK/want") + 8 ))
while [ "$(stat -c %s "$WORK/out")" -lt "$want" ]; do
	n=$((n + 1)); [ $n -gt 500 ] && fail "data did not arrive ($(stat -c %s "$WORK/out") of $want bytes)"
	sleep 0.01
done
[ "$(tail -c +9 "$WORK/out" | sha256sum)" = "$(sha256sum <"$WORK/want")" ] ||
	fail "data differ from what was sent"
say "3 x 64 KiB intact"
srv=$(own_pgrep "ncat -l -k 7007")
[ -n "$srv" ] || fail "server not running"
x=$(grep -c 'libxen' "/proc/$srv/maps")
say "Xen library mappings in the server (local backend): $x"
[ "$x" = 0 ] || { grep libxen "/proc/$srv/maps"; fail "the server mapped the Xen libraries"; }

# Settled: the server ended the three rings when their clients exited.
for i in $(seq 1 50); do
	[ "$(count_nodes)" = "$nodes0" ] && [ "$(count_grants)" = "$grants0" ] &&
		[ "$(count_evtchns)" = "$ev0" ] && break
	sleep 0.1
done
say "left behind: grants $grants0 -> $(count_grants), channels $ev0 -> $(count_evtchns)," \
	"store nodes $nodes0 -> $(count_nodes)"
[ "$(count_nodes)" = "$nodes0" ] && [ "$(count_grants)" = "$grants0" ] &&
	[ "$(count_evtchns)" = "$ev0" ] || fail "something was left behind"
exit 0
