#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Both ends of test_domain_death.sh, unmodified-program style (plain
# sockets, run under the shim). Every result line ends with t=<wall clock
# seconds> of the moment the call returned, which the test compares with
# when it destroyed the peer's domain.
#   server PORT send|sink|noaccept|recv   accept one connection and: send
#          1 MiB and hold it / never read it / (never accept) / read it to
#          the end and report what came
#   reader HOST PORT    read to the end; report bytes, sha256, how it ended
#   writer HOST PORT    write until an error; report it
#   connect HOST PORT   connect; report how it ended
#   sendhold HOST PORT  connect, send 1000 bytes, hold the connection
# A reporting end holds its socket open HOLD seconds (env, default 3) after
# its result: the test looks at its mappings meanwhile.
import errno
import hashlib
import os
import socket
import sys
import time

MIB = 1 << 20


def pattern(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def out(line):
    print(line + " t=%.3f" % time.time(), flush=True)


def hold(sock):
    time.sleep(float(os.environ.get("HOLD", "3")))
    sock.close()


def err_name(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__


def server(port, mode):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(8)
    print("listening", flush=True)
    if mode == "noaccept":
        time.sleep(3600)
        return
    if mode == "loop":
        # Each connection read to its end, then closed: xsock parks the
        # ring for the client's next connection.
        while True:
            c, _ = ls.accept()
            while c.recv(65536):
                pass
            c.close()
    c, _ = ls.accept()
    if mode == "send":
        c.sendall(pattern(MIB))
        print("sent", flush=True)
        time.sleep(3600)
    elif mode == "sink":
        time.sleep(3600)
    elif mode == "recv":
        read_to_end(c)


def read_to_end(s):
    h = hashlib.sha256()
    n = 0
    end = "EOF"
    while True:
        try:
            b = s.recv(65536)
        except OSError as e:
            end = err_name(e)
            break
        if not b:
            break
        n += len(b)
        h.update(b)
        if n == MIB:
            print("got", n, flush=True)
    out("bytes=%d sha=%s end=%s" % (n, h.hexdigest()[:16], end))
    hold(s)


def main():
    role = sys.argv[1]
    if role == "server":
        server(int(sys.argv[2]), sys.argv[3])
        return
    host, port = sys.argv[2], int(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.connect((host, port))
    except OSError as e:
        out("connect=%s" % err_name(e))
        return
    if role == "connect":
        out("connect=ok")
        hold(s)
    elif role == "reader":
        read_to_end(s)
    elif role == "writer":
        n = 0
        chunk = b"w" * 65536
        blocked = False
        while True:
            t0 = time.time()
            try:
                n += s.send(chunk)
            except OSError as e:
                out("written=%d err=%s" % (n, err_name(e)))
                break
            if not blocked and time.time() - t0 > 0.3:
                blocked = True
                print("blocked", flush=True)
        hold(s)
    elif role == "parker":
        # One connection, closed: its ring stays parked in this process.
        s.sendall(pattern(1000))
        s.close()
        print("parked", flush=True)
        time.sleep(3600)
    elif role == "sendhold":
        s.sendall(pattern(1000))
        print("sent", flush=True)
        time.sleep(3600)


if __name__ == "__main__":
    main()
