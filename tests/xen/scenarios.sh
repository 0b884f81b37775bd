# Scenarios of the real-Xen harness, sourced by dom0 (busybox sh).
#
# A scenario is one shell function named scenario_<name>() -- defined at the
# start of a line exactly like that; the harness finds them with sed and runs
# them in file order. It returns 0 for PASS. Available:
#   $U1 $U2                 domain ids of the two PV domUs (dom0 is 0)
#   dom0_run CMD...         run in dom0, output prefixed [dom0], returns its status
#   guest_run DOM 'CMD'     run CMD (a shell string) in DOM and wait; output
#                           prefixed [domN]; returns its status (124 timeout)
#   guest_start DOM 'CMD'   start it in the background; prints a job number
#   guest_wait DOM JOB [S]  wait for that job (default 300 s), as guest_run
# Every image has, on PATH: the project's build output under /opt/xsock/bin
# (xsockctl, xsp-selftest, xsock-ringbench, check_* unit tests), the shim at
# /opt/xsock/lib/libxsock_preload.so, socat and ncat (when the host had
# them), busybox, xenstore-* tools. XSOCK_BACKEND is unset (xen is chosen).
# Keep output short: guest job output travels through xenstore (last 900
# lines).
#
# Example of a socat-through-the-shim scenario, for later:
#   scenario_socat_echo() {
#   	j=$(guest_start $U2 "LD_PRELOAD=/opt/xsock/lib/libxsock_preload.so \
#   		socat TCP-LISTEN:7000 EXEC:cat")
#   	guest_run $U1 "echo hi | LD_PRELOAD=... socat - TCP:xsock-$U2:7000" &&
#   		guest_wait $U2 "$j"
#   }

# The platform layer inside dom0 alone (grants/evtchn to itself, store).
scenario_selftest_dom0_local() {
	dom0_run xsp-selftest local
}

# The platform layer inside a domU alone.
scenario_selftest_domU_local() {
	guest_run "$U1" "xsp-selftest local"
}

# dom0 offers (shares, allocates), the domU accepts (maps, binds).
scenario_selftest_dom0_to_domU() {
	j=$(guest_start "$U1" "xsp-selftest accept 0 a")
	dom0_run xsp-selftest offer "$U1" a
	r0=$?
	guest_wait "$U1" "$j"
	r1=$?
	[ $r0 -eq 0 ] && [ $r1 -eq 0 ]
}

# The domU offers, dom0 accepts.
scenario_selftest_domU_to_dom0() {
	j=$(guest_start "$U1" "xsp-selftest offer 0 b")
	dom0_run xsp-selftest accept "$U1" b
	r0=$?
	guest_wait "$U1" "$j"
	r1=$?
	[ $r0 -eq 0 ] && [ $r1 -eq 0 ]
}

# Between the two unprivileged domains.
scenario_selftest_domU_to_domU() {
	j1=$(guest_start "$U1" "xsp-selftest offer $U2 c")
	j2=$(guest_start "$U2" "xsp-selftest accept $U1 c")
	guest_wait "$U1" "$j1"
	r1=$?
	guest_wait "$U2" "$j2"
	r2=$?
	[ $r1 -eq 0 ] && [ $r2 -eq 0 ]
}
