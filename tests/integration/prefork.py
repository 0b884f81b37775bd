#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# A pre-forking server, as an unmodified Python program: the parent
# listens and forks WORKERS children that each block in accept() on the
# shared socket; every connection must go to exactly one child, which
# answers "<pid> <sha256 of the request>". "server PORT WORKERS" /
# "client ADDR PORT CONNECTIONS" (prints the distinct pids that answered).
import hashlib, os, signal, socket, sys

def server(port, workers):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(64)
    kids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            while True:
                c, _ = ls.accept()
                data = b""
                while not data.endswith(b"\n"):
                    b = c.recv(65536)
                    if not b:
                        break
                    data += b
                c.sendall(b"%d %s\n" % (os.getpid(), hashlib.sha256(data).hexdigest().encode()))
                c.close()
        kids.append(pid)
    print("workers", " ".join(map(str, kids)), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: [os.kill(k, signal.SIGKILL) for k in kids] and sys.exit(0))
    for _ in kids:
        os.wait()

def client(addr, port, n):
    pids = {}
    for i in range(n):
        s = socket.create_connection((addr, port), timeout=20)
        req = os.urandom(1000 + 997 * i).hex().encode() + b"\n"
        s.sendall(req)
        ans = b""
        while not ans.endswith(b"\n"):
            b = s.recv(4096)
            if not b:
                break
            ans += b
        s.close()
        pid, digest = ans.split()
        assert digest.decode() == hashlib.sha256(req).hexdigest(), "connection %d: bad answer" % i
        pids[pid] = pids.get(pid, 0) + 1
    print("ok %d connections answered by %d workers: %s" % (n, len(pids),
          ", ".join("%s x%d" % (p.decode(), c) for p, c in sorted(pids.items()))), flush=True)

if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), int(sys.argv[3]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
