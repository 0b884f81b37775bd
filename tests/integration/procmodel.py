#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Ordinary TCP programs that fork around their connections (no xsock code).

daemon PORT PIDFILE
    An echo server that listens, then daemonizes the classic way: fork,
    the parent exits, setsid, fork again, the middle process exits; the
    grandchild writes PIDFILE and accepts. Each connection is served by a
    forked child (the daemon closes its copy), which echoes until EOF.

client MODE HOST PORT NBYTES OUT
    Connects, then forks; one process sends NBYTES of a deterministic
    pseudo-random stream and shuts down, and a process reads the echo and
    writes "<bytes> <sha256>" of it to OUT. MODE says who does what:
      child-reads   the parent writes (then closes and waits), the child reads
      parent-reads  the child writes (then exits), the parent reads
      child-both    the parent closes its copy and exits at once; the child
                    writes and reads
      parent-killed the child writes and reads; the parent is SIGKILLed by
                    the child as soon as it starts (a parent that dies
                    without any exit code running)
    Prints "expect <bytes> <sha256>" of what was sent.
"""
import hashlib
import os
import signal
import socket
import sys
import time


def stream(n):
    """NBYTES of a reproducible stream, in 64 KiB pieces."""
    seed = b"xsock-procmodel"
    block = b""
    i = 0
    while len(block) < 65536:
        block += hashlib.sha256(seed + i.to_bytes(4, "little")).digest()
        i += 1
    sent = 0
    while sent < n:
        piece = block[: min(65536, n - sent)]
        # Vary the blocks so that a misplaced one changes the digest.
        piece = bytes([(sent >> 16) & 0xFF]) + piece[1:]
        sent += len(piece)
        yield piece


def expect(n):
    h = hashlib.sha256()
    for p in stream(n):
        h.update(p)
    return h.hexdigest()


def send_all(s, n):
    for p in stream(n):
        s.sendall(p)
    s.shutdown(socket.SHUT_WR)


def read_all(s, out):
    h = hashlib.sha256()
    got = 0
    while True:
        b = s.recv(65536)
        if not b:
            break
        h.update(b)
        got += len(b)
    with open(out + ".tmp", "w") as f:
        f.write("%d %s\n" % (got, h.hexdigest()))
    os.rename(out + ".tmp", out)


def echo(c):
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
    c.close()


def daemon(port, pidfile):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(16)
    if os.fork():
        os._exit(0)  # the process that listened is gone
    os.setsid()
    if os.fork():
        os._exit(0)
    with open(pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(pidfile + ".tmp", pidfile)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        c, _ = ls.accept()
        if os.fork() == 0:
            ls.close()
            echo(c)
            os._exit(0)
        c.close()


def client(mode, host, port, n, out):
    s = socket.create_connection((host, port), timeout=60)
    print("expect %d %s" % (n, expect(n)), flush=True)
    parent = os.getpid()
    pid = os.fork()
    child = pid == 0
    if mode == "child-reads":
        if child:
            read_all(s, out)
            os._exit(0)
        send_all(s, n)
        s.close()
        os.waitpid(pid, 0)
    elif mode == "parent-reads":
        if child:
            send_all(s, n)
            s.close()
            os._exit(0)
        read_all(s, out)
        os.waitpid(pid, 0)
    elif mode == "child-both":
        if not child:
            s.close()
            sys.exit(0)  # an orderly exit: atexit code runs
        time.sleep(0.3)  # the parent is gone by now
        send_and_read(s, n, out)
        os._exit(0)
    elif mode == "parent-killed":
        if not child:
            while True:
                time.sleep(1)
        os.kill(parent, signal.SIGKILL)
        time.sleep(0.3)
        send_and_read(s, n, out)
        os._exit(0)
    else:
        sys.exit("unknown mode " + mode)


def send_and_read(s, n, out):
    """Write and read at once from one process: two threads."""
    import threading

    t = threading.Thread(target=send_all, args=(s, n))
    t.start()
    read_all(s, out)
    t.join()
    s.close()


def main():
    if sys.argv[1] == "daemon":
        daemon(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
