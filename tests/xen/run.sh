#!/bin/bash
# The real-Xen harness: boot Xen 4.17 + a dom0 + two PV domUs inside QEMU
# (TCG) and run the scenarios of tests/xen/scenarios.sh in them.
#
#   tests/xen/run.sh BUILD_DIR
#
# BUILD_DIR is a configured and built tree (make): its xsockctl, shim, test
# programs and tests/xen/xsp-selftest go into the guests. Exit status: 0 all
# scenarios passed, 1 a failure, 77 cannot run here (packages missing and not
# root, or no build). Environment:
#   XSOCK_XEN_WORKDIR   where images and logs go (default BUILD_DIR/tests/xen/work)
#   XSOCK_XEN_TIMEOUT   seconds before QEMU is killed (default 3000)
#   XSOCK_XEN_ONLY      space-separated scenario names to run (default all)
#   XSOCK_XEN_NO_INSTALL=1  never apt-get install; exit 77 if something is missing
#   XSOCK_XEN_VERBOSE=1 copy the whole serial console to stdout as it comes
# The serial console is saved in WORKDIR/console.log (each line prefixed by
# seconds since QEMU started, measured on the host).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD_DIR=$(cd "$1" 2>/dev/null && pwd) || { echo "run.sh: no directory $1" >&2; exit 77; }
WORK=${XSOCK_XEN_WORKDIR:-$BUILD_DIR/tests/xen/work}
TIMEOUT=${XSOCK_XEN_TIMEOUT:-3000}
PACKAGES="qemu-system-x86 xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils
	linux-image-amd64 busybox-static cpio"

skip() { echo "run.sh: SKIP: $*" >&2; exit 77; }
log() { echo "run.sh: $*"; }

# ---- packages ----------------------------------------------------------------------
have_all() {
	[ -x /usr/bin/qemu-system-x86_64 ] && [ -e /boot/xen-4.17-amd64.gz ] &&
	[ -x /usr/lib/xen-4.17/bin/xl ] && [ -x /usr/lib/xen-4.17/bin/xenstored ] &&
	[ -x /usr/bin/xenstore-read ] && [ -x /usr/bin/busybox ] &&
	command -v cpio >/dev/null && ls /boot/vmlinuz-* >/dev/null 2>&1
}
if ! have_all; then
	[ "${XSOCK_XEN_NO_INSTALL:-0}" = 1 ] && skip "packages missing: $PACKAGES"
	[ "$(id -u)" = 0 ] || skip "packages missing and not root: apt-get install $PACKAGES"
	command -v apt-get >/dev/null || skip "packages missing and no apt-get"
	log "installing $(echo $PACKAGES)"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y --no-install-recommends $PACKAGES > "/tmp/xsock-xen-apt.$$" 2>&1; then
		apt-get update > /dev/null 2>&1
		apt-get install -y --no-install-recommends $PACKAGES > "/tmp/xsock-xen-apt.$$" 2>&1 ||
			{ tail -n 20 "/tmp/xsock-xen-apt.$$" >&2; skip "apt-get install failed"; }
	fi
	rm -f "/tmp/xsock-xen-apt.$$"
	have_all || skip "packages still missing after apt-get"
fi
[ -x "$BUILD_DIR/tests/xen/xsp-selftest" ] || skip "$BUILD_DIR/tests/xen/xsp-selftest missing (run make)"

# ---- images ------------------------------------------------------------------------------
mkdir -p "$WORK"
# One run per work directory: a second QEMU would share the console log.
exec 9> "$WORK/.lock"
flock -w 1800 9 || { echo "run.sh: another run holds $WORK/.lock" >&2; exit 1; }
t_img=$(date +%s.%N)
XSOCK_XEN_ONLY=${XSOCK_XEN_ONLY:-} "$HERE/mkimages.sh" "$BUILD_DIR" "$WORK" || exit 1
zcat /boot/xen-4.17-amd64.gz > "$WORK/xen.elf" || exit 1
log "images built in $(echo "$(date +%s.%N) $t_img" | awk '{ printf "%.1f", $1 - $2 }')s"

# ---- boot ---------------------------------------------------------------------------------
# TCG: nested KVM cannot run Xen (CET emulation failure); Haswell-noTSX: with
# -cpu max the PV dom0 faults right after Xen hands over (notes).
CONSOLE=$WORK/console.log
: > "$CONSOLE"
rm -f "$WORK/serial.raw"
: > "$WORK/serial.raw"	# before tail starts: never read a previous run's console
t0=$EPOCHREALTIME
qemu-system-x86_64 -accel tcg,thread=multi -cpu Haswell-noTSX -m 2048 -smp 2 \
	-nographic -no-reboot -monitor none -serial stdio \
	-kernel "$WORK/xen.elf" \
	-append "dom0_mem=1024M console=com1 com1=115200,8n1 loglvl=warning guest_loglvl=warning" \
	-initrd "$WORK/vmlinuz console=hvc0 rdinit=/init quiet,$WORK/dom0.cpio" \
	< /dev/null > "$WORK/serial.raw" 2>&1 &
