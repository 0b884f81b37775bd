#!/bin/bash
# SPDX-License-Identifier: MIT
# Direct wake-ups for big epoll sets (preload/chgroup.c): a thread asleep
# in epoll_wait() on more rings than direct.c takes one by one is woken by
# the peers' notifications through its set's channel group, not by the
# event thread; while it is awake its rings are not armed (a busy event
# loop costs its peers no notifications).
#
# A python server in domain 2 serves N=100 connections from one epoll set
# (level-triggered, non-blocking), echoing 64-byte messages; a python
# client in domain 1 holds the N connections in its own epoll set
# (selectors) and makes ROUNDS rounds: a 64-byte random message on each of
# 5 random connections, the 5 answers collected, then a 2 ms idle gap
# (both sides sleep between rounds). Control messages on connection 0 ask
# the server for its event thread's switches (STAT), to close its epoll set
# and make a new one (EPCL: the old set's group is orphaned and serves on
# through the event thread), to fork a child that waits on the inherited
# set and exits (FORK), and for the EOFs it saw (DEAD).
#
# Asserts: every answer equals its request (all phases); each side's event
# thread was woken fewer than ROUNDS/4 times plus its sweeps' over the
# rounds (each round woke both before: more than ROUNDS); after EPCL and
# after FORK the rounds still pass; a second client killed (SIGKILL) after
# one round trip is seen by the server as EOF; at the end the server has
# as many epoll instances as before its first set (groups closed with
# their sets), and no grants or event channels are left.
. "$(dirname "$0")/lib.sh"
need_root_netns
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
N=100
ROUNDS=300

cp "$(dirname "$0")/evthread.py" "$WORK/ev.py"

cat >"$WORK/srv.py" <<'PY'
import os, select, socket, sys
sys.path.insert(0, sys.argv[1])
from ev import ev_switches
N = int(sys.argv[2])
def epolls():
    n = 0
    for f in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink("/proc/self/fd/" + f) == "anon_inode:[eventpoll]"
        except OSError:
            pass
    return n
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", 7830))
ls.listen(256)
print("pid", os.getpid(), flush=True)
conns = {}
for i in range(N):
    c, _ = ls.accept()
    c.setblocking(False)
    conns[c.fileno()] = c
e0 = epolls()
ls.setblocking(False)
def new_set():
    ep = select.epoll()
    ep.register(ls, select.EPOLLIN)
    for c in conns.values():
        ep.register(c, select.EPOLLIN)
    return ep
ep = new_set()
eofs = 0
bufs = {}
while conns:
    for fd, _ in ep.poll():
        if fd == ls.fileno():
            try:
                c, _ = ls.accept()
            except BlockingIOError:
                continue
            c.setblocking(False)
            conns[c.fileno()] = c
            ep.register(c, select.EPOLLIN)
            continue
        c = conns.get(fd)
        if c is None:
            continue
        try:
            b = c.recv(64 - len(bufs.get(fd, b"")))
        except BlockingIOError:
            continue
        if not b:
            ep.unregister(c)
            del conns[fd]
            bufs.pop(fd, None)
            c.close()
            eofs += 1
            continue
        m = bufs.get(fd, b"") + b
        if len(m) < 64:
            bufs[fd] = m
            continue
        bufs.pop(fd, None)
        cmd = m[:4]
        if cmd == b"STAT":
            m = str(ev_switches(True)).encode().ljust(64)
        elif cmd == b"EPCL":
            ep.close()
            ep = new_set()
            m = b"OK".ljust(64)
        elif cmd == b"FORK":
            pid = os.fork()
            if pid == 0:
                ep.poll(0.05)
                os._exit(0)
            _, st = os.waitpid(pid, 0)
            m = str(st).encode().ljust(64)
        elif cmd == b"DEAD":
            m = str(eofs).encode().ljust(64)
        c.sendall(m)
ep.close()
ls.close()
print("epolls before", e0, "after", epolls(), "eofs", eofs, flush=True)
PY

cat >"$WORK/cli.py" <<'PY'
import os, random, selectors, socket, sys, time
sys.path.insert(0, sys.argv[1])
from ev import ev_switches
N, ROUNDS, host = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
conns = [socket.create_connection((host, 7830)) for _ in range(N)]
sel = selectors.EpollSelector()
for i, c in enumerate(conns):
    c.setblocking(False)
    sel.register(c, selectors.EVENT_READ, i)
