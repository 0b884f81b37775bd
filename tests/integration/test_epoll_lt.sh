#!/bin/bash
# SPDX-License-Identifier: MIT
# Level-triggered epoll entries reported from the rings (preload/eplook.c):
# no token on end A and no drain per message, with epoll's semantics kept.
#
# A python server in domain 2 holds M=12 ring connections in one epoll set
# made through ctypes (so that it chooses each entry's epoll_data: the
# connection's index); a python client in domain 1 sends 64 random bytes
# on connections and checks each echo.
#
#  A. R=300 rounds of a message on every connection; the server, busy in
#     epoll_wait(timeout 0), echoes. Run under strace, which counts the
#     server's sendto/recvfrom calls (the token and its drain): fewer than
#     R with level-triggered reporting; the same run with XSOCK_EPOLL_LT=0
#     (tokens, as before) must count at least M*R, or the count proves
#     nothing.
#  B. All rings hold data and a pipe in the set is readable; 320 calls of
#     epoll_wait(maxevents 1): every ring is reported at least 5 times
#     (ready rings take turns) and the pipe at least 3 (the kernel is
#     asked every 16th call while rings are ready, and first).
#  C. Five times: the rings made passive (a recv() that fails with EAGAIN),
#     a batch arriving while the server sleeps (the event thread puts
#     tokens on A), then 40 looks before reading: each ring exactly once in
#     each result (an event from a token is not reported twice); after the
#     reads, 40 looks report no ring.
#  D. (Between B's reads and its echoes, no ring holding data.) The pipe
#     re-registered with ring 0's epoll_data: 40 looks all report it, and
#     epoll_wait(2000 ms) returns it at once (its event is not taken for a
#     ring's stale token and dropped).
#  E. Ring 1 made edge-triggered in the same set: one event for an
#     arrival, none in the next 20 looks while its data stays unread.
# Both modes (default and XSOCK_EPOLL_LT=0) run B-E; every echo equals
# its message; no grants or event channels are left, though each server
# exits right after its client closes with its rings still in its epoll
# set (their close ends them at once: preload/fdops.c).
. "$(dirname "$0")/lib.sh"
need_root_netns
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
M=12
R=300

cat >"$WORK/srv.py" <<'PY'
import ctypes, os, socket, sys, time
M, R, full, port = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "full", int(sys.argv[4])
libc = ctypes.CDLL(None, use_errno=True)
class EV(ctypes.Structure):
    _pack_ = 1	# struct epoll_event is packed on x86-64
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]
IN, ET = 0x1, 1 << 31
ADD, DEL, MOD = 1, 2, 3
PIPE = 1000
epfd = libc.epoll_create1(0)
def ctl(op, fd, events=0, data=0):
    ev = EV(events, data)
    if libc.epoll_ctl(epfd, op, fd, ctypes.byref(ev)) != 0:
        raise OSError(ctypes.get_errno(), "epoll_ctl")
evs = (EV * 64)()
def wait(maxev=64, timeout=0):
    n = libc.epoll_wait(epfd, evs, maxev, timeout)
    if n < 0:
        raise OSError(ctypes.get_errno(), "epoll_wait")
    return [(evs[i].data, evs[i].events) for i in range(n)]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(M)
print("pid", os.getpid(), flush=True)
conns = []
for i in range(M):
    c, _ = ls.accept()
    c.setblocking(False)
    conns.append(c)
    ctl(ADD, c.fileno(), IN, i)
# A
left = M * R * 64
while left:
    for d, e in wait(64, 0):
        b = conns[d].recv(4096)
        conns[d].sendall(b)
        left -= len(b)
print("A done", flush=True)
if not full:
    for c in conns:
        c.setblocking(True)
        c.recv(1)
    sys.exit(0)
def wait_all():
    seen, t = set(), time.monotonic() + 10
    while len(seen) < M and time.monotonic() < t:
        seen |= {d for d, e in wait(64, 10)}
    return len(seen)
def take_all():
    got = []
    for c in conns:
        b = c.recv(4096)
        try:
            c.recv(64)
            raise SystemExit("data where none was expected")
        except BlockingIOError:
            pass	# the ring is passive now
        got.append(b)
    return got
# B
print("B seen", wait_all(), flush=True)
r, w = os.pipe()
os.write(w, b"x")
ctl(ADD, r, IN, PIPE)
counts = {}
for _ in range(320):
    for d, e in wait(1, 0):
        counts[d] = counts.get(d, 0) + 1
print("fair", min(counts.get(i, 0) for i in range(M)), counts.get(PIPE, 0), flush=True)
got = take_all()
# D (no ring holds data until the echoes go)
ctl(DEL, r)
ctl(ADD, r, IN, 0)
seen0 = sum(any(d == 0 and e & IN for d, e in wait(64, 0)) for _ in range(40))
t = time.monotonic()
ev = wait(64, 2000)
ms = int((time.monotonic() - t) * 1000)
print("D seen", seen0, "ms", ms, "got0", int(any(d == 0 for d, e in ev)), flush=True)
ctl(DEL, r)
ctl(ADD, r, IN, PIPE)
for c, b in zip(conns, got):
    c.sendall(b)
# C
dup = missing = stale = 0
for k in range(5):
    time.sleep(0.3)
    for _ in range(40):
        ds = [d for d, e in wait(64, 0) if d != PIPE]
        dup += len(ds) != len(set(ds))
        missing += set(ds) != set(range(M))
    got = take_all()
    for _ in range(40):
        stale += any(d != PIPE for d, e in wait(64, 0))
    for c, b in zip(conns, got):
        c.sendall(b)
