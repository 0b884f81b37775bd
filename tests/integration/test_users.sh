#!/bin/bash
# SPDX-License-Identifier: MIT
# Who may use rings (docs/protocol.md, "Who may use rings"): root, and the
# members of the group `xsockctl setup --group G` names. Two isolated
# domains, XSOCK_FALLBACK=0 (the ring is the only path between them), a
# fresh group, a member and a non-member user:
# 1. socat client and server both as the member: 64 MiB, SHA-256 compared;
#    everything in the tree is the group's, nothing is anyone else's;
# 2. the non-member: connect() fails with EACCES and the shim logs exactly
#    one line (XSOCK_DEBUG set) or none (unset); with fallback allowed it
#    goes to TCP (which has no path here: ENETUNREACH); it cannot read the
#    tree's files;
# 3. a root server that chroot()s into an empty directory and setuid()s to
#    the member after listen(), after accept() (a forked child serves), and
#    in a forked child before accept() (privsep.py): 2 x 8 MiB each;
# 4. nginx with `user www-data;` and 2 workers, www-data a member: curl
#    fetches 10 MiB 4 times (SHA-256), the workers' fds counted before and
#    after;
# 5. redis-server started as user redis, a member: a 1 MiB value set and
#    read back (SHA-256), its fds counted before and after.
# 7. nginx whose workers drop to nobody, not a member: its ring clients are
#    refused at once (ECONNREFUSED; TCP with fallback), not left to wait
#    for their connect timeout, and each worker logs one line;
# 6. Xen: `xsockctl setup --backend xen` on stand-in device files below
#    --root: gntdev, gntalloc, evtchn become root:G 0660, each reported
#    before and after, and the udev rule is written.
# After each part: no grant, channel or store node left over.
# XSOCK_TEST_MANUAL_SETUP=1 makes the tree the group's by hand (chgrp,
# chmod 2770) instead of `xsockctl setup`: how this test was run against
# main (8badffb), one part at a time (XSOCK_TEST_USERS_PARTS=N), where
# every part fails:
#   (as is) "xsockctl: unknown command 'setup'";
#   1, 2, 5: "no ring listener on dom2 port 7001/7002/7601 after 10 s" (the
#      member's or redis's listen() cannot open the root-made 0600 store
#      files: no advertisement);
#   3: the member client gets TCP, which has no path: "Network is
#      unreachable";
#   4: "nginx: warm-up request failed" (www-data's workers cannot use the
#      store);
#   6: "xsockctl: unknown command 'setup'";
#   7: "refused only after 5.124115097 s (the client waited for a worker
#      that cannot answer)": the doorbell went to nginx as a TCP client.
. "$(dirname "$0")/lib.sh"
need_root_netns
need_prog socat
need_prog setpriv util-linux
need_prog useradd passwd
need_prog sha256sum coreutils
need_prog bc
need_prog nginx nginx-light
need_prog curl
need_prog redis-server redis-server
need_prog redis-cli redis-tools
PY=/usr/bin/python3
[ -x $PY ] || skip "needs /usr/bin/python3"
id www-data >/dev/null 2>&1 || skip "needs user www-data"
id redis >/dev/null 2>&1 || skip "needs user redis (redis-server package)"
HERE=$(cd "$(dirname "$0")" && pwd)

G=xsg$$
MEM=xsm$$
NON=xsn$$
users_cleanup() {
	userdel "$MEM" 2>/dev/null
	userdel "$NON" 2>/dev/null
	groupdel "$G" 2>/dev/null	# takes www-data's and redis's membership with it
}
trap 'cleanup 2>/dev/null; users_cleanup' EXIT
groupadd "$G" || fail "groupadd $G"
useradd -M -N -g nogroup -G "$G" -s /usr/sbin/nologin "$MEM" || fail "useradd $MEM"
useradd -M -N -g nogroup -s /usr/sbin/nologin "$NON" || fail "useradd $NON"
MEM_UID=$(id -u "$MEM")

