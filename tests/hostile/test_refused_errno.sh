#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile peer, attack 7a: a hostile server chooses the client's errno.
#
# The attacker in domain 2 (xsock-hostile refuse-server) advertises a ring
# listener to domain 1 and answers its request with "state=refused
# err=N". xs_conn_connect() passes any N in 1..4095 on as -N, so an
# unmodified client (victim.py connect) under the shim, XSOCK_FALLBACK=0,
# sees connect() fail with whatever the server chose: EINPROGRESS or
# EALREADY on a blocking socket (a program then waits for a connection
# that never comes), EISCONN, EAGAIN, EINTR (Python retries connect() and
# then trusts SO_ERROR: it believes an unconnected socket connected), EBADF...
#
# Decided here: a refusal may only produce what a TCP connect() can fail
# with for reasons on the far side or on the path: ECONNREFUSED,
# ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, ECONNRESET, ECONNABORTED, EACCES,
# EPERM, and the shortages the protocol names (ENOBUFS, ENOMEM; ENOSPC and
# EMFILE become them or a TCP fallback). Anything else must become
# ECONNREFUSED. N = ECONNREFUSED itself is the control (passes today).
#
# Asserts: for each N, connect() fails with an errno of that list.
# Before the fix (issue 19): EINPROGRESS, EISCONN, EAGAIN, EALREADY, EBADF,
# ENOTSOCK and 4095 came through as they were, EINTR as "ok-but-ENOTCONN".
# Since (the allow-list XSOCK_REFUSAL_ERRNOS of <xsock/store.h>):
# "ECONNREFUSED->ECONNREFUSED EINPROGRESS->ECONNREFUSED ... 4095->ECONNREFUSED".
. "$(dirname "$0")/hlib.sh"
need_hostile
setup_domains 2
tag_all 2
store_dir
export XSOCK_FALLBACK=0
PORT=7771
ALLOWED=" ECONNREFUSED ETIMEDOUT ENETUNREACH EHOSTUNREACH ECONNRESET ECONNABORTED"
ALLOWED="$ALLOWED EACCES EPERM ENOBUFS ENOMEM "

name() {
	python3 -c 'import errno, sys; print(errno.errorcode.get(int(sys.argv[1]), sys.argv[1]))' "$1"
}
figs="" bad=""
for err in 111 115 106 11 114 4 9 88 4095; do
	dom 2 timeout 20 "$HOSTILE" refuse-server --peer 1 --port $PORT --err $err --count 1 \
		--secs 10 >"$WORK/a.out" 2>&1 &
	A=$!
	PIDS+=($A)
	wait_line "$WORK/a.out" '^ready' 10 || { cat "$WORK/a.out"; fail "no hostile listener"; }
	shim 1 timeout 10 /usr/bin/python3 "$VICTIM" connect 10.77.0.2 $PORT >"$WORK/c.out" 2>&1
	got=$(sed -n 's/^connect: result=//p' "$WORK/c.out")
	wait "$A"
	figs="$figs $(name $err)->${got:-none}"
	case "$ALLOWED" in
	*" $got "*) ;;
	*) bad="$bad $(name $err)->${got:-none}" ;;
	esac
done
fig="refusal errno -> connect() errno:$figs"
[ -z "$bad" ] || fail "$fig; not a connect() errno:$bad"
say "$fig"
say "PASS"