print("C dup", dup, "missing", missing, "stale", stale, flush=True)
# E
ctl(MOD, conns[1].fileno(), IN | ET, 1)
t, first = time.monotonic() + 10, 0
while not first and time.monotonic() < t:
    first = sum(d == 1 for d, e in wait(64, 10))
again = sum(sum(d == 1 for d, e in wait(64, 0)) for _ in range(20))
print("E first", first, "again", again, flush=True)
conns[1].sendall(conns[1].recv(4096))
for c in conns:
    c.setblocking(True)
    c.recv(1)
PY

cat >"$WORK/cli.py" <<'PY'
import os, socket, sys, time
M, R, full, host, port = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "full",
                          sys.argv[4], int(sys.argv[5]))
conns = [socket.create_connection((host, port)) for _ in range(M)]
bad = 0
def batch(idx):
    global bad
    msgs = {i: os.urandom(64) for i in idx}
    for i, m in msgs.items():
        conns[i].sendall(m)
    for i, m in msgs.items():
        b = b""
        while len(b) < 64:
            d = conns[i].recv(64 - len(b))
            if not d:
                raise SystemExit("server closed")
            b += d
        bad += b != m
t = time.monotonic()
for _ in range(R):
    batch(range(M))
ms = int((time.monotonic() - t) * 1000)
if full:
    for _ in range(6):
        batch(range(M))
    batch([1])
print("client bad", bad, "ms", ms, flush=True)
for c in conns:
    c.close()
PY

g0=$(count_grants)
e0=$(count_evtchns)
port=7840

# The server (mode, env...) in domain 2 and the client; output in $WORK/*.$1.
run() {
	local tag=$1 mode=$2 srvpfx=$3
	shift 3
	shim 2 env "$@" $srvpfx /usr/bin/python3 "$WORK/srv.py" $M $R "$mode" $port \
		>"$WORK/srv.$tag" 2>&1 &
	local spid=$!
	PIDS+=($spid)
	wait_listen 2 $port
	wait_line "$WORK/srv.$tag" '^pid ' 20
	shim 1 timeout 120 /usr/bin/python3 "$WORK/cli.py" $M $R "$mode" "$(addr_of 2)" $port \
		>"$WORK/cli.$tag" 2>&1 || fail "$tag: client: $(tail -3 "$WORK/cli.$tag")"
	reap "$spid" 30 || fail "$tag: server did not end: $(tail -3 "$WORK/srv.$tag")"
	grep -q '^client bad 0 ' "$WORK/cli.$tag" || fail "$tag: $(grep '^client' "$WORK/cli.$tag")"
	port=$((port + 1))
}

if command -v strace >/dev/null; then
	for lt in 1 0; do
		run "count$lt" count "strace -f -c -o $WORK/st.$lt -e trace=sendto,recvfrom" \
			XSOCK_EPOLL_LT=$lt
		calls=$(awk '$NF == "sendto" || $NF == "recvfrom" { n += $4 } END { print n + 0 }' \
			"$WORK/st.$lt")
		read -r _ _ _ _ ms < <(grep '^client' "$WORK/cli.count$lt")
		say "A (XSOCK_EPOLL_LT=$lt): $R rounds x $M rings in $ms ms: $calls sendto/recvfrom calls in the server"
		eval "calls$lt=$calls"
	done
	[ "$calls1" -lt "$R" ] ||
		fail "level-triggered: $calls1 sendto/recvfrom for $((M * R)) messages (a token per message?)"
	[ "$calls0" -ge $((M * R)) ] ||
		fail "with tokens (XSOCK_EPOLL_LT=0) only $calls0 calls: the count shows nothing"
else
	say "strace not installed: token count not checked"
fi

for lt in 1 0; do
	run "full$lt" full "" XSOCK_EPOLL_LT=$lt
	out="$WORK/srv.full$lt"
	sed 's/^/  /' "$out"
	read -r _ ring pipe < <(grep '^fair' "$out")
	read -r _ _ dup _ missing _ stale < <(grep '^C dup' "$out")
	read -r _ _ seen0 _ ms _ got0 < <(grep '^D seen' "$out")
	read -r _ _ first _ again < <(grep '^E first' "$out")
	grep -q "^B seen $M\$" "$out" || fail "LT=$lt: B: $(grep '^B' "$out")"
	[ "${ring:-0}" -ge 5 ] && [ "${pipe:-0}" -ge 3 ] ||
		fail "LT=$lt: B: with maxevents 1, the least reported ring $ring times, the pipe $pipe times in 320 calls"
	[ "$dup" = 0 ] || fail "LT=$lt: C: a ring reported twice in one result ($dup looks)"
	[ "$missing" = 0 ] || fail "LT=$lt: C: a ready ring missing from $missing looks"
	[ "$stale" = 0 ] || fail "LT=$lt: C: a ring reported after its data was read ($stale looks)"
	[ "$seen0" = 40 ] && [ "$got0" = 1 ] && [ "$ms" -lt 500 ] ||
		fail "LT=$lt: D: the pipe sharing ring 0's epoll_data: reported in $seen0 of 40 looks; a 2 s wait took $ms ms (got it: $got0)"
	[ "$first" = 1 ] && [ "$again" = 0 ] ||
		fail "LT=$lt: E: edge-triggered ring in a level-triggered set: $first events, then $again"
	say "LT=$lt: B least ring $ring, pipe $pipe of 320; C dup $dup missing $missing stale $stale; D $seen0/40, $ms ms; E $first then $again"
done
sleep 1
[ "$(count_grants)" = "$g0" ] || fail "grants left: $(count_grants) (before: $g0)"
[ "$(count_evtchns)" = "$e0" ] || fail "event channels left: $(count_evtchns) (before: $e0)"
say "PASS"