setup_domains 2
if [ -n "${XSOCK_TEST_MANUAL_SETUP:-}" ]; then
	chgrp "$G" "$XSOCK_LOCAL_DIR" && chmod 2770 "$XSOCK_LOCAL_DIR" || fail "manual setup"
else
	"$XSOCKCTL" setup --group "$G" >"$WORK/setup.out" 2>&1 ||
		{ cat "$WORK/setup.out"; fail "xsockctl setup --group $G"; }
	say "setup: $(tail -1 "$WORK/setup.out")"
fi
tag_all 2
export XSOCK_FALLBACK=0
chmod 755 "$WORK"
mkdir -m 1777 "$WORK/out"

# asu USER I CMD...: CMD in domain I as USER (with the groups /etc/group
# gives it, as login and initgroups() do), under the shim; tasu: the same,
# killed after 120 s.
asu() {
	local u=$1 i=$2
	shift 2
	ip netns exec "xsit$$-$i" setpriv --reuid "$u" --regid "$(id -g "$u")" --init-groups \
		env XSOCK_DOMID="$i" LD_PRELOAD="$PRELOAD" "$@"
}
tasu() { timeout 120 ip netns exec "xsit$$-$2" setpriv --reuid "$1" --regid "$(id -g "$1")" \
	--init-groups env XSOCK_DOMID="$2" LD_PRELOAD="$PRELOAD" "${@:3}"; }

# The store's nodes, but for the per-peer directories that the first
# connection creates and that stay for the domains' lifetime (req/<dom>,
# conn/<dom>, bell, listen: as tests/integration/test_cycles.sh counts).
store_dirs() {
	(cd "$XSOCK_LOCAL_DIR/store" && find . -type d | sort) |
		grep -vxE '\./local/domain/[0-9]+/data/xsock/(req|conn|bell|listen)(/[0-9]+)?'
}
store_dirs >"$WORK/nodes.0"
N0=$(wc -l <"$WORK/nodes.0")
# leaks LABEL: once every server of the part is gone.
leaks() {
	local g e n i=0
	while :; do
		g=$(count_grants) e=$(count_evtchns) n=$(store_dirs | wc -l)
		[ "$g" = 0 ] && [ "$e" = 0 ] && [ "$n" = "$N0" ] && break
		i=$((i + 1))
		[ $i -gt 20 ] && { store_dirs | diff "$WORK/nodes.0" - >&2
			fail "$1: left behind: $g grants, $e channels, $n store nodes (before: $N0)"; }
		sleep 0.1
	done
	say "$1: left behind: 0 grants, 0 channels, $n store nodes (before: $N0)"
}

# stop_all PID...: end servers started as "shim/asu ... &" (PID is the
# subshell, the server its child): TERM, KILL after 5 s, reaped.
stop_all() {
	local p c
	for p in "$@"; do
		c=$(pgrep -P "$p")
		[ -n "$c" ] && kill $c 2>/dev/null
		for c in $c; do
			timeout 5 tail --pid="$c" -f /dev/null 2>/dev/null ||
				{ say "pid $c still runs 5 s after SIGTERM: SIGKILL"; kill -9 "$c"; }
		done
		wait "$p" 2>/dev/null
	done
	return 0
}

# XSOCK_TEST_USERS_PARTS="1 3": run only those parts (default: all; under
# a sanitizer build not the third-party servers, nginx and redis: parts 4,
# 5 and 7, as tests/apps/applib.sh says why).
case "${PRELOAD%%:*}" in
*asan*|*ubsan*) DEFAULT_PARTS="1 2 3 6" ;;
*) DEFAULT_PARTS="1 2 3 4 5 6 7" ;;
esac
want() { case " ${XSOCK_TEST_USERS_PARTS:-$DEFAULT_PARTS} " in *" $1 "*) return 0 ;; esac; return 1; }

fds_of() { local p s=0; for p in "$@"; do s=$((s + $(count_fds "$p"))); done; echo $s; }

