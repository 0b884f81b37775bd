#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""An ordinary TCP program pair for test_reuse.sh: many short connections
from one client process to one server process, each checked end to end.

  reuse.py server PORT block|select
      accept (a blocking accept(), or selectors on a non-blocking listener),
      and for each connection: read a 9-byte header (payload length L, and
      a flag byte), then the payload; answer with the SHA-256 of what was
      read and the payload itself; close. Flag 1: read only the first half
      of the payload and close with the rest unread.
  reuse.py client HOST PORT CYCLES SEED [GOFILE]
      CYCLES connections, each with a random payload (0..200000 bytes) and
      flag; checks the hash and the echo. Every fifth connection closes
      after the hash, leaving the echo unread. With GOFILE: after the
      cycles, wait for GOFILE to appear, then run CYCLES more. Prints
      "cycles N bytes B ev_wakeups W fds F early_fds E" (W: how often the
      shim's event thread slept and was woken, from /proc; F: our open
      fds now, E: after the fifth connection) and exits 1 at the first
      mismatch.
"""
import hashlib
import os
import random
import selectors
import socket
import struct
import sys
import time

from evthread import ev_switches  # beside this script


def read_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        got = s.recv(min(65536, n - len(buf)))
        if not got:
            break
        buf += got
    return bytes(buf)


def serve_one(c):
    hdr = read_exact(c, 9)
    if len(hdr) < 9:
        c.close()
        return
    length, flag = struct.unpack("!QB", hdr)
    want = length // 2 if flag == 1 else length
    data = read_exact(c, want)
    try:
        c.sendall(hashlib.sha256(data).digest() + (data if flag != 1 else b""))
    except (BrokenPipeError, ConnectionResetError):
        pass
    c.close()


def server(port, mode):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(64)
    if mode == "block":
        while True:
            c, _ = ls.accept()
            serve_one(c)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    while True:
        for _key, _ in sel.select():
            try:
                c, _ = ls.accept()
            except BlockingIOError:
                continue
            c.setblocking(True)
            serve_one(c)


def one(host, port, rnd):
    length = rnd.choice([0, 1, 15, 4096, rnd.randrange(0, 200001)])
    flag = 1 if rnd.random() < 0.25 and length > 1 else 0
    payload = rnd.randbytes(length)
    s = socket.create_connection((host, port), timeout=20)
    s.sendall(struct.pack("!QB", length, flag) + payload)
    digest = read_exact(s, 32)
    sent = payload[: length // 2] if flag == 1 else payload
    if digest != hashlib.sha256(sent).digest():
        raise SystemExit("hash mismatch (length %d, flag %d, got %d bytes)"
                         % (length, flag, len(digest)))
    nbytes = length + 32
    if flag != 1 and rnd.random() >= 0.2:
        echo = read_exact(s, length)
        if echo != payload:
            raise SystemExit("echo mismatch (length %d, got %d)" % (length, len(echo)))
        if s.recv(1) != b"":
            raise SystemExit("data after the echo")
        nbytes += length
    s.close()
    return nbytes


def ev_wakeups():
    """Times the shim's event thread (xsock-ev) went to sleep and was woken."""
    return max(ev_switches(voluntary=True), 0)


def client(host, port, cycles, seed, gofile):
    rnd = random.Random(seed)
    total = 0
    done = 0
    early_fds = -1
    for batch in range(2 if gofile else 1):
        if batch == 1:
            while not os.path.exists(gofile):
                time.sleep(0.02)
        for _ in range(cycles):
            total += one(host, port, rnd)
            done += 1
            if done == 5:
                early_fds = len(os.listdir("/proc/self/fd"))
        print("cycles %d bytes %d ev_wakeups %d fds %d early_fds %d"
              % (done, total, ev_wakeups(), len(os.listdir("/proc/self/fd")), early_fds),
              flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) in (6, 7) and sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
               sys.argv[6] if len(sys.argv) == 7 else None)
    else:
        sys.exit(__doc__)
