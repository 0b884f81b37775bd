#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmodified python3 -m http.server and curl across two isolated domains:
# a 10 MiB random file fetched five times, each copy's SHA-256 compared
# with the original, curl's status and figures checked; then the same over
# plain TCP loopback.
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

run_mode() {
	local srv i w code size speed tt best=0 sum=0
	use_mode "$1"
	$SRV $PY3 -m http.server $PORT --bind 0.0.0.0 --directory "$WORK/www" \
		>"$WORK/server.$MODE.log" 2>&1 &
	srv=$!
	PIDS+=($srv)
	wait_server $PORT $srv
	for i in $(seq 1 $FETCHES); do
		rm -f "$WORK/got"
		w=$($CLI timeout 20 curl -sS --fail -o "$WORK/got" \
			-w '%{http_code} %{size_download} %{speed_download} %{time_total}' \
			"http://$HOST:$PORT/blob" 2>"$WORK/curl.err") ||
			fail "$MODE: curl fetch $i failed: $(cat "$WORK/curl.err")"
		[ -s "$WORK/curl.err" ] && fail "$MODE: curl said: $(cat "$WORK/curl.err")"
		read -r code size speed tt <<<"$w"
		[ "$code" = 200 ] || fail "$MODE: HTTP status $code"
		[ "$size" = $((10 * 1048576)) ] || fail "$MODE: curl downloaded $size bytes"
		[ "$(sha256sum <"$WORK/got" | cut -d' ' -f1)" = "$want" ] ||
			fail "$MODE: fetch $i: checksum mismatch ($(stat -c %s "$WORK/got") bytes)"
		speed=${speed%.*}
		[ "$speed" -gt "$best" ] && best=$speed
		sum=$(echo "$sum + $tt" | bc)
	done
	say "$MODE: $FETCHES x 10 MiB fetched, checksums match"
	stop $srv
	grep -q 'code [45]\|Traceback' "$WORK/server.$MODE.log" &&
		{ cat "$WORK/server.$MODE.log"; fail "$MODE: http.server logged errors"; }
	eval "BEST_$MODE=\"$(mbps "$best" 1) Mbit/s\""
	eval "AVG_$MODE=\"$(echo "scale=1; $sum * 1000 / $FETCHES" | bc) ms\""
	return 0
}

run_mode xsock
run_mode tcp
row "curl 10 MiB: best rate" "$BEST_xsock" "$BEST_tcp"
row "curl 10 MiB: mean time" "$AVG_xsock" "$AVG_tcp"
print_table
say "PASS"