# ---- 1. client and server as an unprivileged member ------------------------------
if want 1; then
	SIZE_MB=${XSOCK_TEST_USERS_MB:-64}
	head -c "${SIZE_MB}M" /dev/urandom >"$WORK/in"
	chmod 644 "$WORK/in"
	want=$(sha256sum <"$WORK/in" | cut -d' ' -f1)
	asu "$MEM" 2 socat -u TCP-LISTEN:7001,reuseaddr OPEN:"$WORK/out/socat",creat,trunc &
	srv=$!
	PIDS+=($srv)
	wait_listen 2 7001
	t=$(date +%s.%N)
	tasu "$MEM" 1 socat -u OPEN:"$WORK/in" TCP:"$(addr_of 2)":7001 2>"$WORK/socat.err" ||
		fail "member socat client failed: $(cat "$WORK/socat.err")"
	wait $srv || fail "member socat server failed"
	dt=$(elapsed "$t")
	got=$(sha256sum <"$WORK/out/socat" | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "member socat: checksum mismatch ($(stat -c %s "$WORK/out/socat") bytes)"
	say "1. member $MEM (uid $MEM_UID) both sides, socat: ${SIZE_MB} MiB intact, $(mbps $((SIZE_MB * 1048576)) "$dt") Mbit/s"
	n=$(find "$XSOCK_LOCAL_DIR" -user "$MEM" | wc -l)
	[ "$n" -gt 0 ] || fail "the member created nothing in the tree"
	bad=$(find "$XSOCK_LOCAL_DIR" \( ! -group "$G" -o -perm /o=rwx \) -print | head -3)
	[ -z "$bad" ] || fail "not the group's alone: $bad"
	say "1. tree: $n entries made by $MEM, every entry group $G, none open to others"
	leaks "1. member socat"
fi

# ---- 2. a non-member -------------------------------------------------------------
if want 2; then
	asu "$MEM" 2 socat -u TCP-LISTEN:7002,reuseaddr OPEN:/dev/null &
	srv=$!
	PIDS+=($srv)
	wait_listen 2 7002
	asu "$NON" 1 env XSOCK_DEBUG=2 XSOCK_LOG=stderr socat -u OPEN:"$WORK/in" \
		TCP:"$(addr_of 2)":7002 2>"$WORK/non.err" && fail "non-member connected"
	grep -q 'connect(.*Permission denied' "$WORK/non.err" ||
		fail "non-member: connect() did not fail with EACCES: $(cat "$WORK/non.err")"
	lines=$(grep -c 'xsock\[' "$WORK/non.err")
	[ "$lines" = 1 ] || fail "non-member: $lines shim log lines, expected 1: $(cat "$WORK/non.err")"
	grep 'xsock\[' "$WORK/non.err" | grep -q 'may not use rings' ||
		fail "non-member: the log line does not say why: $(cat "$WORK/non.err")"
	say "2. non-member $NON: connect() EACCES, one log line: $(grep 'xsock\[' "$WORK/non.err" | sed 's/.*warn [^ ]* //')"
	asu "$NON" 1 socat -u OPEN:"$WORK/in" TCP:"$(addr_of 2)":7002 2>"$WORK/non.err" &&
		fail "non-member connected (no logging)"
	grep -q 'xsock' "$WORK/non.err" && fail "non-member without XSOCK_DEBUG: the shim wrote to stderr"
	asu "$NON" 1 env XSOCK_FALLBACK=1 socat -u OPEN:"$WORK/in" TCP:"$(addr_of 2)":7002 \
		2>"$WORK/non.err" && fail "non-member connected over TCP, which has no path here"
	grep -q 'Network is unreachable' "$WORK/non.err" ||
		fail "non-member with fallback: not TCP: $(cat "$WORK/non.err")"
	say "2. non-member: silent without XSOCK_DEBUG; with XSOCK_FALLBACK=1 TCP (no path: ENETUNREACH)"
	setpriv --reuid "$NON" --regid nogroup --clear-groups cat "$XSOCK_LOCAL_DIR/grant-ref" \
		>/dev/null 2>&1 && fail "non-member reads the tree's files"
	setpriv --reuid "$NON" --regid nogroup --clear-groups ls "$XSOCK_LOCAL_DIR/grant" \
		>/dev/null 2>&1 && fail "non-member lists the grants"
	# The listener served nobody: one member connection ends it (a server
	# killed by a signal leaves its advertisement to `xsockctl sweep`).
	echo bye | tasu "$MEM" 1 socat -u - TCP:"$(addr_of 2)":7002 || fail "member after non-member"
	wait $srv || fail "socat server (part 2) failed"
	leaks "2. non-member"
fi

# ---- 3. chroot() and setuid() after listen / accept / in a preforked child -------
if want 3; then
	head -c 8M /dev/urandom >"$WORK/in8"
	chmod 644 "$WORK/in8"
	JAIL=$(mktemp -d "$WORK/jail-XXXXXX")
	chmod 755 "$JAIL"
	port=7010
	for mode in accept listen prefork; do
		port=$((port + 1))
		shim 2 env XSOCK_REUSE=0 $PY "$HERE/privsep.py" server $port "$JAIL" "$MEM" $mode 2 \
			>"$WORK/privsep.$mode" 2>&1 &
		srv=$!
		PIDS+=($srv)
		wait_listen 2 $port
		for c in 1 2; do
			ans=$(tasu "$MEM" 1 $PY "$HERE/privsep.py" client "$(addr_of 2)" $port \
				"$WORK/in8" 2>"$WORK/privsep.err") ||
				fail "privsep $mode: connection $c: $ans $(cat "$WORK/privsep.err" "$WORK/privsep.$mode")"
			case "$ans" in
			*" uid=$MEM_UID jail=True") ;;
			*) fail "privsep $mode: served by '$ans', not uid $MEM_UID in the jail" ;;
			esac
		done
		timeout 20 tail --pid=$srv -f /dev/null
		wait $srv || fail "privsep $mode server failed: $(cat "$WORK/privsep.$mode")"
		say "3. root server, chroot + setuid $MEM after $mode: 2 x 8 MiB intact, served as uid $MEM_UID in an empty jail"
		[ -z "$(ls -A "$JAIL")" ] || fail "privsep $mode: something was made inside the jail"
		if [ $mode = accept ]; then
			# The pages a forked child held last are collected at the next
			# share on the host (docs/protocol.md, "Local backend
			# specifics"): the next mode's, whose leak count includes them.
			say "3. privsep accept: $(count_grants) grant(s) await collection by the next share"
			continue
		fi
		leaks "3. privsep $mode"
	done
