# SPDX-License-Identifier: MIT
"""What the tests read of the shim from /proc/self (imported as ev)."""
import os


def ev_switches(voluntary=False):
    """Context switches of this process's event thread (xsock-ev), -1 if
    none; with voluntary, only the times it went to sleep and was woken."""
    key = "voluntary_ctxt_switches:" if voluntary else "ctxt_switches"
    for t in os.listdir("/proc/self/task"):
        try:
            if open("/proc/self/task/%s/comm" % t).read().strip() != "xsock-ev":
                continue
            n = 0
            for line in open("/proc/self/task/%s/status" % t):
                if line.startswith(key) if voluntary else key in line:
                    n += int(line.split()[1])
            return n
        except OSError:
            pass
    return -1


def arena_kb():
    """Resident KiB of this process's shared state arenas (memfds)."""
    kb, inside = 0, False
    for line in open("/proc/self/smaps"):
        if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
            inside = "memfd:xsock-state" in line
        elif inside and line.startswith("Rss:"):
            kb += int(line.split()[1])
    return kb
