#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Ordinary socket programs (no xsock code) that the tests of tests/hostile/
# run under the shim as the victims of xsock-hostile. Each prints one line
# "<mode>: key=value ..." with its figures (and "pid=<pid> ..." lines the
# scripts wait for); errors are errno names.
#
#   recv PORT TIMEOUT_S block|poll  accept one connection; "block": one
#                                   blocking recv() with SO_RCVTIMEO;
#                                   "poll": poll()+recv(MSG_DONTWAIT) until
#                                   TIMEOUT_S has passed
#   epoll PORT SECS                 accept one; a level-triggered epoll loop
#                                   with non-blocking recv() for SECS
#   send PORT TIMEOUT_S             accept one; blocking send() with
#                                   SO_SNDTIMEO until one fails
#   echo PORT [ADDR]                single-threaded non-blocking echo server
#                                   (selectors); logs every accepted socket's
#                                   local and peer address
#   echo-client HOST PORT NBYTES    send NBYTES random bytes, read them back,
#                                   compare checksums
#   connect HOST PORT               connect() only: its result
#   pinger HOST PORT SECS INTERVAL  one TCP connection, 16 bytes echoed every
#                                   INTERVAL s for SECS: latencies
#   dup HOST PORT NBYTES            d = dup(fd); close(d); reuse d for a
#                                   socketpair; then echo through fd
#   fork PORT                       accept one; fork while a thread blocks in
#                                   recv() on it; the child's recv() with
#                                   SO_RCVTIMEO = 1 s
import errno, hashlib, os, select, selectors, signal, socket, struct, sys, threading, time

def out(*a):
    print(*a, flush=True)

def ename(e):
    return errno.errorcode.get(e, str(e))

def cpu():
    t = os.times()
    return t.user + t.system

def listen_one(port, addr="0.0.0.0"):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(16)
    out("pid=%d listening" % os.getpid())
    c, peer = ls.accept()
    out("pid=%d accepted %s" % (os.getpid(), peer[0]))
    return c

def timeval(secs):
    return struct.pack("ll", int(secs), int((secs - int(secs)) * 1e6))

def recv_victim(port, secs, how):
    c = listen_one(port)
    t0, c0 = time.monotonic(), cpu()
    if how == "block":
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval(secs))
        try:
            res = "%d-bytes" % len(c.recv(100))
        except OSError as e:
            res = ename(e.errno)
        out("recv: how=block result=%s elapsed=%.2f cpu=%.2f"
            % (res, time.monotonic() - t0, cpu() - c0))
        return
    p = select.poll()
    p.register(c.fileno(), select.POLLIN)
    wakeups = eagain = 0
    res = "timeout"
    while time.monotonic() - t0 < secs:
        left = secs - (time.monotonic() - t0)
        if not p.poll(max(1, int(left * 1000))):
            continue
        wakeups += 1
        try:
            d = c.recv(100, socket.MSG_DONTWAIT)
            res = "%d-bytes" % len(d)
            break
        except BlockingIOError:
            eagain += 1
    out("recv: how=poll result=%s wakeups=%d eagain=%d elapsed=%.2f cpu=%.2f"
        % (res, wakeups, eagain, time.monotonic() - t0, cpu() - c0))

def epoll_victim(port, secs):
    c = listen_one(port)
    c.setblocking(False)
    sel = selectors.EpollSelector()
    sel.register(c, selectors.EVENT_READ)
    t0, c0 = time.monotonic(), cpu()
    wakeups = eagain = data = 0
    while time.monotonic() - t0 < secs:
        for _ in sel.select(0.2):
            wakeups += 1
            try:
                d = c.recv(4096)
                if not d:
                    sel.unregister(c)
                data += len(d)
            except BlockingIOError:
                eagain += 1
    out("epoll: wakeups=%d eagain=%d data=%d elapsed=%.2f cpu=%.2f"
        % (wakeups, eagain, data, time.monotonic() - t0, cpu() - c0))

def send_victim(port, secs):
    c = listen_one(port)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval(secs))
    buf = b"x" * 65536
    sent = 0
    while True:
        t0, c0 = time.monotonic(), cpu()
        try:
            sent += c.send(buf)
        except OSError as e:
            out("send: sent=%d result=%s elapsed=%.2f cpu=%.2f"
                % (sent, ename(e.errno), time.monotonic() - t0, cpu() - c0))
            return

def echo_server(port, addr="0.0.0.0"):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(128)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    pending = {}
    out("pid=%d listening" % os.getpid())
    while True:
        for key, ev in sel.select():
            s = key.fileobj
            if s is ls:
                try:
                    c, peer = ls.accept()
                except (BlockingIOError, ConnectionAbortedError):
                    continue
                loc = c.getsockname()
                out("accepted peer=%s local=%s:%d" % (peer[0], loc[0], loc[1]))
                c.setblocking(False)
                pending[c] = b""
                sel.register(c, selectors.EVENT_READ, None)
                continue
            try:
                if ev & selectors.EVENT_READ:
                    d = s.recv(65536)
                    if not d:
                        raise ConnectionResetError
                    pending[s] += d
                if pending[s]:
                    n = s.send(pending[s])
                    pending[s] = pending[s][n:]
            except BlockingIOError:
                pass
            except OSError:
                sel.unregister(s)
                del pending[s]
                s.close()
                continue
            sel.modify(s, selectors.EVENT_READ |
                       (selectors.EVENT_WRITE if pending[s] else 0), None)