fi

# ---- 4. nginx, `user www-data;`, 2 workers ---------------------------------------
if want 4; then
	gpasswd -a www-data "$G" >/dev/null || fail "gpasswd -a www-data $G"
	mkdir -p "$WORK/www" "$WORK/ngx-tmp"
	head -c 10M /dev/urandom >"$WORK/www/blob"
	echo small >"$WORK/www/small"
	chmod -R a+rX "$WORK/www"
	chown www-data "$WORK/ngx-tmp"
	want=$(sha256sum <"$WORK/www/blob" | cut -d' ' -f1)
	cat >"$WORK/nginx.conf" <<-CONF
	daemon off;
	master_process on;
	user www-data;
	worker_processes 2;
	pid $WORK/nginx.pid;
	error_log $WORK/nginx.err info;
	events { worker_connections 256; }
	http {
		access_log off;
		sendfile on;
		client_body_temp_path $WORK/ngx-tmp;
		proxy_temp_path $WORK/ngx-tmp;
		server { listen 0.0.0.0:7651; root $WORK/www; }
	}
	CONF
	shim 2 env XSOCK_REUSE=0 nginx -c "$WORK/nginx.conf" -e "$WORK/nginx.err" &
	srv=$!
	PIDS+=($srv)
	wait_listen 2 7651
	n=0
	while [ "$(pgrep -u www-data -f "nginx: worker process" | while read -r p; do
		[ "$(ip netns identify "$p" 2>/dev/null)" = "xsit$$-2" ] && echo "$p"; done | wc -l)" -lt 2 ]; do
		n=$((n + 1)); [ $n -gt 100 ] && fail "nginx: no 2 workers as www-data"; sleep 0.1
	done
	workers=$(for p in $(pgrep -u www-data -f "nginx: worker process"); do
		[ "$(ip netns identify "$p" 2>/dev/null)" = "xsit$$-2" ] && echo "$p"; done)
	# Warm-up: until each worker served a ring (it has a status table), so
	# that what a process opens once (its store handle, event thread) is in
	# the "before" count.
	n=0
	for p in $workers; do
		while [ ! -e "$XSOCK_LOCAL_DIR/status/2/$p" ]; do
			n=$((n + 1)); [ $n -gt 200 ] && fail "nginx: worker $p served no ring in 200 requests"
			tasu "$MEM" 1 curl -sS --fail -o /dev/null "http://$(addr_of 2):7651/small" ||
				fail "nginx: warm-up request failed"
		done
	done
	sleep 0.3
	f0=$(fds_of $workers)
	for i in 1 2 3 4; do
		rm -f "$WORK/out/got"
		code=$(tasu "$MEM" 1 curl -sS --fail -o "$WORK/out/got" -w '%{http_code}' \
			"http://$(addr_of 2):7651/blob" 2>"$WORK/curl.err") ||
			fail "nginx: curl $i failed: $(cat "$WORK/curl.err") $(tail -5 "$WORK/nginx.err")"
		[ "$code" = 200 ] || fail "nginx: HTTP $code"
		[ "$(sha256sum <"$WORK/out/got" | cut -d' ' -f1)" = "$want" ] || fail "nginx: fetch $i: checksum mismatch"
	done
	sleep 0.5
	f1=$(fds_of $workers)
	[ "$f1" = "$f0" ] || fail "nginx: the workers held $f0 fds before, $f1 after"
	say "4. nginx, user www-data, 2 workers ($(echo $workers)): both served rings ($n warm-up requests), 4 x 10 MiB intact; workers' fds $f0 before, $f1 after"
	stop_all $srv
	grep -q '\[\(alert\|emerg\|crit\)\]' "$WORK/nginx.err" && { cat "$WORK/nginx.err"; fail "nginx logged errors"; }
	# An exiting nginx worker leaves two shares to the backend's collection
	# at the next share on the host (so does one running as root, and so on
	# main): part 5's leak count includes them.
	say "4. nginx stopped: $(count_grants) grant(s) of its exited workers await collection by the next share"
