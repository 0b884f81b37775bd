#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Stream semantics through the shim, as an unmodified Python program sees
# them. Run as "server PORT" in one domain and "client ADDR PORT" in the
# other; each step prints "ok <what>" or raises (exit 1).
import errno, hashlib, os, signal, socket, struct, sys, time

def ok(what):
    print("ok", what, flush=True)

def server(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(8)
    # 1. half-close: the client sends, shuts down its side, reads our reply
    c, peer = ls.accept()
    assert peer[0] == "10.77.0.1", peer
    ok("accept reports the registered peer address %s" % peer[0])
    data = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        data += b
    ok("read %d bytes then EOF after the peer's shutdown(SHUT_WR)" % len(data))
    c.sendall(hashlib.sha256(data).hexdigest().encode())
    c.close()
    # 2. peek, waitall, partial reads
    c, _ = ls.accept()
    b = c.recv(5, socket.MSG_PEEK)
    assert b == b"hello", b
    b2 = c.recv(5)
    assert b2 == b"hello", b2
    ok("MSG_PEEK then the same bytes again")
    b = c.recv(100000, socket.MSG_WAITALL)
    assert len(b) == 100000 and b == bytes(range(256)) * 390 + bytes(range(160)), len(b)
    ok("MSG_WAITALL gathered 100000 bytes")
    c.close()
    # 3. the peer closes while we write: EPIPE (Python ignores SIGPIPE)
    c, _ = ls.accept()
    got = c.recv(1)
    assert got == b"x", got
    time.sleep(0.5)  # the client closes meanwhile
    try:
        for i in range(1000):
            c.send(b"y" * 65536)
        raise AssertionError("writes to a closed peer kept succeeding")
    except (BrokenPipeError, ConnectionResetError) as e:
        ok("write to a closed peer: %s" % errno.errorcode[e.errno])
    c.close()
    # 4. non-blocking: EAGAIN on empty, readable via select
    import select
    c, _ = ls.accept()
    c.setblocking(False)
    try:
        got = c.recv(10)
        raise AssertionError("recv on an empty ring did not fail: %r" % got)
    except BlockingIOError:
        ok("non-blocking recv on an empty ring: EAGAIN")
    r, _, _ = select.select([c], [], [], 5)
    assert r == [c], "select did not report the socket readable"
    assert c.recv(10) == b"ping"
    ok("select() woke on data")
    c.close()
    # 5. a non-blocking connect: EINPROGRESS, then writable, SO_ERROR 0
    c, _ = ls.accept()
    c.settimeout(10)
    assert c.recv(2) == b"nb"
    ok("data from a non-blocking connect")
    c.close()
    # 6. epoll, edge-triggered, with EPOLLRDHUP; then back-pressure on the
    #    client: we do not read until it reports EPOLLOUT stopped.
    c, _ = ls.accept()
    ep = select.epoll()
    ep.register(c.fileno(), select.EPOLLIN | select.EPOLLET | select.EPOLLRDHUP)
    ev = ep.poll(10)
    assert ev and ev[0][1] & select.EPOLLIN, ev
    assert ep.poll(0.3) == [], "edge-triggered epoll fired twice for one arrival"
    ok("epoll EPOLLET: one event per arrival")
    assert c.recv(1) == b"a"
    c.send(b"k")  # tell the client to send more
    ev = ep.poll(10)
    assert ev and ev[0][1] & select.EPOLLIN, ev
    assert c.recv(1) == b"b"
    ok("epoll EPOLLET: a new arrival fires again")
    time.sleep(1.5)  # the client fills the ring meanwhile and checks EPOLLOUT
    total = 0
    c.setblocking(True)
    while True:
        b = c.recv(65536)
        if not b:
            break
        total += len(b)
    ok("drained %d bytes after back-pressure" % total)
    c.close()
    # 7. FIONREAD and SIOCOUTQ, EPOLLONESHOT, poll() over a ring and a
    #    pipe, EPOLLRDHUP
    import fcntl, termios
    SIOCOUTQ = 0x5411
    def ioctl_int(fd, req):
        return struct.unpack("i", fcntl.ioctl(fd, req, b"\0\0\0\0"))[0]
    c, _ = ls.accept()
    deadline = time.time() + 5
    while ioctl_int(c.fileno(), termios.FIONREAD) < 1000 and time.time() < deadline:
        time.sleep(0.01)
    n = ioctl_int(c.fileno(), termios.FIONREAD)
    assert n == 1000, n
    assert c.recv(2000) == b"f" * 1000
    assert ioctl_int(c.fileno(), termios.FIONREAD) == 0
    c.sendall(b"q" * 5000)
    n = ioctl_int(c.fileno(), SIOCOUTQ)
    assert n == 5000, n
    while ioctl_int(c.fileno(), SIOCOUTQ) and time.time() < deadline + 5:
        time.sleep(0.01)
    ok("FIONREAD 1000 then 0, SIOCOUTQ %d then %d" % (n, ioctl_int(c.fileno(), SIOCOUTQ)))
    ep = select.epoll()
    ep.register(c.fileno(), select.EPOLLIN | select.EPOLLONESHOT)
    ev = ep.poll(10)
    assert ev and ev[0][1] & select.EPOLLIN, ev
    assert ep.poll(0.3) == [], "EPOLLONESHOT fired twice"
    ep.modify(c.fileno(), select.EPOLLIN | select.EPOLLONESHOT)
    ev = ep.poll(10)
    assert ev and ev[0][1] & select.EPOLLIN, "re-armed EPOLLONESHOT did not fire: %r" % ev
    assert c.recv(1) == b"1"
    ok("EPOLLONESHOT: once, then again after EPOLL_CTL_MOD")
    pr, pw = os.pipe()
    os.write(pw, b"p")
    p = select.poll()
    p.register(c.fileno(), select.POLLIN)
    p.register(pr, select.POLLIN)
    res = dict(p.poll(2000))
    assert res == {pr: select.POLLIN}, res
    os.read(pr, 1)
    c.send(b"2")
    res = dict(p.poll(5000))
    assert res == {c.fileno(): select.POLLIN}, res
    assert c.recv(1) == b"3"
    ok("poll() over a ring and a pipe reports each when ready")
    ep2 = select.epoll()
    ep2.register(c.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
    ev = ep2.poll(10)
    assert ev and ev[0][1] & select.EPOLLRDHUP, ev
    assert c.recv(10) == b""
    ok("EPOLLRDHUP and EOF after the peer's shutdown")
    c.close()
    ls.close()

def client(addr, port):
    def conn():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect((addr, port))
        return s
    s = conn()
    assert s.getpeername() == (addr, port), s.getpeername()
    ok("getpeername %s:%d" % s.getpeername())
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    ok("SO_TYPE, SO_ERROR, TCP_NODELAY as TCP")
    payload = os.urandom(3 * 1024 * 1024 + 17)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        b = s.recv(100)
        if not b:
            break
        reply += b
    assert reply.decode() == hashlib.sha256(payload).hexdigest(), reply
    ok("half-close: the server's checksum of 3 MiB matches")
    s.close()
    # The shim keeps what it holds (event channels, shared pages, its
    # socketpair ends, its event thread's fds) out of the low fd numbers,
    # where programs size their tables by the connections they make: like
    # TCP, a connection costs the application exactly one fd there.
    import resource
    lim = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2, 65536)
    def low_fds():
        return sorted(int(f) for f in os.listdir("/proc/self/fd") if int(f) < lim)
    before = low_fds()
    s = conn()
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    after = low_fds()
    assert len(after) == len(before) + 2 and t.fileno() == s.fileno() + 1, (before, after)
    t.close()
    ok("one low fd per connection (%d); nothing else of ours below fd %d" % (s.fileno(), lim))
    s.sendall(b"hello")
    time.sleep(0.2)
    s.sendall(bytes(range(256)) * 390 + bytes(range(160)))
    s.close()
    s = conn()
    s.send(b"x")
    s.close()
    ok("closed while the server writes")
    s = conn()
    time.sleep(2)  # well after the server (which sleeps 0.5 s in step 3) looks
    s.send(b"ping")
    time.sleep(0.5)
    s.close()
    import select
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    e = s.connect_ex((addr, port))
    assert e == errno.EINPROGRESS, errno.errorcode.get(e, e)
    _, w, _ = select.select([], [s], [], 10)
    assert w == [s], "non-blocking connect never became writable"
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    s.setblocking(True)
    s.sendall(b"nb")
    s.close()
    ok("non-blocking connect: EINPROGRESS, writable, SO_ERROR 0")
    s = conn()
    s.send(b"a")
    assert s.recv(1) == b"k"
    s.send(b"b")
    s.setblocking(False)
    sent = 0
    try:
        while True:
            sent += s.send(b"z" * 4096)
    except BlockingIOError:
        pass
    ep = select.epoll()
    ep.register(s.fileno(), select.EPOLLOUT)
    assert ep.poll(0.3) == [], "EPOLLOUT with a full ring (an event loop would spin)"
    ok("back-pressure: EAGAIN after %d bytes and no EPOLLOUT while full" % sent)
    ev = ep.poll(10)
    assert ev and ev[0][1] & select.EPOLLOUT, ev
    ok("EPOLLOUT once the reader made room")
    s.shutdown(socket.SHUT_WR)
    s.close()
    s = conn()
    s.sendall(b"f" * 1000)
    time.sleep(1.5)
    got = b""
    while len(got) < 5000:
        got += s.recv(5000 - len(got))
    assert got == b"q" * 5000
    time.sleep(0.5)
    s.send(b"1")
    assert s.recv(1) == b"2"
    s.send(b"3")
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()
    ok("ioctl, oneshot, poll, rdhup: the peer's side")
    # a closed fd is an ordinary EBADF again
    try:
        os.read(s.fileno() if s.fileno() >= 0 else 999, 1)
    except OSError as e:
        assert e.errno == errno.EBADF
    ok("done")

if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]))
    else:
        client(sys.argv[2], int(sys.argv[3]))
