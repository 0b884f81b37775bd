#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmodified nginx in its stock process model (`daemon on;`: the process
# that calls listen() forks the master and exits; the master forks 2
# workers, which accept; `user www-data;`: the workers drop to www-data,
# a member of the group `xsockctl setup --group` names), across two
# isolated domains, XSOCK_FALLBACK=0 (issue 16, items 3 and 4;
# docs/protocol.md, "Process model" and "Who may use rings"):
#  - curl fetches a 10 MiB random file 4 times (SHA-256 compared);
#  - wrk loads a small page with 50 connections: no socket errors, no
#    non-2xx; the ring connections are served by both workers
#    (`xsockctl status`);
#  - `nginx -s reload` replaces the workers (the one that served ring
#    clients exits): fetched again, intact;
#  - `nginx -s quit`: the port's advertisement is withdrawn.
# Then the same wrk load over plain TCP loopback, for the figures.
. "$(dirname "$0")/applib.sh"
setup_apps
need_app nginx nginx-light
need_app wrk wrk
need_app curl curl
id www-data >/dev/null 2>&1 || skip "needs user www-data"
G=xsg$$
trap 'stop "${PIDS[@]}" 2>/dev/null; cleanup 2>/dev/null; groupdel "$G" 2>/dev/null' EXIT
groupadd "$G" && gpasswd -a www-data "$G" >/dev/null || fail "group $G with www-data"
"$XSOCKCTL" setup --group "$G" >"$WORK/setup.out" 2>&1 ||
	{ cat "$WORK/setup.out"; fail "xsockctl setup --group $G"; }
PORT=7655
SECS=${XSOCK_APPS_WRK_SECS:-3}

mkdir -p "$WORK/www"
head -c 10M /dev/urandom >"$WORK/www/blob"
head -c 512 /dev/urandom | base64 >"$WORK/www/small.txt"
want=$(sha256sum <"$WORK/www/blob" | cut -d' ' -f1)
chmod -R a+rX "$WORK"

conf() { # MODE
	cat <<CONF
daemon on;
user www-data;
worker_processes 2;
pid $WORK/nginx.$1.pid;
error_log $WORK/error.$1.log info;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	keepalive_requests 100000;
	client_body_temp_path $WORK/tmp.$1;
	proxy_temp_path $WORK/tmp.$1;
	server {
		listen 0.0.0.0:$PORT;
		root $WORK/www;
	}
}
CONF
}

fetch() { # WHAT: 4 fetches of the blob, checksummed
	local i w code size
	for i in 1 2 3 4; do
		rm -f "$WORK/got"
		w=$($CLI timeout 10 curl -sS --fail -o "$WORK/got" -w '%{http_code} %{size_download}' \
			"http://$HOST:$PORT/blob" 2>"$WORK/curl.err") ||
			fail "$MODE: $1: curl fetch $i failed: $(cat "$WORK/curl.err")"
		read -r code size <<<"$w"
		[ "$code" = 200 ] || fail "$MODE: $1: HTTP status $code"
		[ "$(sha256sum <"$WORK/got" | cut -d' ' -f1)" = "$want" ] ||
			fail "$MODE: $1: fetch $i: checksum mismatch ($size bytes)"
	done
	say "$MODE: $1: 4 x 10 MiB fetched by curl, checksums match"
}

workers() { # the master's children
	pgrep -P "$(cat "$WORK/nginx.$MODE.pid")" | sort -n | tr '\n' ' '
}


run_wrk() {
	local out=$WORK/wrk.$MODE w rps lat
	[ "$MODE" = xsock ] && check_workers_loaded www-data
	$CLI timeout $((SECS + 20)) wrk -t 2 -c 50 -d "${SECS}s" --latency \
		"http://$HOST:$PORT/small.txt" >"$out" 2>&1 &
	w=$!
	wait $w || { cat "$out"; fail "$MODE: wrk failed"; }
	grep -q 'Socket errors\|Non-2xx' "$out" && { cat "$out"; fail "$MODE: wrk saw errors"; }
	rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$out")
	lat=$(awk '$1 == "Latency" {print $2; exit}' "$out")
	[ -n "$rps" ] || { cat "$out"; fail "$MODE: no figure from wrk"; }
	eval "RPS_$MODE=\"${rps%.*} req/s, avg $lat\""
	say "$MODE: wrk ${rps%.*} req/s"
}

run_mode() {
	local old new n
	use_mode "$1"
	conf $MODE >"$WORK/nginx.$MODE.conf"
	# Returns once the master runs: the process that listened has exited.
	$SRV nginx -c "$WORK/nginx.$MODE.conf" -e "$WORK/error.$MODE.log" ||
		fail "$MODE: nginx did not start: $(tail -3 "$WORK/error.$MODE.log")"
	PIDS+=("$(cat "$WORK/nginx.$MODE.pid")")
	wait_server $PORT
	sleep 0.3	# both workers up
	fetch "daemonized"
	run_wrk
	[ "$MODE" = xsock ] || return 0
	old=$(workers)
	$SRV nginx -c "$WORK/nginx.$MODE.conf" -e "$WORK/error.$MODE.log" -s reload ||
		fail "$MODE: nginx -s reload failed"
	for n in $(seq 1 100); do
		new=$(workers)
		[ -n "$new" ] && ! echo " $new" | grep -q -- " ${old%% *} " && break
		sleep 0.1
	done
	sleep 0.5
	say "$MODE: reload: workers $old-> $new"
	fetch "after reload"
	$SRV nginx -c "$WORK/nginx.$MODE.conf" -e "$WORK/error.$MODE.log" -s quit
	for n in $(seq 1 100); do
		[ -d "$XSOCK_LOCAL_DIR/store/local/domain/2/data/xsock/listen/$PORT" ] || break
		sleep 0.1
	done
	[ -d "$XSOCK_LOCAL_DIR/store/local/domain/2/data/xsock/listen/$PORT" ] &&
		fail "$MODE: port $PORT still advertised 10 s after nginx -s quit"
	say "$MODE: quit: advertisement withdrawn"
	grep -q '\[\(alert\|emerg\|crit\)\]' "$WORK/error.$MODE.log" &&
		{ cat "$WORK/error.$MODE.log"; fail "$MODE: nginx logged errors"; }
	return 0
}

RPS_xsock="(failed)"
RPS_tcp="(failed)"
run_mode xsock
run_mode tcp
dom 3 nginx -c "$WORK/nginx.tcp.conf" -e "$WORK/error.tcp.log" -s quit
row "nginx daemon on, wrk -c 50" "$RPS_xsock" "$RPS_tcp"
print_table
say "PASS"
