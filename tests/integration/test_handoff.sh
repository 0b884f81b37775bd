#!/bin/bash
# SPDX-License-Identifier: MIT
# A forked handler serves its connection itself (holder.c, holder_claim();
# docs/protocol.md, "Process model"): the way PostgreSQL's postmaster and
# inetd work. The parent accepts, forks a child that answers the client,
# and closes its own copy; from the child's first use of the socket on,
# the child serves the ring's events (its waits are woken directly) and
# the parent lets go of its copy.
#
# A python server in domain 2 forks a child per connection (the child
# echoes in a blocking recv(); the parent closes its copy and waits for
# the child); a python client in domain 1 makes ROUNDS round trips of 64
# random bytes with a 2 ms gap after each (the child sleeps in each gap),
# then N short connections of one round trip each.
#
# Asserts: every answer equals its request; the parent's event thread
# (xsock-ev) is woken fewer than ROUNDS/4 times, plus its sweeps', during
# the long connection (before the claim existed it served the ring: a
# wake-up per request, ROUNDS or more); the slots of the parent's state
# arena (arena.c), which the children end, are taken back: the arena's
# resident memory after the N short connections is within 8 KiB of what
# it was after the fifth (2 slots of 256 bytes a connection otherwise,
# 100 KiB for 200), and the parent's fd count is unchanged; the client
# sees each connection's end; nothing is left (grants, event channels),
# although the last handler exits without closing its socket.
# Last, a connection held by two children, both of which used it: the
# one that answers must not claim it (the other watches the parent as the
# ring's server and would not notice the claimer die), so the parent
# serves on and its event thread is woken at least ROUNDS/4 times in
# ROUNDS/2 round trips. Then inetd's way: the child dup2()s the socket
# onto fd 100 (using it: it watches the parent) before the parent closes
# its copy, and execs a handler that answers on fd 100: the handler claims
# the ring (its pre-exec image's watch is not counted twice), the parent's
# event thread is woken fewer than ROUNDS/8 times plus its sweeps'.
. "$(dirname "$0")/lib.sh"
need_root_netns
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
ROUNDS=500
N=200

# ev_switches(), arena_kb()
cp "$(dirname "$0")/evthread.py" "$WORK/ev.py"

cat >"$WORK/srv.py" <<'PY'
import os, socket, sys, time
sys.path.insert(0, sys.argv[1])
from ev import ev_switches, arena_kb
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7824))
s.listen(8)
print("pid", os.getpid(), flush=True)
n = 0
while True:
    c, _ = s.accept()
    n += 1
    e0, t0 = ev_switches(), time.monotonic()
    two = n == int(sys.argv[2])
    ex = n == int(sys.argv[2]) + 1
    if ex:
        # inetd's way: the child puts the socket where the handler wants
        # it (a use: it watches the parent as the ring's server), then
        # execs the handler, which answers on it.
        rt, wt = os.pipe()
        rg, wg = os.pipe()
        pid = os.fork()
        if pid == 0:
            s.close()
            # (Above every fd of ours: c, the pipes.)
            os.dup2(c.fileno(), 100)
            c.close()
            os.write(wt, b"t")
            os.read(rg, 1)
            try:
                # A failed exec first (a file that is no program): the watch
                # given up for it comes back.
                os.execv("/etc/hostname", ["handler"])
            except OSError:
                pass
            os.execv(sys.executable, [sys.executable, sys.argv[1] + "/handler.py"])
        os.read(rt, 1)
        c.close()
        os.write(wg, b"g")
        os.waitpid(pid, 0)
        print("conn", n, "ev", ev_switches() - e0, "exec", flush=True)
        continue
    if two:
        # A second holder that uses the socket and keeps it until the
        # first child is done (it holds the pipe's write end).
        rp, wp = os.pipe()
        rt, wt = os.pipe()
        pid2 = os.fork()
        if pid2 == 0:
            s.close()
            os.close(wp)
            c.getpeername()
            os.write(wt, b"t")
            os.read(rp, 1)
            os._exit(0)
        os.close(rp)
        os.close(wt)
        os.read(rt, 1)     # it used the socket (watches its server) first
        os.close(rt)
    pid = os.fork()
    if pid == 0:
        s.close()
        while True:
            b = c.recv(64)
            if not b:
                break
            c.sendall(b)
        c.close()
        os._exit(0)
    c.close()
    if two:
        os.close(wp)
    os.waitpid(pid, 0)
    if two:
        os.waitpid(pid2, 0)
    ms = int((time.monotonic() - t0) * 1000)
    print("conn", n, "ev", ev_switches() - e0, "ms", ms, "fds",
          len(os.listdir("/proc/self/fd")), "arena_kb", arena_kb(), flush=True)
PY

cat >"$WORK/handler.py" <<'PY'
import socket
import os
c = socket.socket(fileno=100)
while True:
    b = c.recv(64)
    if not b:
        break
    c.sendall(b)
