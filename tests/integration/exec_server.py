# SPDX-License-Identifier: MIT
# A TCP server (run under the shim) that hands each accepted connection to
# a program started the way real servers do (tests/integration/test_exec.sh):
#   exec_server.py PORT WORKDIR MODE...   (one connection per MODE, in order)
# MODEs, each running sha256sum on the connection unless said otherwise:
#   passfds  subprocess with pass_fds, the program finds the fd by number
#   direct   subprocess with pass_fds, a python program that reads and
#            writes the fd itself (the ring, not a stdio relay)
#   peer     inetd's way, a program that reads its stdin and says what
#            getpeername(0) answers (not sha256sum)
#   stdio    subprocess with stdin=stdout=the connection
#   inetd    fork, dup2 onto 0 and 1, execv (inetd's way)
#   system   os.system() with the fd inheritable
#   popen    libc popen() (ctypes) with the fd inheritable
#   spawn    os.posix_spawn() with dup2 file actions onto 0 and 1
#   noshim   stdio, but the program's environment has no LD_PRELOAD: it
#            must read end-of-file (wc -c, written to WORKDIR/noshim.out)
#   setuid   stdio, the program a set-user-ID copy of wc: the loader drops
#            the shim; as noshim (WORKDIR/setuid.out)
# The server's own fds are listed in WORKDIR/fdlist.before once listening,
# fdlist.after once the programs under the shim are done, fdlist.end at the
# end (fds.before, fds.after: their counts).
import ctypes
import os
import socket
import subprocess
import sys
import time

port, work, modes = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
SUM = ["sha256sum"]


def nfds():
    return len(os.listdir("/proc/self/fd"))


def fdlist(name):
    with open(work + "/" + name, "w") as f:
        for fd in sorted(os.listdir("/proc/self/fd"), key=int):
            try:
                link = os.readlink("/proc/self/fd/" + fd)
                if link.startswith("socket:"):
                    try:
                        k = socket.socket(fileno=os.dup(int(fd)))
                        link += " %s" % k.family.name
                        k.close()
                    except OSError:
                        pass
                f.write("%s %s\n" % (fd, link))
            except OSError:
                pass


def serve(mode, c):
    fd = c.fileno()
    if mode == "passfds":
        p = subprocess.Popen(["/bin/sh", "-c", "sha256sum <&%d >&%d" % (fd, fd)],
                             pass_fds=[fd])
    elif mode == "direct":
        # The ring itself on a fd that is not stdio: read and written with
        # os.read/os.write (read(2)/write(2) through the shim), no relay.
        code = ("import hashlib, os, sys\n"
                "fd = int(sys.argv[1]); h = hashlib.sha256()\n"
                "while True:\n"
                "    b = os.read(fd, 65536)\n"
                "    if not b: break\n"
                "    h.update(b)\n"
                "os.write(fd, (h.hexdigest() + '  -\\n').encode())\n")
        p = subprocess.Popen([sys.executable, "-c", code, str(fd)], pass_fds=[fd])
    elif mode == "peer":
        # inetd's handler asks who the client is: getpeername(0) through
        # libc (ctypes), on the stdio relay, must name the ring's peer.
        code = ("import ctypes, socket, struct, sys\n"
                "n = len(sys.stdin.buffer.read())\n"
                "libc = ctypes.CDLL(None, use_errno=True)\n"
                "buf = ctypes.create_string_buffer(128)\n"
                "ln = ctypes.c_uint32(128)\n"
                "rc = libc.getpeername(0, buf, ctypes.byref(ln))\n"
                "fam, = struct.unpack('H', buf.raw[:2])\n"
                "ip = socket.inet_ntoa(buf.raw[4:8]) if fam == socket.AF_INET else '?'\n"
                "print('peer', rc, fam, ip, n)\n")
        pid = os.fork()
        if pid == 0:
            os.dup2(fd, 0)
            os.dup2(fd, 1)
            os.execv(sys.executable, [sys.executable, "-c", code])
        c.close()
        os.waitpid(pid, 0)
        return
    elif mode == "stdio":
        p = subprocess.Popen(SUM, stdin=c, stdout=c)
    elif mode == "inetd":
        pid = os.fork()
        if pid == 0:
            os.dup2(fd, 0)
            os.dup2(fd, 1)
            os.execv("/usr/bin/sha256sum", SUM)
        c.close()
        os.waitpid(pid, 0)
        return
    elif mode in ("system", "popen"):
        os.set_inheritable(fd, True)
        cmd = "sha256sum <&%d >&%d" % (fd, fd)
        if mode == "system":
            os.system(cmd)
        else:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.popen.restype = ctypes.c_void_p
            f = libc.popen(cmd.encode(), b"r")
            libc.pclose(ctypes.c_void_p(f))
        c.close()
        return
    elif mode == "spawn":
        pid = os.posix_spawn("/usr/bin/sha256sum", SUM, os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, fd, 0),
                                           (os.POSIX_SPAWN_DUP2, fd, 1)])
        c.close()
        os.waitpid(pid, 0)
        return
    elif mode == "noshim":
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        p = subprocess.Popen(["/bin/sh", "-c", "wc -c >%s/noshim.out" % work], stdin=c,
                             env=env)
    elif mode == "setuid":
        out = open(work + "/setuid.out", "w")
        p = subprocess.Popen([work + "/wc-setuid", "-c"], stdin=c, stdout=out)
        out.close()
    else:
        raise SystemExit("unknown mode " + mode)
    c.close()
    p.wait()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(8)
fdlist("fdlist.before")
with open(work + "/fds.before", "w") as f:
    f.write("%d\n" % (len(open(work + "/fdlist.before").readlines())))
shim_fds = False
for m in modes:
    if m in ("noshim", "setuid") and not shim_fds:
        # The programs that ran under the shim are done: what we hold now
        # is what their connections left (see the time.sleep() below).
        time.sleep(1)
        fdlist("fdlist.after")
        shim_fds = True
    c, _ = s.accept()
    serve(m, c)
    with open(work + "/done", "a") as f:
        f.write(m + "\n")
# The last connection ends in our event thread once its last holder is
# gone (asynchronously): give it the time to.
time.sleep(1)
if not shim_fds:
    fdlist("fdlist.after")
fdlist("fdlist.end")
with open(work + "/fds.after", "w") as f:
    f.write("%d\n" % (len(open(work + "/fdlist.after").readlines())))
s.close()
