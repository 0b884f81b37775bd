# SPDX-License-Identifier: MIT
# fork() while another thread hands rings over to a program it starts
# (tests/integration/test_spawn_threads.sh). Usage:
#   spawnfork.py HOST PORT RUNS spawn|system
# Connects to HOST:PORT (a ring: its fd is close-on-exec, as python makes
# every socket), then, while two threads start programs over and over
# (os.posix_spawn of /bin/true, or os.system("sleep 0.02"), which the shim
# wraps in a hand-over), runs RUNS programs from the main thread with
# subprocess, by fork and exec: /bin/true with close_fds (the child calls
# close_range() before its exec) and /bin/ls /proc/self/fd without (the
# child keeps every fd that is not close-on-exec), in turn. Prints
#   runs R hung H leaked L spawned S echo ok|bad
# where H counts children that did not finish within 3 s and L the
# children that saw other fds than a child sees while no other thread
# starts programs (a ring fd or a shim fd whose close-on-exec flag the
# other thread's hand-over had cleared). Exit 0 when H = L = 0, 1 when
# only L is not, else 2. A child
# stuck before its exec (a lock the other thread held at fork) keeps this
# process waiting for good: python reads the child's exec status without
# a timeout. The caller's time bound tells that case.
import os
import socket
import subprocess
import sys
import threading
import time

host, port, runs, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.create_connection((host, port))
s.sendall(b"ping")
echo_ok = s.recv(4) == b"ping"
stop = False
spawned = 0


def starter():
    global spawned
    while not stop:
        if mode == "spawn":
            pid = os.posix_spawn("/bin/true", ["/bin/true"], os.environ)
            os.waitpid(pid, 0)
        else:
            os.system("sleep 0.02")
        spawned += 1


# What a child sees with nobody else starting programs.
base = set(int(x) for x in subprocess.run(["/bin/ls", "/proc/self/fd"], close_fds=False,
                                          preexec_fn=lambda: None, capture_output=True,
                                          timeout=3).stdout.split())
threads = [threading.Thread(target=starter, daemon=True) for _ in range(2)]
for t in threads:
    t.start()
hung = leaked = 0
t0 = time.time()
for i in range(runs):
    try:
        if i % 2:
            # fork, close_range() in the child, exec
            subprocess.run(["/bin/true"], timeout=3)
            continue
        # fork (a preexec_fn rules out posix_spawn), exec with every fd
        # that is not close-on-exec
        r = subprocess.run(["/bin/ls", "/proc/self/fd"], close_fds=False,
                           preexec_fn=lambda: None, capture_output=True, timeout=3)
    except subprocess.TimeoutExpired:
        hung += 1
        continue
    fds = set(int(x) for x in r.stdout.split())
    if fds != base:
        leaked += 1
        if leaked == 1:
            print("first leak: fds %s, alone %s (ring fd %d)" %
                  (sorted(fds), sorted(base), s.fileno()))
stop = True
for t in threads:
    t.join(10)
s.sendall(b"pong")
echo_ok = echo_ok and s.recv(4) == b"pong"
print("runs %d hung %d leaked %d spawned %d echo %s in %.1f s" %
      (runs, hung, leaked, spawned, "ok" if echo_ok else "bad", time.time() - t0))
sys.exit(2 if hung or not echo_ok else 1 if leaked else 0)
