#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# An unmodified server that is slow to accept: "server PORT GOFILE" listens,
# waits for GOFILE to exist, then times one accept() and answers the
# connection it got with "<sha256 of the request line>"; "client ADDR PORT
# TEXT" connects, sends TEXT and a newline and prints the answer.
import hashlib, os, socket, sys, time

def read_line(s):
    data = b""
    while not data.endswith(b"\n"):
        b = s.recv(4096)
        if not b:
            break
        data += b
    return data

def server(port, go):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(16)
    print("listening", flush=True)
    while not os.path.exists(go):
        time.sleep(0.02)
    t0 = time.monotonic()
    c, _ = ls.accept()
    dt = time.monotonic() - t0
    data = read_line(c)
    c.sendall(hashlib.sha256(data).hexdigest().encode() + b"\n")
    c.close()
    print("accepted in %.3f s: %s" % (dt, data.decode().strip()), flush=True)

def client(addr, port, text):
    s = socket.create_connection((addr, port), timeout=30)
    s.sendall(text.encode() + b"\n")
    print(read_line(s).decode().strip(), flush=True)

if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3])
    else:
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
