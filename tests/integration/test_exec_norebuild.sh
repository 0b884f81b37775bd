#!/bin/bash
# SPDX-License-Identifier: MIT
# A ring the new image cannot rebuild after exec (docs/protocol.md, "What
# crosses exec"): the program reads end of file, and what the new image
# did rebuild of it (here the event channel, from its inherited fds) is
# let go of as any holder lets go, so that the connection ends when no
# other process holds it -- the peer learns at once, and nothing is left.
#
# The server in domain 2 (python, under the shim) accepts one connection
# and re-execs itself with the connection on fd N (not stdio: no relay) and
# XSOCK_LOCAL_DIR pointing at an empty directory, where the ring's shares
# cannot be found: the rebuild fails after the channel was imported. That
# process made the connection and served it; after its exec nobody else
# holds it. The new image reads fd N, then holds it 6 s and exits. The client in
# domain 1 keeps its own direction open (stdin is a 20 s sleep): only the
# server's end ending can end it.
#
# Asserts: the new image reads end of file at once (never a readiness
# byte: 0 bytes); the client ends within 5 s of connecting, well before
# the new image ends (6 s); the ring's event channels are gone by then; the
# log says the ring was closed; in an ASan build (LeakSanitizer on in the
# new image) nothing that xsp_evtchn_import()/xsp_share_import() made is
# leaked. Before the fix adopt.c freed the imported handles itself (free(),
# munmap()) above the platform layer: the backend's state of each leaked,
# which only the ASan check sees (the fds were closed either way).
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"
setup_domains 2
tag_all 2
export XSOCK_FALLBACK=0
mkdir -p "$WORK/elsewhere"
cat >"$WORK/srv.py" <<'PY'
import os, socket, sys, time
work = sys.argv[1]
if len(sys.argv) > 2:	# the new image: the connection on fd N
    fd = int(sys.argv[2])
    n = 0
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        n += len(b)
    open(work + "/got", "w").write("%d\n" % n)
    time.sleep(6)
    sys.exit(0)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7821))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
c.set_inheritable(True)
env = dict(os.environ, XSOCK_LOCAL_DIR=work + "/elsewhere")
if "ASAN_OPTIONS" in env:	# an ASan build: the new image's leaks, checked
    env["ASAN_OPTIONS"] += ":detect_leaks=1:log_path=" + work + "/lsan"
os.execve(sys.executable, [sys.executable, sys.argv[0], work, str(c.fileno())], env)
PY

g0=$(count_grants)
e0=$(count_evtchns)
XSOCK_DEBUG=3 XSOCK_LOG="$WORK/srv.log" shim 2 /usr/bin/python3 "$WORK/srv.py" "$WORK" \
	>"$WORK/srv.out" 2>&1 &
S=$!
PIDS+=($S)
wait_listen 2 7821
t=$(date +%s.%N)
sleep 20 | XSOCK_DEBUG=3 XSOCK_LOG="$WORK/cli.log" shim 1 timeout 30 \
	socat - "TCP:$(addr_of 2):7821" >"$WORK/cli.out" 2>"$WORK/cli.err" &
C=$!
while kill -0 "$C" 2>/dev/null && [ "$(echo "$(elapsed "$t") < 25" | bc)" = 1 ]; do
	sleep 0.1
done
dt=$(elapsed "$t")
kill "$C" 2>/dev/null
wait "$C" 2>/dev/null
g1=$(count_grants)
e1=$(count_evtchns)

[ -n "${XSOCK_TEST_VERBOSE:-}" ] && cut -c1-200 "$WORK/srv.log" "$WORK/cli.log"
grep -q "cannot be rebuilt" "$WORK/srv.log" ||
	fail "the rebuild did not fail as set up: $(grep -h exec "$WORK/srv.log" | tail -3 | tr '\n' ' ')"
[ "$(cat "$WORK/got" 2>/dev/null)" = 0 ] ||
	fail "the new image did not read end of file at once: '$(cat "$WORK/got" 2>/dev/null)' bytes"
[ "$(echo "$dt < 5" | bc)" = 1 ] ||
	fail "the client was not told: it ended $(printf %.1f "$dt") s after connecting (the server holds the fd 20 s)"
# (Grants: the share files of this ring stay until the backend's next
# collection, as the image that failed is set up on another backend
# directory, where its last holder's unshare cannot reach them.)
[ "$e1" -le "$e0" ] || fail "event channels left once the client ended: $e0 -> $e1"
# The new image ends by itself 6 s after reading end of file; in an ASan
# build it checks its leaks then: what the failed rebuild imported must
# have been let go of by the platform (before the fix the channel's and
# the share's backend state leaked: allocated in xsp_*_import()).
for _ in $(seq 1 150); do kill -0 "$S" 2>/dev/null || break; sleep 0.1; done
if ls "$WORK"/lsan* >/dev/null 2>&1; then
	leak=$(grep -h -A20 "leak of" "$WORK"/lsan* | grep -o "xsp_[a-z_]*import\|local_[a-z_]*import" | sort -u | tr '\n' ' ')
	[ -z "$leak" ] || fail "the failed rebuild leaked what these imported: $leak"
	lsan="; ASan: no leak of the imports"
fi
say "a ring not rebuilt after exec: the new image read end of file, the client ended $(printf %.2f "$dt") s after connecting, grants $g0 -> $g1, channels $e0 -> $e1${lsan:-}"
say "PASS"