# Gone without closing it, as a killed handler would be: the parent, which
# gave the serving up, still ends the ring's shares.
os._exit(0)
PY

cat >"$WORK/cli.py" <<'PY'
import os, socket, sys, time
rounds, n, host = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
phase = "first connection"
def echo(c, m):
    c.sendall(m)
    b = b""
    while len(b) < len(m):
        d = c.recv(len(m) - len(b))
        if not d:
            raise SystemExit("server closed early (%s)" % phase)
        b += d
    return b == m
bad = 0
c = socket.create_connection((host, 7824))
for i in range(rounds):
    bad += not echo(c, os.urandom(64))
    time.sleep(0.002)
c.shutdown(socket.SHUT_WR)
eof = c.recv(1) == b""
c.close()
for i in range(n):
    phase = "short connection %d" % (i + 1)
    c = socket.create_connection((host, 7824))
    bad += not echo(c, os.urandom(64))
    c.shutdown(socket.SHUT_WR)
    eof = eof and c.recv(1) == b""
    c.close()
for k in range(2):
    phase = ("two children", "exec'd handler")[k]
    c = socket.create_connection((host, 7824))
    for i in range(rounds // 2):
        bad += not echo(c, os.urandom(64))
        time.sleep(0.002)
    c.shutdown(socket.SHUT_WR)
    eof = eof and c.recv(1) == b""
    c.close()
print("client bad", bad, "eof", eof, flush=True)
PY

g0=$(count_grants)
e0=$(count_evtchns)
shim 2 /usr/bin/python3 "$WORK/srv.py" "$WORK" $((N + 2)) >"$WORK/srv.out" 2>&1 &
PIDS+=($!)
wait_listen 2 7824
wait_line "$WORK/srv.out" '^pid '
spid=$(awk '/^pid/ {print $2}' "$WORK/srv.out")
shim 1 timeout 120 /usr/bin/python3 "$WORK/cli.py" "$ROUNDS" "$N" "$(addr_of 2)" \
	>"$WORK/cli.out" 2>&1 || fail "client: $(tail -3 "$WORK/cli.out")"
wait_line "$WORK/srv.out" "^conn $((N + 3)) " 20
read -r _ _ bad _ eof < <(grep '^client' "$WORK/cli.out")
read -r _ _ _ ev _ ms _ _ _ _ < <(grep '^conn 1 ' "$WORK/srv.out")
read -r _ _ _ _ _ _ _ fd5 _ kb5 < <(grep '^conn 6 ' "$WORK/srv.out")
read -r _ _ _ _ _ _ _ fdn _ kbn < <(grep "^conn $((N + 1)) " "$WORK/srv.out")
read -r _ _ _ ev2 _ < <(grep "^conn $((N + 2)) " "$WORK/srv.out")
read -r _ _ _ ev3 _ < <(grep "^conn $((N + 3)) " "$WORK/srv.out")
max=$((ROUNDS / 4 + 2 * ms / 20))
say "$ROUNDS round trips in $ms ms: parent's event thread woken $ev times (bound $max); bad answers $bad, EOF seen $eof"
say "parent after 5 / $N short connections: fds $fd5 / $fdn, state arena $kb5 / $kbn KiB resident"
[ "$bad" = 0 ] || fail "$bad answers differ from their requests"
[ "$eof" = True ] || fail "a connection's end was not seen by the client"
[ "$ev" -ge 0 ] || fail "no event thread named xsock-ev in the parent"
[ "$ev" -lt "$max" ] ||
	fail "the parent's event thread was woken $ev times in $ROUNDS round trips: it still serves the child's ring"
say "$((ROUNDS / 2)) round trips with a second child holding the socket: parent's event thread woken $ev2 times"
[ "$ev2" -ge $((ROUNDS / 4)) ] ||
	fail "a child claimed the ring while another child watched the parent as its server"
say "$((ROUNDS / 2)) round trips answered by an exec'd handler: parent's event thread woken $ev3 times"
[ "$ev3" -lt $((ROUNDS / 8 + 2 * ms / 40)) ] ||
	fail "the exec'd handler did not claim the ring (the pre-exec image's watch still counted?)"
[ "$fdn" -le $((fd5 + 2)) ] || fail "the parent's fds grew from $fd5 to $fdn over $N connections"
[ "$kbn" -le $((kb5 + 8)) ] ||
	fail "the parent's state arena grew from $kb5 to $kbn KiB over $N connections: slots ended by children are not taken back"
kill "$spid" 2>/dev/null
sleep 1
[ "$(count_grants)" = "$g0" ] || fail "grants left: $(count_grants) (before: $g0)"
[ "$(count_evtchns)" = "$e0" ] || fail "event channels left: $(count_evtchns) (before: $e0)"
say "PASS"
