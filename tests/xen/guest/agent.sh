#!/bin/sh
# The domU command agent. dom0 asks it to run shell commands through the
# domain's own xenstore directory (relative paths resolve to
# /local/domain/<self>/):
#   data/cmd/<n>          the command (n = 1, 2, ...; dom0 writes them in order)
#   data/out/<n>/<i>      its output, 15 lines per node (each prefixed by "|")
#   data/out/<n>/count    number of output nodes
#   data/rc/<n>           its exit status (written last: "the job is done")
#   data/agent            "ready" once the agent listens (and eth0 is set up
#                         when the domain has a vif), with data/uptime
# Commands run in the background, so a server and a client can run at once.
# All output also goes to this domain's console (xenconsoled logs it in dom0).

run_job() {
	n=$1
	cmd=$2
	echo "agent: job $n: $cmd"
	( cd /tmp && sh -c "$cmd" ) > /tmp/job.$n 2>&1 < /dev/null
	rc=$?
	cat /tmp/job.$n
	echo "agent: job $n: exit $rc"
	tail -n 900 /tmp/job.$n | awk -v p="/tmp/job.$n.part." \
		'{ f = p sprintf("%03d", int((NR - 1) / 15)); print > f }'
	i=0
	for f in /tmp/job.$n.part.*; do
		[ -e "$f" ] || continue
		xenstore-write -R "data/out/$n/$i" "|$(cat "$f")"
		i=$((i + 1))
	done
	xenstore-write "data/out/$n/count" "$i"
	xenstore-write "data/rc/$n" "$rc"
}

self=$(xenstore-read domid)
# The vif (xl's vif = [...ip=A...], guest/dom0.sh): eth0 takes A/24 from the
# backend's node (readable by this domain), before the agent says ready.
if be=$(xenstore-read device/vif/0/backend 2> /dev/null) &&
   addr=$(xenstore-read "$be/ip" 2> /dev/null); then
	i=0
	while ! [ -e /sys/class/net/eth0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	ip addr add "${addr%% *}/24" dev eth0 && ip link set eth0 up &&
		echo "agent: eth0 ${addr%% *}/24" || echo "agent: eth0 setup failed ($addr)"
fi
echo "agent: domU $self up at $(cut -d' ' -f1 /proc/uptime)s"
xenstore-write data/uptime "$(cut -d' ' -f1 /proc/uptime)" data/agent ready
n=1
while :; do
	if cmd=$(xenstore-read -R "data/cmd/$n" 2>/dev/null); then
		run_job "$n" "$cmd" &
		n=$((n + 1))
	else
		sleep 0.2
	fi
done
