#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmodified python3 -m http.server and curl across two isolated domains:
# a 10 MiB random file fetched five times, each copy's SHA-256 compared
# with the original, curl's status and figures checked; the same over
# plain TCP loopback, the two modes' fetches alternating.
. "$(dirname "$0")/applib.sh"
setup_apps
PY3=/usr/bin/python3; [ -x $PY3 ] || skip "python3 not installed (apt-get install python3)"
need_app curl curl
need_prog sha256sum coreutils
PORT=7611
FETCHES=5

mkdir -p "$WORK/www"
head -c 10M /dev/urandom >"$WORK/www/blob"
want=$(sha256sum <"$WORK/www/blob" | cut -d' ' -f1)

declare -A SRVPID BEST SUM

# start_server MODE: that mode's http.server.
start_server() {
	use_mode "$1"
	$SRV $PY3 -m http.server $PORT --bind 0.0.0.0 --directory "$WORK/www" \
		>"$WORK/server.$MODE.log" 2>&1 &
	PIDS+=($!)
	SRVPID[$MODE]=$!
	wait_server $PORT $!
}

# fetch MODE [warm]: one fetch, checked; unless warm, its rate counts in
# BEST[MODE] (the best one) and its time in SUM[MODE].
fetch() {
	local w code size speed tt
	use_mode "$1"
	rm -f "$WORK/got"
	w=$($CLI timeout 20 curl -sS --fail -o "$WORK/got" \
		-w '%{http_code} %{size_download} %{speed_download} %{time_total}' \
		"http://$HOST:$PORT/blob" 2>"$WORK/curl.err") ||
		fail "$MODE: curl fetch failed: $(cat "$WORK/curl.err")"
	[ -s "$WORK/curl.err" ] && fail "$MODE: curl said: $(cat "$WORK/curl.err")"
	read -r code size speed tt <<<"$w"
	[ "$code" = 200 ] || fail "$MODE: HTTP status $code"
	[ "$size" = $((10 * 1048576)) ] || fail "$MODE: curl downloaded $size bytes"
	[ "$(sha256sum <"$WORK/got" | cut -d' ' -f1)" = "$want" ] ||
		fail "$MODE: checksum mismatch ($(stat -c %s "$WORK/got") bytes)"
	[ -n "${2:-}" ] && return 0
	speed=${speed%.*}
	[ "$speed" -gt "${BEST[$MODE]:-0}" ] && BEST[$MODE]=$speed
	SUM[$MODE]=$(echo "${SUM[$MODE]:-0} + $tt" | bc)
	return 0
}

# Both servers run at once and the fetches alternate between the modes
# (xsock first in odd rounds, TCP first in even ones), after one untimed
# fetch each: neither mode pays alone for the blob's writeback or a cold
# server, as the first of two runs one after the other would.
start_server xsock
start_server tcp
fetch xsock warm
fetch tcp warm
for i in $(seq 1 $FETCHES); do
	if [ $((i % 2)) = 1 ]; then
		fetch xsock
		fetch tcp
	else
		fetch tcp
		fetch xsock
	fi
done
say "$FETCHES x 10 MiB fetched per mode, alternating, checksums match"
for MODE in xsock tcp; do
	stop "${SRVPID[$MODE]}"
	grep -q 'code [45]\|Traceback' "$WORK/server.$MODE.log" &&
		{ cat "$WORK/server.$MODE.log"; fail "$MODE: http.server logged errors"; }
done
rate() { echo "$(mbps "${BEST[$1]}" 1) Mbit/s"; }
mean() { echo "$(echo "scale=1; ${SUM[$1]} * 1000 / $FETCHES" | bc) ms"; }
row "curl 10 MiB: best rate" "$(rate xsock)" "$(rate tcp)"
row "curl 10 MiB: mean time" "$(mean xsock)" "$(mean tcp)"
print_table
say "PASS"
