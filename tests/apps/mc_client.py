# SPDX-License-Identifier: MIT
# A memcached client speaking the text protocol over a plain socket:
# stores values of 1 B .. 512 KiB, reads them back (one by one and in one
# multi-get of argv[3] keys, default 10) and compares; then times a loop of small get round trips.
# Prints "ok <n> values" and "rtt <usec>"; exits non-zero on any mismatch.
import os, socket, sys, time

host, port = sys.argv[1], int(sys.argv[2])
nmulti = int(sys.argv[3]) if len(sys.argv) > 3 else 10
s = socket.create_connection((host, port), timeout=20)
f = s.makefile("rb")


def cmd(line, data=None):
    s.sendall(line + b"\r\n" + (data + b"\r\n" if data is not None else b""))


def get_values():
    got = {}
    while True:
        line = f.readline()
        if line == b"END\r\n":
            return got
        parts = line.split()
        if len(parts) != 4 or parts[0] != b"VALUE":
            sys.exit("bad get reply: %r" % line[:100])
        n = int(parts[3])
        data = f.read(n + 2)
        if len(data) != n + 2 or data[-2:] != b"\r\n":
            sys.exit("short value for %r" % parts[1])
        got[parts[1]] = data[:-2]


vals = {}
for i, size in enumerate([1, 10, 100, 1000, 4096, 65536, 200000, 524288] * 25):
    k = b"k%d" % i
    vals[k] = os.urandom(size)
    cmd(b"set %s %d 0 %d" % (k, i, size), vals[k])
    r = f.readline()
    if r != b"STORED\r\n":
        sys.exit("set %r: %r" % (k, r))
for k, v in vals.items():
    cmd(b"get " + k)
    if get_values() != {k: v}:
        sys.exit("get %r: value differs" % k)
keys = list(vals)[:nmulti]
cmd(b"get " + b" ".join(keys))
if get_values() != {k: vals[k] for k in keys}:
    sys.exit("multi-get: values differ")
cmd(b"delete k0")
if f.readline() != b"DELETED\r\n":
    sys.exit("delete failed")
cmd(b"get k0")
if get_values() != {}:
    sys.exit("k0 still there after delete")
print("ok %d values" % len(vals))
n = 20000
t = time.perf_counter()
for i in range(n):
    cmd(b"get k1")
    f.readline(); f.read(12); f.readline()
print("rtt %.1f" % ((time.perf_counter() - t) / n * 1e6))
cmd(b"quit")
