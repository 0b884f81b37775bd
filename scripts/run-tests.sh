#!/bin/bash
# SPDX-License-Identifier: MIT
# The whole test suite: unit tests (Check), integration tests (unmodified
# socat/ncat across two isolated domains), the same suite again under
# AddressSanitizer+UndefinedBehaviorSanitizer, and the real-Xen suite when
# the machine can run it, and a bounded run of every libFuzzer target.
# Needs root for network namespaces (uses sudo).
#
# Switches: XSOCK_SKIP_ASAN=1, XSOCK_SKIP_TSAN=1, XSOCK_SKIP_XEN=1 and
# XSOCK_SKIP_FUZZ=1 skip those
# steps; XSOCK_FUZZ_SECONDS (default 60) is each fuzz target's budget.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
rc=0
# failed_logs DIR: the log of every test in DIR that failed (FAIL, ERROR),
# then the tail of all the logs: a failing test's own words come first.
failed_logs() {
	local trs
	for trs in "$1"/tests/*/*.trs; do
		grep -q -E '^:test-result: (FAIL|ERROR)' "$trs" 2>/dev/null || continue
		echo "---- ${trs%.trs}.log (failed)"
		tail -150 "${trs%.trs}.log"
	done
	echo "---- the last lines of all logs"
	cat "$1"/tests/*/*.log 2>/dev/null | tail -100
}
"$top/scripts/build.sh" "$top/build"
echo "== make check (build/)"
$SUDO make -C "$top/build" -s check || { rc=1; failed_logs "$top/build"; }
if [ "${XSOCK_SKIP_ASAN:-0}" != 1 ]; then
	"$top/scripts/build.sh" "$top/build-asan" --enable-sanitizers
	echo "== make check under ASan+UBSan (build-asan/)"
	$SUDO env ASAN_OPTIONS=detect_leaks=1 XSOCK_TEST_SIZE_MB=64 XSOCK_TEST_CYCLES=200 \
		make -C "$top/build-asan" -s check ||
		{ rc=1; failed_logs "$top/build-asan"; }
	# A sanitizer report from a process whose exit status no test looks at
	# (a server stopped at the end, a process exiting) fails the run too.
	if grep -l -E 'ERROR: AddressSanitizer|runtime error:' "$top"/build-asan/tests/*/*.log \
		2>/dev/null; then
		echo "sanitizer reports in the logs above"
		grep -h -B2 -A30 -E 'ERROR: AddressSanitizer|runtime error:' \
			"$top"/build-asan/tests/*/*.log | head -120
		rc=1
	fi
fi
# ThreadSanitizer over the threaded tests only (the shim in uninstrumented
# programs is not what TSan can judge): the ring across processes and
# threads, and a sender, a receiver and a poller thread on one ring
# socket. XSOCK_SKIP_TSAN=1 skips it.
if [ "${XSOCK_SKIP_TSAN:-0}" != 1 ]; then
	"$top/scripts/build.sh" "$top/build-tsan" --enable-sanitizers=thread
	echo "== threaded tests under ThreadSanitizer (build-tsan/)"
	$SUDO make -C "$top/build-tsan" -s check \
		TESTS="tests/unit/check_ring_xproc tests/integration/test_threads.sh" ||
		{ rc=1; failed_logs "$top/build-tsan"; }
fi
# Bounded fuzzing: every tests/fuzz/fuzz_*.c target, built with clang and
# libFuzzer in build-fuzz/, runs XSOCK_FUZZ_SECONDS from its seed corpus
# (tests/fuzz/corpus/<name>, copied: new units stay out of the tree). A
# crash, leak, timeout or failed invariant fails the run; the reproducer
# is left in build-fuzz/<target>-crash-* next to build-fuzz/<target>.log.
run_fuzz() {
	local secs=${XSOCK_FUZZ_SECONDS:-60} src name bin seeds work log frc=0
	echo "== fuzz targets, ${secs} s each (build-fuzz/, clang + libFuzzer)"
	"$top/scripts/build.sh" "$top/build-fuzz" --enable-fuzz CC=clang || return 1
	for src in "$top"/tests/fuzz/fuzz_*.c; do
		name=$(basename "$src" .c)
		bin="$top/build-fuzz/tests/fuzz/$name"
		seeds="$top/tests/fuzz/corpus/${name#fuzz_}"
		log="$top/build-fuzz/$name.log"
		if [ ! -x "$bin" ]; then
			echo "$name: FAILED: not built (missing from Makefile.am?)"
			frc=1
			continue
		fi
		work=$(mktemp -d /tmp/xsock-fuzz-XXXXXX)
		[ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
		if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="$top/build-fuzz/$name-" \
			"$work" >"$log" 2>&1; then
			echo "$name: $(awk '/^stat::number_of_executed_units/ {print $2}' "$log")" \
				"runs in ${secs} s, no crash"
		else
			echo "$name: FAILED (see build-fuzz/$name.log):"
			grep -E '^(==[0-9]+==|SUMMARY|.*check failed|.*invariant failed)' "$log" |
				head -20
			frc=1
		fi
		rm -rf "$work"
	done
	return $frc
}
if [ "${XSOCK_SKIP_FUZZ:-0}" != 1 ]; then
	run_fuzz || rc=1
fi
# Real Xen under QEMU (about 10 min): the product across real domains.
# XSOCK_SKIP_XEN=1 skips it; exit 77 inside check-xen is reported as a skip.
if [ "${XSOCK_SKIP_XEN:-0}" != 1 ]; then
	echo "== make check-xen (build/, Xen 4.17 + dom0 + 2 domUs under QEMU)"
	$SUDO make -C "$top/build" -s check-xen || rc=1
fi
exit $rc
