#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmodified nginx (a master and 2 worker processes sharing the listening
# socket, sendfile on) across two isolated domains: curl fetches a 10 MiB
# random file (SHA-256 compared) and wrk loads a small page with 50
# connections for a few seconds; wrk must see no socket errors and no
# non-2xx answers. Then the same over plain TCP loopback.
#
# The master calls listen() and forks the workers; a worker, not the
# master, accepts each ring connection, so the ring must be negotiated in
# the worker (preload/shim.h). While wrk runs, `xsockctl status` in the
# server's domain must show ring connections served by both workers.
# Workers run as root (`user root`) and the master stays in the foreground
# (`daemon off`); the stock configuration (`daemon on`, `user www-data`)
# is tests/apps/test_nginx_daemon.sh.
. "$(dirname "$0")/applib.sh"
setup_apps
need_app nginx nginx-light
need_app wrk wrk
need_app curl curl
PORT=7651
SECS=${XSOCK_APPS_WRK_SECS:-3}

mkdir -p "$WORK/www"
head -c 10M /dev/urandom >"$WORK/www/blob"
head -c 512 /dev/urandom | base64 >"$WORK/www/small.txt"
want=$(sha256sum <"$WORK/www/blob" | cut -d' ' -f1)
chmod -R a+rX "$WORK"

conf() { # MODE
	cat <<CONF
daemon off;
master_process on;
user root;
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
		listen 0.0.0.0:$PORT reuseport=off;
		root $WORK/www;
	}
}
CONF
}


run_mode() {
	local srv w code size out rps lat
	use_mode "$1"
	conf $MODE | sed 's/ reuseport=off//' >"$WORK/nginx.$MODE.conf"
	$SRV nginx -c "$WORK/nginx.$MODE.conf" -e "$WORK/error.$MODE.log" &
	srv=$!
	PIDS+=($srv)
	wait_server $PORT $srv
	sleep 0.3	# both workers up
	for i in 1 2 3 4; do
		rm -f "$WORK/got"
		w=$($CLI timeout 10 curl -sS --fail -o "$WORK/got" -w '%{http_code} %{size_download}' \
			"http://$HOST:$PORT/blob" 2>"$WORK/curl.err") ||
			{ dom $SRVDOM ss -tnp >&2; fail "$MODE: curl fetch $i failed: $(cat "$WORK/curl.err")"; }
		read -r code size <<<"$w"
		[ "$code" = 200 ] || fail "$MODE: HTTP status $code"
		[ "$(sha256sum <"$WORK/got" | cut -d' ' -f1)" = "$want" ] ||
			fail "$MODE: fetch $i: checksum mismatch ($size bytes)"
	done
	say "$MODE: 4 x 10 MiB fetched by curl, checksums match"
	[ "$MODE" = xsock ] && check_workers_loaded root
	out=$WORK/wrk.$MODE
	$CLI timeout $((SECS + 20)) wrk -t 2 -c 50 -d "${SECS}s" --latency "http://$HOST:$PORT/small.txt" \
		>"$out" 2>&1 &
	w=$!
	wait $w || { cat "$out"; fail "$MODE: wrk failed"; }
	grep -q 'Socket errors\|Non-2xx' "$out" && { cat "$out"; fail "$MODE: wrk saw errors"; }
	rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$out")
	lat=$(awk '$1 == "Latency" {print $2; exit}' "$out")
	[ -n "$rps" ] || { cat "$out"; fail "$MODE: no figure from wrk"; }
	eval "RPS_$MODE=\"${rps%.*} req/s, avg $lat\""
	say "$MODE: wrk ${rps%.*} req/s"
	stop $srv
	grep -q '\[\(alert\|emerg\|crit\)\]' "$WORK/error.$MODE.log" &&
		{ cat "$WORK/error.$MODE.log"; fail "$MODE: nginx logged errors"; }
	return 0
}

# TCP first, so that its figures are printed even while xsock fails.
RPS_xsock="(failed)"
run_mode tcp
row "wrk -c 50 small page" "-" "$RPS_tcp"
print_table
ROWS=()
run_mode xsock
row "wrk -c 50 small page" "$RPS_xsock" "$RPS_tcp"
print_table
say "PASS"