bad = 0
def exchange(msgs):
    global bad
    got = {i: b"" for i in msgs}
    for i, m in msgs.items():
        conns[i].sendall(m)
    while any(len(b) < 64 for b in got.values()):
        for key, _ in sel.select(10):
            i = key.data
            if i not in got:
                continue
            try:
                got[i] += conns[i].recv(64 - len(got[i]))
            except BlockingIOError:
                pass
    for i, m in msgs.items():
        if m[:4] not in (b"STAT", b"EPCL", b"FORK", b"DEAD") and got[i] != m:
            bad += 1
    return got
def ctl(cmd):
    return exchange({0: cmd.ljust(64)})[0].strip().decode()
def rounds(n):
    for _ in range(n):
        exchange({i: os.urandom(64) for i in random.sample(range(N), 5)})
        time.sleep(0.002)
rounds(5)
s0, c0, t0 = int(ctl(b"STAT")), ev_switches(True), time.monotonic()
rounds(ROUNDS)
s1, c1 = int(ctl(b"STAT")), ev_switches(True)
ms = int((time.monotonic() - t0) * 1000)
print("rounds", ROUNDS, "ms", ms, "server_ev", s1 - s0, "client_ev", c1 - c0, "bad", bad,
      flush=True)
print("epcl", ctl(b"EPCL"), flush=True)
rounds(100)
print("fork", ctl(b"FORK"), flush=True)
rounds(100)
print("bad", bad, flush=True)
sys.stdout.flush()
# The second client, killed after one round trip.
pid = os.fork()
if pid == 0:
    s = socket.create_connection((host, 7830))
    s.sendall(b"x" * 64)
    ok = s.recv(64) == b"x" * 64
    print("second", "ok" if ok else "bad", flush=True)
    time.sleep(60)
    os._exit(0)
time.sleep(1)
os.kill(pid, 9)
os.waitpid(pid, 0)
deadline = time.monotonic() + 10
while ctl(b"DEAD") != "1" and time.monotonic() < deadline:
    time.sleep(0.1)
print("dead", ctl(b"DEAD"), "bad", bad, flush=True)
for c in conns:
    c.close()
PY

g0=$(count_grants)
e0=$(count_evtchns)
shim 2 /usr/bin/python3 "$WORK/srv.py" "$WORK" "$N" >"$WORK/srv.out" 2>&1 &
SRV=$!
PIDS+=($SRV)
wait_listen 2 7830
shim 1 timeout 120 /usr/bin/python3 "$WORK/cli.py" "$WORK" "$N" "$ROUNDS" "$(addr_of 2)" \
	>"$WORK/cli.out" 2>&1 || fail "client: $(tail -3 "$WORK/cli.out")"
reap "$SRV" 20 || fail "server did not end: $(tail -3 "$WORK/srv.out")"
cat "$WORK/cli.out" "$WORK/srv.out" | sed 's/^/  /'
read -r _ _ _ ms _ sev _ cev _ bad < <(grep '^rounds' "$WORK/cli.out")
max=$((ROUNDS / 4 + 2 * ms / 20))
say "$ROUNDS rounds over $N connections in $ms ms: event thread wake-ups server $sev, client $cev (bound $max)"
[ "$bad" = 0 ] || fail "$bad answers differ from their requests"
[ "$sev" -ge 0 ] && [ "$cev" -ge 0 ] || fail "no event thread named xsock-ev found"
[ "$sev" -lt "$max" ] || fail "the server's event thread was woken $sev times in $ROUNDS rounds"
[ "$cev" -lt "$max" ] || fail "the client's event thread was woken $cev times in $ROUNDS rounds"
grep -q '^epcl OK' "$WORK/cli.out" || fail "EPCL: no answer"
grep -q '^fork 0' "$WORK/cli.out" || fail "FORK: the child did not exit 0"
grep -q '^second ok' "$WORK/cli.out" || fail "the second client's round trip failed"
grep -q '^dead 1 bad 0' "$WORK/cli.out" ||
	fail "after the new set, the fork and the killed client: $(grep '^dead' "$WORK/cli.out")"
read -r _ _ eb _ ea _ eofs < <(grep '^epolls' "$WORK/srv.out")
say "server's epoll instances: $eb before its first set, $ea at the end; EOFs seen $eofs"
[ "$ea" = "$eb" ] || fail "epoll instances left: $ea (before the first set: $eb)"
[ "$eofs" = $((N + 1)) ] || fail "server saw $eofs EOFs, not $((N + 1))"
sleep 1
[ "$(count_grants)" = "$g0" ] || fail "grants left: $(count_grants) (before: $g0)"
[ "$(count_evtchns)" = "$e0" ] || fail "event channels left: $(count_evtchns) (before: $e0)"
say "PASS"
