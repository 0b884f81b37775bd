#!/bin/bash
# SPDX-License-Identifier: MIT
# The whole test suite: unit tests (Check), integration tests (unmodified
# socat/ncat across two isolated domains), the same suite again under
# AddressSanitizer+UndefinedBehaviorSanitizer, and the real-Xen suite when
# the machine can run it. Needs root for network namespaces (uses sudo).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
rc=0
"$top/scripts/build.sh" "$top/build"
echo "== make check (build/)"
$SUDO make -C "$top/build" -s check || { rc=1; cat "$top"/build/tests/*/*.log 2>/dev/null | tail -200; }
if [ "${XSOCK_SKIP_ASAN:-0}" != 1 ]; then
	"$top/scripts/build.sh" "$top/build-asan" --enable-sanitizers
	echo "== make check under ASan+UBSan (build-asan/)"
	$SUDO env ASAN_OPTIONS=detect_leaks=1 XSOCK_TEST_SIZE_MB=64 XSOCK_TEST_CYCLES=200 \
		make -C "$top/build-asan" -s check ||
		{ rc=1; cat "$top"/build-asan/tests/*/*.log 2>/dev/null | tail -200; }
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
		{ rc=1; cat "$top"/build-tsan/tests/*/*.log 2>/dev/null | tail -200; }
fi
# Real Xen under QEMU (about 10 min): the product across real domains.
# XSOCK_SKIP_XEN=1 skips it; exit 77 inside check-xen is reported as a skip.
if [ "${XSOCK_SKIP_XEN:-0}" != 1 ]; then
	echo "== make check-xen (build/, Xen 4.17 + dom0 + 2 domUs under QEMU)"
	$SUDO make -C "$top/build" -s check-xen || rc=1
fi
exit $rc
