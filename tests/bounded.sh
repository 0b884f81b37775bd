#!/bin/sh
# SPDX-License-Identifier: MIT
# SH_LOG_COMPILER: runs one test script under a time bound, so that a test
# that hangs (a bare `wait` on a server nobody stopped) fails with its own
# log instead of holding `make check`, and CI, until CI's own limit.
#
# Usage: bounded.sh SHELL TEST [ARGS...]. XSOCK_TEST_TIMEOUT (seconds,
# default 300) is the bound; the slowest test (tests/pkg/test_package.sh)
# took 33 s here, the slowest under ASan 20 s. At the bound the test's
# process group gets SIGTERM (its EXIT trap cleans up its domains), 20 s
# later SIGKILL, and the result is a hard error (99). The log ends with
# the test's wall time.
sh=$1
shift
limit=${XSOCK_TEST_TIMEOUT:-300}
t0=$(date +%s)
timeout -k 20 "$limit" "$sh" "$@"
rc=$?
t1=$(date +%s)
# 124 (TERM) or 137 (KILL) from timeout, at the bound: not a test that
# exited so by itself, nor one the OOM killer took.
if { [ "$rc" = 124 ] || [ "$rc" = 137 ]; } && [ $((t1 - t0)) -ge "$limit" ]; then
	echo "$(basename "$1" .sh): TIMEOUT: still running after $limit s (XSOCK_TEST_TIMEOUT), killed"
	rc=99
fi
echo "($(basename "$1"): $((t1 - t0)) s, exit $rc)"
exit "$rc"
