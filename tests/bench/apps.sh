# SPDX-License-Identifier: MIT
# Sourced by run.sh: issue 18's "every application at its own benchmark"
# rows. Each application test of tests/apps runs its unmodified server and
# client twice in one run (xsock across two domains, then TCP loopback in a
# third namespace: tests/apps/applib.sh) and prints its figures; here they
# become bench rows (results.tsv), one per figure, xsock and tcp.
#
#   bench_apps : pgbench (PostgreSQL, TPC-B), memcslap (memcached), wrk
#                against nginx (daemon off, and the stock daemon on + user
#                www-data), curl against python3 -m http.server.
#
# The tests hand their figures over in XSOCK_APPS_ROWS (applib.sh's row():
# "figure<TAB>xsock<TAB>tcp", values as printed: "1970 tps, avg 4.060 ms").
# The first number of a value is the figure, the word after it its unit;
# ms/us/s are lower-better, anything else (tps, req/s, set/s, Mbit/s)
# higher-better. A test that fails or skips records its rows as FAIL/n/a
# with its last line.
APPS=${BENCH_APPS:-"test_postgres test_memcached test_nginx test_nginx_daemon test_http"}

# app_value VALUE: "NUMBER UNIT" of a printed value, or nothing.
app_value() {
	echo "$1" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+(\.[0-9]+)?$/) {
		u = $(i + 1); sub(/,$/, "", u); print $i, u; exit } }'
}

bench_apps() {
	local t rows log st err fig xs tc row mode n=0 v u better
	for t in $APPS; do
		[ -f "$here/../apps/$t.sh" ] || continue
		rows="$LOGS/apps.$t.rows"
		log="$LOGS/apps.$t.log"
		rm -f "$rows"
		say "  $t"
		XSOCK_APPS_ROWS="$rows" XSOCK_BACKEND=local XSOCK_TEST_TOP_BUILDDIR="$build" \
			XSOCK_TEST_TOP_SRCDIR="$(cd "$here/../.." && pwd)" \
			timeout 600 bash "$here/../apps/$t.sh" >"$log" 2>&1
		st=$?
		err=$(grep -v '^\s*$' "$log" | tail -n 1)
		if [ ! -s "$rows" ]; then
			n=$((n + 1))
			case $st in
			77) record "app_$t" "$t (skipped)" xsock "" "" higher n/a "$err" apps "$n" ;;
			*) record "app_$t" "$t (failed)" xsock "" "" higher FAIL "rc=$st: $err" apps "$n" ;;
			esac
			continue
		fi
		# The last row of a figure wins (test_nginx prints its TCP row
		# first, then again with xsock's).
		while IFS=$'\t' read -r fig xs tc; do
			n=$((n + 1))
			row="app_$(echo "$fig" | tr -c 'A-Za-z0-9\n' '_' | tr -s '_' | sed 's/_$//')"
			for mode in xsock tcp; do
				[ $mode = xsock ] && v=$xs || v=$tc
				read -r v u <<<"$(app_value "$v")"
				case $u in ms|us|s) better=lower ;; *) better=higher ;; esac
				if [ -n "$v" ]; then
					record "$row" "$fig" $mode "$v" "$u" $better ok "" apps "$n"
				else
					record "$row" "$fig" $mode "" "${u:-}" $better FAIL \
						"not measured ($t rc=$st): $err" apps "$n"
				fi
			done
		done < <(tac "$rows" | awk -F'\t' '!seen[$1]++' | tac)
	done
}
