#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmodified PostgreSQL across two isolated domains: the postmaster in
# domain 2 (TCP and a unix socket; it forks a backend per connection after
# accept), psql and pgbench in domain 1. pgbench initialises its tables
# and runs TPC-B-like transactions from 8 clients; every transaction must
# commit (no failures) and psql must read back what it wrote. Then the
# same over plain TCP loopback. Everything runs as the postgres user, as
# an administrator installs it (docs/protocol.md, "Who may use rings"):
# postgres is a member of the group `xsockctl setup --group` names, the
# local backend's tree is that group's, and nothing else is changed.
. "$(dirname "$0")/applib.sh"
setup_apps
need_app psql postgresql-client
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/postgres" ] || need_app /usr/lib/postgresql/15/bin/postgres postgresql
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/postgres" ] || skip "postgres not installed (apt-get install postgresql)"
id postgres >/dev/null 2>&1 || skip "no postgres user (apt-get install postgresql)"
need_app setpriv util-linux
PORT=7661
SECS=${XSOCK_APPS_PGBENCH_SECS:-5}

chmod 755 "$WORK"
G=xsg$$
trap 'stop "${PIDS[@]}" 2>/dev/null; cleanup 2>/dev/null; groupdel "$G" 2>/dev/null' EXIT
groupadd "$G" && gpasswd -a postgres "$G" >/dev/null || fail "group $G with postgres"
"$XSOCKCTL" setup --group "$G" >"$WORK/setup.out" 2>&1 ||
	{ cat "$WORK/setup.out"; fail "xsockctl setup --group $G"; }
AS_PG="setpriv --reuid=postgres --regid=postgres --init-groups env HOME=$WORK"

# Run as postgres in the current mode's server / client domain.
pg_srv() { ip netns exec "xsit$$-$SRVDOM" $AS_PG XSOCK_DOMID=$SRVDOM ${SHIMLD:+LD_PRELOAD=$PRELOAD} "$@"; }
pg_cli() { ip netns exec "xsit$$-$CLIDOM" $AS_PG XSOCK_DOMID=$CLIDOM ${SHIMLD:+LD_PRELOAD=$PRELOAD} "$@"; }

run_mode() {
	local srv data out tps lat n
	use_mode "$1"
	if [ $MODE = xsock ]; then SHIMLD=1; CLIDOM=1; else SHIMLD=; CLIDOM=3; fi
	data=$WORK/pg.$MODE
	install -d -o postgres -g postgres "$data" "$data.sock"
	pg_srv timeout 60 "$PGBIN/initdb" -D "$data" -A trust -U postgres >"$WORK/initdb.$MODE" 2>&1 ||
		{ cat "$WORK/initdb.$MODE"; fail "$MODE: initdb failed"; }
	# The xsock client is 10.77.0.1 as the server sees it.
	echo "host all all 0.0.0.0/0 trust" >>"$data/pg_hba.conf"
	pg_srv "$PGBIN/postgres" -D "$data" -p $PORT -k "$data.sock" -c listen_addresses=0.0.0.0 \
		-c max_connections=50 -c fsync=off -c synchronous_commit=off \
		>"$WORK/server.$MODE.log" 2>&1 &
	srv=$!
	PIDS+=($srv)
	wait_server $PORT $srv
	# Listening is not ready: recovery at start-up refuses clients.
	n=0
	until grep -q 'ready to accept connections' "$WORK/server.$MODE.log"; do
		n=$((n + 1))
		[ $n -gt 300 ] && { cat "$WORK/server.$MODE.log"; fail "$MODE: postgres never got ready"; }
		sleep 0.05
	done
	PGC=(-h "$HOST" -p $PORT -U postgres)

	out=$WORK/init.$MODE
	pg_cli timeout 60 "$PGBIN/pgbench" "${PGC[@]}" -i -s 2 postgres >"$out" 2>&1 ||
		{ cat "$out"; tail "$WORK/server.$MODE.log"; fail "$MODE: pgbench -i failed"; }
	grep -q 'done in' "$out" || { cat "$out"; fail "$MODE: pgbench -i did not finish"; }
	out=$WORK/run.$MODE
	pg_cli timeout $((SECS + 30)) "$PGBIN/pgbench" "${PGC[@]}" -c 8 -j 2 -T "$SECS" postgres \
		>"$out" 2>&1 || { cat "$out"; tail "$WORK/server.$MODE.log"; fail "$MODE: pgbench run failed"; }
	grep -q 'number of failed transactions: 0 ' "$out" || { cat "$out"; fail "$MODE: pgbench saw failed transactions"; }
	grep -qi 'error' "$out" && { cat "$out"; fail "$MODE: pgbench reported errors"; }
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out")
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$out")
	[ -n "$tps" ] || { cat "$out"; fail "$MODE: no tps from pgbench"; }
	eval "TPS_$MODE=\"${tps%.*} tps, avg $lat ms\""

	out=$WORK/psql.$MODE
	pg_cli timeout 30 "$PGBIN/psql" "${PGC[@]}" -X -q -v ON_ERROR_STOP=1 -At postgres >"$out" 2>&1 <<'SQL' ||
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 10000) g;
SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM t;
SELECT md5(string_agg(md5(g::text), ',' ORDER BY g)) FROM generate_series(1, 10000) g;
SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(delta) FROM pgbench_history);
SQL
		{ cat "$out"; fail "$MODE: psql failed"; }
	n=$(sed -n 1p "$out")
	[ "${n%%|*}" = 10000 ] || { cat "$out"; fail "$MODE: psql counted '${n%%|*}' rows, not 10000"; }
	[ "${n#*|}" = "$(sed -n 2p "$out")" ] || { cat "$out"; fail "$MODE: rows read back differ"; }
	[ "$(sed -n 3p "$out")" = t ] || { cat "$out"; fail "$MODE: account balances do not add up to pgbench_history"; }
	say "$MODE: pgbench $tps tps; psql: 10000 rows written and read back intact"
	stop $srv
	grep -q 'FATAL\|PANIC' "$WORK/server.$MODE.log" &&
		{ cat "$WORK/server.$MODE.log"; fail "$MODE: postgres logged FATAL/PANIC"; }
	return 0
}

run_mode xsock
run_mode tcp
row "pgbench -c 8 -j 2 (TPC-B, s=2)" "$TPS_xsock" "$TPS_tcp"
print_table
say "PASS"
