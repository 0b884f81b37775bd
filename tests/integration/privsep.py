#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A privilege-separated TCP server, and its client (no xsock code).

  privsep.py server PORT JAIL USER MODE N   serve N connections, then exit
  privsep.py client HOST PORT FILE          send FILE, check the answer

The server starts as root, listens on PORT, and drops to USER (its groups
from /etc/group, as initgroups() gives them) inside JAIL (an empty
directory: chroot) at the point MODE says:
  listen   the listening process itself, right after listen(); it then
           accepts and serves every connection;
  accept   the root process accepts; a forked child drops and serves the
           connection (OpenSSH-style privilege separation); the parent
           closes its copy;
  prefork  a forked child drops right after it is forked, then accepts
           and serves (the parent keeps the listening socket and waits).
Each connection: read to end of stream, answer "SHA256 uid=UID jail=BOOL"
(BOOL: / is the empty jail) and close. The client sends FILE, shuts its
write side, and exits 0 when the digest matches, printing the answer.
"""
import hashlib
import os
import pwd
import socket
import sys


def drop(jail, user):
    pw = pwd.getpwnam(user)
    groups = os.getgrouplist(user, pw.pw_gid)
    os.chroot(jail)
    os.chdir("/")
    os.setgroups(groups)
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


def serve(conn):
    h = hashlib.sha256()
    while True:
        b = conn.recv(1 << 16)
        if not b:
            break
        h.update(b)
    jailed = os.listdir("/") == []
    conn.sendall(("%s uid=%d jail=%s\n" % (h.hexdigest(), os.getuid(), jailed)).encode())
    conn.close()


def server(port, jail, user, mode, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    print("listening", flush=True)
    if mode == "listen":
        drop(jail, user)
        for _ in range(n):
            serve(s.accept()[0])
        return 0
    if mode == "accept":
        kids = []
        for _ in range(n):
            conn = s.accept()[0]
            pid = os.fork()
            if pid == 0:
                s.close()
                drop(jail, user)
                serve(conn)
                os._exit(0)
            conn.close()
            kids.append(pid)
        return max(os.waitstatus_to_exitcode(os.waitpid(k, 0)[1]) for k in kids)
    if mode == "prefork":
        pid = os.fork()
        if pid == 0:
            drop(jail, user)
            for _ in range(n):
                serve(s.accept()[0])
            os._exit(0)
        # The parent keeps its listening socket open, as nginx's master
        # does (a listener that closes it is item 3 of issue 16: daemons).
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    raise SystemExit("unknown mode " + mode)


def client(host, port, path):
    with open(path, "rb") as f:
        data = f.read()
    c = socket.create_connection((host, port))
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    ans = b""
    while True:
        b = c.recv(4096)
        if not b:
            break
        ans += b
    c.close()
    print(ans.decode().strip())
    return 0 if ans.split(b" ")[0].decode() == hashlib.sha256(data).hexdigest() else 1


if __name__ == "__main__":
    a = sys.argv
    if len(a) == 7 and a[1] == "server":
        sys.exit(server(int(a[2]), a[3], a[4], a[5], int(a[6])))
    if len(a) == 5 and a[1] == "client":
        sys.exit(client(a[2], int(a[3]), a[4]))
    sys.exit(__doc__)