def connect(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.connect((host, port))
    except OSError as e:
        return None, e.errno
    return s, 0

def echo_through(s, nbytes):
    """Send nbytes random bytes through s from a thread, read them back."""
    data = os.urandom(nbytes)
    sender = threading.Thread(target=s.sendall, args=(data,))
    sender.start()
    got = hashlib.sha256()
    n = 0
    while n < nbytes:
        d = s.recv(65536)
        if not d:
            break
        got.update(d)
        n += len(d)
    sender.join()
    return n, got.hexdigest() == hashlib.sha256(data).hexdigest()

def echo_client(host, port, nbytes):
    t0 = time.monotonic()
    s, err = connect(host, port)
    if not s:
        out("echo-client: connect=%s" % ename(err))
        return 3
    n, ok = echo_through(s, nbytes)
    out("echo-client: bytes=%d checksum=%s elapsed=%.2f"
        % (n, "ok" if ok else "BAD", time.monotonic() - t0))
    return 0 if ok and n == nbytes else 1

def connect_only(host, port):
    s, err = connect(host, port)
    if s:
        try:
            s.getpeername()
        except OSError as e:
            # connect() said yes (Python retries an EINTR and trusts
            # SO_ERROR), but the socket is not connected.
            err = e.errno
            out("connect: result=ok-but-%s" % ename(err))
            return 1
    out("connect: result=%s" % ("ok" if s else ename(err)))
    return 0 if s else 3

def pinger(host, port, secs, interval):
    s = socket.create_connection((host, port), timeout=30)
    lat = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < secs:
        t = time.monotonic()
        s.sendall(b"0123456789abcdef")
        got = b""
        while len(got) < 16:
            d = s.recv(16 - len(got))
            if not d:
                break
            got += d
        lat.append(time.monotonic() - t)
        time.sleep(interval)
    out("pinger: n=%d max=%.3f avg=%.3f over_0.5s=%d"
        % (len(lat), max(lat), sum(lat) / len(lat), sum(1 for x in lat if x > 0.5)))

def dup_client(host, port, nbytes):
    s, err = connect(host, port)
    if not s:
        out("dup: connect=%s" % ename(err))
        return 3
    fd = s.fileno()
    d = os.dup(fd)
    os.close(d)
    a, b = socket.socketpair()
    other, peer = (a, b) if a.fileno() == d else (b, a)
    if other.fileno() != d:
        out("dup: fd=%d dup=%d not reused (socketpair %d %d)" % (fd, d, a.fileno(), b.fileno()))
        return 1
    p = select.poll()
    p.register(fd, select.POLLOUT)
    writable = bool(p.poll(2000))
    n, ok = echo_through(s, nbytes)
    stray = []
    for x in (other, peer):
        x.setblocking(False)
        try:
            stray.append(len(x.recv(4096)))
        except BlockingIOError:
            stray.append(0)
    out("dup: fd=%d reused=%d poll_out=%d bytes=%d checksum=%s stray_bytes_other=%d,%d"
        % (fd, d, writable, n, "ok" if ok else "BAD", stray[0], stray[1]))
    return 0 if ok and n == nbytes and writable and stray == [0, 0] else 1

def fork_server(port):
    c = listen_one(port)
    t = threading.Thread(target=lambda: c.recv(100), daemon=True)
    t.start()
    time.sleep(0.5)	# blocked in recv(), its lock held
    pid = os.fork()
    if pid == 0:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval(1))
        t0 = time.monotonic()
        try:
            res = "%d-bytes" % len(c.recv(100))
        except OSError as e:
            res = ename(e.errno)
        out("fork: child recv=%s elapsed=%.2f" % (res, time.monotonic() - t0))
        os._exit(0)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5:
        w, status = os.waitpid(pid, os.WNOHANG)
        if w:
            if os.WIFSIGNALED(status):
                out("fork: child recv=killed-by-signal-%d" % os.WTERMSIG(status))
                return 1
            return 0
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    out("fork: child recv=stuck elapsed=%.2f" % (time.monotonic() - t0))
    return 1

if __name__ == "__main__":
    a = sys.argv[1:]
    m = a[0]
    if m == "recv":
        recv_victim(int(a[1]), float(a[2]), a[3])
    elif m == "epoll":
        epoll_victim(int(a[1]), float(a[2]))
    elif m == "send":
        send_victim(int(a[1]), float(a[2]))
    elif m == "echo":
        echo_server(int(a[1]), *a[2:3])
    elif m == "echo-client":
        sys.exit(echo_client(a[1], int(a[2]), int(a[3])))
    elif m == "connect":
        sys.exit(connect_only(a[1], int(a[2])))
    elif m == "pinger":
        pinger(a[1], int(a[2]), float(a[3]), float(a[4]))
    elif m == "dup":
        sys.exit(dup_client(a[1], int(a[2]), int(a[3])))
    elif m == "fork":
        sys.exit(fork_server(int(a[1])))
    else:
        sys.exit("unknown mode " + m)
