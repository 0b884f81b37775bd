#!/bin/sh
# dom0 side of the real-Xen harness: Xen daemons, two PV domUs, scenarios.
# Every line meant for the host starts with "XEN-HARNESS:"; the last one is
# "XEN-HARNESS: PASS" or "XEN-HARNESS: FAIL".
XL=/usr/lib/xen-4.17/bin/xl
H=/xsock-harness

up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "XEN-HARNESS: $*"; }

finish() {
	exec > /dev/console 2>&1
	if [ "$1" = PASS ]; then
		say "PASS"
	else
		say "---- guest console logs ----"
		for f in /var/log/xen/console/guest-*.log; do
			[ -e "$f" ] || continue
			echo "==== $f"
			tail -n 150 "$f"
		done
		say "---- xl list / xl dmesg (tail) ----"
		$XL list 2>&1
		$XL dmesg 2>&1 | tail -n 40
		say "FAIL"
	fi
	sync
	poweroff -f
	sleep 30
}

say "dom0 userspace up at $(up)s"

mkdir -p /var/run/xenstored /var/lib/xenstored /var/lib/xen /var/run/xen /var/log/xen/console \
	/etc/xen
: > /etc/xen/xl.conf	# xl complains on every call without one
xenstored --pid-file /var/run/xenstored.pid || { say "xenstored failed"; finish FAIL; }
xen-init-dom0 > /tmp/xen-init-dom0.log 2>&1 || { cat /tmp/xen-init-dom0.log; say "xen-init-dom0 failed"; }
xenconsoled --pid-file=/var/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console \
	|| { say "xenconsoled failed"; finish FAIL; }
say "xenstored + xenconsoled up at $(up)s"

# The domUs' network, the path a user would otherwise take (scenario
# perf_vs_netfront): bridge xenbr0 with dom0 at 10.79.0.1/24; each domU's
# vif (netback) is put on it by guest/vif-harness, its eth0 (netfront)
# takes 10.79.0.<n + 1> for xsp-u<n> (guest/agent.sh). No default route:
# the xsock addresses 10.77.0.x stay unreachable by TCP.
BRIDGE=xenbr0
NET0=10.79.0.1
{ brctl addbr $BRIDGE && ip addr add $NET0/24 dev $BRIDGE && ip link set $BRIDGE up; } ||
	say "bridge $BRIDGE failed (no network for the domUs)"

# ---- helpers for scenarios ---------------------------------------------------

# Domain ids of the two domUs (set below).
U1=
U2=
# Per-domain job counters live in /tmp/jobs.<dom>.

# guest_start DOM CMD: ask DOM's agent to run CMD; prints the job number.
guest_start() {
	dom=$1
	shift
	n=$(( $(cat /tmp/jobs.$dom 2>/dev/null || echo 0) + 1 ))
	echo $n > /tmp/jobs.$dom
	xenstore-write -R "/local/domain/$dom/data/cmd/$n" "$*"
	echo $n
}

# guest_wait DOM JOB [TIMEOUT_S]: wait for the job, print its output
# (prefixed "[domN]"), return its exit status (124 on timeout).
guest_wait() {
	dom=$1
	n=$2
	t=${3:-300}
	end=$(( $(date +%s) + t ))
	while ! rc=$(xenstore-read "/local/domain/$dom/data/rc/$n" 2>/dev/null); do
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "[dom$dom] job $n: TIMEOUT after ${t}s"
			return 124
		fi
		sleep 0.3
	done
	cnt=$(xenstore-read "/local/domain/$dom/data/out/$n/count" 2>/dev/null || echo 0)
	i=0
	while [ "$i" -lt "$cnt" ]; do
		{ xenstore-read -R "/local/domain/$dom/data/out/$n/$i"; echo; } |
			sed -e '1s/^|//' -e "s/^/[dom$dom] /"
		i=$((i + 1))
	done
	xenstore-rm "/local/domain/$dom/data/out/$n" 2>/dev/null
	return "$rc"
}

# guest_run DOM CMD: run CMD in DOM and wait (default timeout 300 s).
guest_run() {
	dom=$1
	shift
	j=$(guest_start "$dom" "$@")
	guest_wait "$dom" "$j"
}

# dom0_run CMD...: run in dom0 with output prefixed "[dom0]".
dom0_run() {
	( "$@" 2>&1; echo "rc=$?" > /tmp/dom0_run.rc ) | sed -e 's/^/[dom0] /'
	rc=$(sed -n 's/^rc=//p' /tmp/dom0_run.rc)
	return "${rc:-1}"
}

# ---- the domUs ---------------------------------------------------------------

# net_of NAME: the bridge address of domU xsp-u<n>: 10.79.0.<n + 1>.
net_of() { echo "10.79.0.$(( ${1#xsp-u} + 1 ))"; }

boot_domu() {
	name=$1
	say "xl create $name"	# the host timestamps this line: boot time measurement
	t0=$(up)
	if ! $XL create /xsock-harness/domU.cfg "name=\"$name\"" \
		"vif=['bridge=$BRIDGE,ip=$(net_of $name),script=$H/vif-harness']" > /tmp/xl-$name.log 2>&1; then
		cat /tmp/xl-$name.log
		say "xl create $name failed"
		finish FAIL
	fi
	echo "$t0" > /tmp/created.$name
}

wait_domu() {
	name=$1
	id=$($XL domid "$name")
	end=$(( $(date +%s) + 300 ))
	while [ "$(xenstore-read /local/domain/$id/data/agent 2>/dev/null)" != ready ]; do
		if [ "$(date +%s)" -ge "$end" ]; then
			say > /dev/console "domU $name (dom$id) agent not ready after 300s"
			finish FAIL
		fi
		sleep 0.2
	done
	t1=$(up)
	say > /dev/console "domU $name is dom$id, agent ready $(echo "$t1 $(cat /tmp/created.$name)" |
		awk '{ printf "%.1f", $1 - $2 }')s (guest clock) after xl create"
	echo "$id"
}

# Both at once: each boots in about 35 s under TCG.
boot_domu xsp-u1
boot_domu xsp-u2
U1=$(wait_domu xsp-u1)
[ -n "$U1" ] || finish FAIL
U2=$(wait_domu xsp-u2)
[ -n "$U2" ] || finish FAIL
say "domUs up at $(up)s: U1=dom$U1 U2=dom$U2"

# ---- scenarios ---------------------------------------------------------------

. $H/scenarios.sh	# (it sources scenarios-net.sh at its end)
failed=0
total=0
for s in $(sed -n 's/^scenario_\([A-Za-z0-9_]*\)().*/\1/p' $H/scenarios.sh $H/scenarios-net.sh); do
	if [ -n "$XSOCK_XEN_ONLY" ] && ! echo " $XSOCK_XEN_ONLY " | grep -q " $s "; then
		continue
	fi
	total=$((total + 1))
	say "scenario $s: start at $(up)s"
	s0=$(date +%s)
	if "scenario_$s"; then
		say "scenario $s: PASS ($(( $(date +%s) - s0 ))s)"
	else
		say "scenario $s: FAIL ($(( $(date +%s) - s0 ))s)"
		failed=$((failed + 1))
	fi
done
say "$total scenarios, $failed failed, done at $(up)s"
[ "$failed" -eq 0 ] && [ "$total" -gt 0 ] && finish PASS
finish FAIL
