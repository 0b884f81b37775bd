#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# A server's last words, as TCP delivers them: "server PORT MARK" accepts
# one client, sends a refusal, closes, and creates the file MARK; "client
# ADDR PORT MARK" connects, waits for MARK (the server has closed), sends
# its request (TCP takes it: the peer's kernel answers with a reset), then
# reads the refusal and end of stream; its next send fails with EPIPE.
import os, socket, sys, time

REFUSAL = b"-DENIED not from there\r\n"

def server(port, mark):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    print("listening", flush=True)
    c, _ = ls.accept()
    c.sendall(REFUSAL)
    c.close()
    open(mark, "w").close()
    print("ok refused and closed", flush=True)

def client(addr, port, mark):
    c = socket.create_connection((addr, port))
    for _ in range(1000):
        if os.path.exists(mark):
            break
        time.sleep(0.01)
    else:
        raise AssertionError("the server never closed")
    time.sleep(0.05)
    n = c.send(b"PING\r\n")
    assert n == 6, n
    print("ok the request after the server's close was taken (%d bytes)" % n, flush=True)
    got = b""
    while len(got) < len(REFUSAL):
        b = c.recv(100)
        assert b, "end of stream before the refusal: %r" % got
        got += b
    assert got == REFUSAL, got
    print("ok then the refusal was read whole", flush=True)
    b = c.recv(100)
    assert b == b"", b
    print("ok then end of stream", flush=True)
    try:
        c.send(b"PING\r\n")
        raise AssertionError("a second write after the close succeeded")
    except BrokenPipeError:
        print("ok the next write failed with EPIPE", flush=True)

if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3])
    else:
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