fi

# ---- 5. redis-server as user redis -----------------------------------------------
if want 5; then
	gpasswd -a redis "$G" >/dev/null || fail "gpasswd -a redis $G"
	mkdir -p "$WORK/redis"
	chown redis "$WORK/redis"
	head -c 768K /dev/urandom | base64 -w 0 >"$WORK/val"
	chmod 644 "$WORK/val"
	want=$(sha256sum <"$WORK/val" | cut -d' ' -f1)
	asu redis 2 env XSOCK_REUSE=0 redis-server --port 7601 --bind 0.0.0.0 --protected-mode no \
		--save '' --appendonly no --dir "$WORK/redis" --logfile "$WORK/redis/log" &
	srv=$!
	PIDS+=($srv)
	wait_listen 2 7601
	rpid=$(own_pgrep redis-server)
	[ "$(stat -c %U "/proc/$rpid")" = redis ] || fail "redis-server not running as redis"
	f0=$(count_fds "$rpid")
	r=$(tasu "$MEM" 1 redis-cli -h "$(addr_of 2)" -p 7601 -x SET blob <"$WORK/val" 2>&1)
	[ "$r" = OK ] || fail "redis: SET: $r"
	got=$(tasu "$MEM" 1 redis-cli -h "$(addr_of 2)" -p 7601 GET blob 2>&1 | tr -d '\n' |
		sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "redis: GET: checksum mismatch"
	# The server lets go of its dead-domain watch's store handle 250 ms
	# after its last ring (preload/domwatch.c), when its event thread
	# next runs: on a loaded machine that can take a while.
	for i in $(seq 1 30); do
		sleep 0.1
		f1=$(count_fds "$rpid")
		[ "$f1" = "$f0" ] && break
	done
	[ "$f1" = "$f0" ] || fail "redis: held $f0 fds before, $f1 3 s after"
	say "5. redis-server as redis: 1 MiB value set and read back intact; its fds $f0 before, $f1 after"
	stop_all $srv
	leaks "5. redis (and what nginx's workers left)"
fi

# ---- 7. nginx whose workers drop to a non-member ----------------------------------
if want 7; then
	mkdir -p "$WORK/www"
	echo small >"$WORK/www/small"
	chmod -R a+rX "$WORK/www"
	cat >"$WORK/nginx7.conf" <<-CONF
	daemon off;
	master_process on;
	user nobody nogroup;
	worker_processes 2;
	pid $WORK/nginx7.pid;
	error_log $WORK/nginx7.err info;
	events { worker_connections 256; }
	http { access_log off; server { listen 0.0.0.0:7651; root $WORK/www; } }
	CONF
	shim 2 env XSOCK_DEBUG=2 XSOCK_LOG="$WORK/ngx7.log" nginx -c "$WORK/nginx7.conf" \
		-e "$WORK/nginx7.err" &
	srv=$!
	PIDS+=($srv)
	wait_listen 2 7651
	sleep 0.5	# the workers up
	for i in 1 2 3; do
		t=$(date +%s.%N)
		# The client as root (always allowed): only the server side is
		# not.
		shim 1 timeout 20 curl -sS -o /dev/null "http://$(addr_of 2):7651/small" \
			2>"$WORK/curl7.err" && fail "nginx with non-member workers: a ring connection"
		dt=$(elapsed "$t")
		grep -q "Couldn't connect" "$WORK/curl7.err" || fail "part 7: curl: $(cat "$WORK/curl7.err")"
		[ "$(echo "$dt < 2.5" | bc)" = 1 ] ||
			fail "part 7: refused only after $dt s (the client waited for a worker that cannot answer)"
	done
	n=$(grep -c 'may not use rings' "$WORK/ngx7.log")
	[ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "part 7: $n 'may not use rings' lines from 2 workers"
	say "7. nginx, workers as nobody (not a member): ring clients refused at once (last in $dt s; ECONNREFUSED with XSOCK_FALLBACK=0), $n log line(s) from its workers"
	stop_all $srv
	leaks "7. nginx as a non-member"
fi

# ---- 6. Xen: the devices setup changes (on stand-ins below --root) ---------------
if want 6; then
	XR=$WORK/xenroot
	mkdir -p "$XR/dev/xen"
	for d in gntdev gntalloc evtchn; do install -m 0600 /dev/null "$XR/dev/xen/$d"; done
	"$XSOCKCTL" setup --backend xen --group "$G" --root "$XR" >"$WORK/xen.out" 2>&1 ||
		{ cat "$WORK/xen.out"; fail "xsockctl setup --backend xen"; }
	for d in gntdev gntalloc evtchn; do
		[ "$(stat -c '%a %G' "$XR/dev/xen/$d")" = "660 $G" ] ||
			fail "xen setup: /dev/xen/$d is $(stat -c '%a %G' "$XR/dev/xen/$d")"
		grep -q "/dev/xen/$d: uid 0 group root 0600 -> uid 0 group $G 0660" "$WORK/xen.out" ||
			fail "xen setup did not say what it changed on $d: $(cat "$WORK/xen.out")"
	done
	grep -q "/dev/xen/xenbus: No such file or directory, not changed" "$WORK/xen.out" ||
		fail "xen setup: nothing said of the missing xenbus: $(cat "$WORK/xen.out")"
	grep -q "KERNEL==\"gntdev|gntalloc|evtchn|xenbus\".*GROUP=\"$G\", MODE=\"0660\"" \
		"$XR/etc/udev/rules.d/90-xsock.rules" || fail "xen setup: no udev rule"
	while read -r l; do say "6. $l"; done <"$WORK/xen.out"
fi

say "PASS"