qpid=$!
# Timestamp each console line (host seconds since QEMU start) into CONSOLE.
tail -n +1 -F --pid="$qpid" "$WORK/serial.raw" 2>/dev/null |
while IFS= read -r line; do
	while [[ $line == *$'\r' ]]; do line=${line%$'\r'}; done	# Xen + hvc: \r\r\n
	el=$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%7.1f", a - b }')
	printf '[%s] %s\n' "$el" "$line" >> "$CONSOLE"
	if [ "${XSOCK_XEN_VERBOSE:-0}" = 1 ]; then
		printf '[%s] %s\n' "$el" "$line"
	else
		case $line in
		*XEN-HARNESS:*|\[dom*|*"Kernel panic"*|*"(XEN) Panic"*) printf '[%s] %s\n' "$el" "$line" ;;
		esac
	fi
done &
pipe_pid=$!

# Watch for the verdict; QEMU exits when dom0 powers off.
result=
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
	if grep -aq 'XEN-HARNESS: PASS' "$CONSOLE"; then result=PASS; fi
	if grep -aq 'XEN-HARNESS: FAIL' "$CONSOLE"; then result=FAIL; fi
	if [ -n "$result" ] || ! kill -0 "$qpid" 2>/dev/null; then
		break
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		result=TIMEOUT
		break
	fi
	sleep 1
done
# Give dom0 a moment to power off, then stop QEMU (the one we started).
for _ in $(seq 1 15); do
	kill -0 "$qpid" 2>/dev/null || break
	sleep 1
done
kill "$qpid" 2>/dev/null
wait "$qpid" 2>/dev/null
wait "$pipe_pid" 2>/dev/null
sleep 0.5
[ -z "$result" ] && grep -aq 'XEN-HARNESS: PASS' "$CONSOLE" && result=PASS
[ -z "$result" ] && grep -aq 'XEN-HARNESS: FAIL' "$CONSOLE" && result=FAIL

# ---- report --------------------------------------------------------------------------------
# Boot times from the host's timestamps (the guest clocks drift under TCG).
awk '
	function ts(l) { sub(/^\[ */, "", l); sub(/\].*/, "", l); return l + 0 }
	/XEN-HARNESS: dom0 userspace up/ { printf "run.sh: boot: Xen + dom0 to userspace %.1fs after QEMU start\n", ts($0) }
	/XEN-HARNESS: xl create / { n = $NF; c[n] = ts($0) }
	/XEN-HARNESS: domU .* is dom[0-9]+, agent ready/ {
		for (i = 1; i <= NF; i++) if ($i == "domU") n = $(i + 1)
		if (n in c) printf "run.sh: boot: domU %s agent ready %.1fs after its xl create\n", n, ts($0) - c[n]
	}
	/XEN-HARNESS: .*scenarios, / { printf "run.sh: scenarios done %.1fs after QEMU start\n", ts($0) }
' "$CONSOLE"
grep -a 'XEN-HARNESS: scenario .*: \(PASS\|FAIL\)' "$CONSOLE" | sed 's/^.*XEN-HARNESS: /run.sh:   /'
grep -a 'XEN-HARNESS: RESULT ' "$CONSOLE" | sed 's/^.*XEN-HARNESS: RESULT /run.sh:   result: /'
# Last, so that a CI log cut to its tail still says why: each failed
# scenario's own console lines (from its start to its FAIL; not the
# hypervisor's own "(XEN)" lines), at most 60.
for s in $(grep -a 'XEN-HARNESS: scenario .*: FAIL' "$CONSOLE" |
	   sed 's/^.*XEN-HARNESS: scenario \([A-Za-z0-9_]*\): FAIL.*/\1/'); do
	log "scenario $s FAILED; its console lines (last 60):"
	awk -v s="$s" '
		index($0, "XEN-HARNESS: scenario " s ": start") { on = 1; n = 0 }
		on && !/\(XEN\)/ { buf[n++ % 60] = $0 }
		on && index($0, "XEN-HARNESS: scenario " s ": FAIL") { on = 0; done = 1 }
		END { if (!done && !n) exit; i = n > 60 ? n - 60 : 0
		      for (; i < n; i++) print "run.sh:   | " buf[i % 60] }
	' "$CONSOLE" | tr -d '\r'
done
case $result in
PASS) log "PASS (console: $CONSOLE)"; exit 0 ;;
FAIL) log "FAIL (console: $CONSOLE)"; exit 1 ;;
TIMEOUT) log "FAIL: no verdict within ${TIMEOUT}s; last console lines:"; tail -n 40 "$CONSOLE"; exit 1 ;;
*) log "FAIL: QEMU ended without a verdict; last console lines:"; tail -n 40 "$CONSOLE"; exit 1 ;;
esac
