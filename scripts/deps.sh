#!/bin/bash
# SPDX-License-Identifier: MIT
# Install what building and testing xsock needs on Debian 12 (as root, or
# through sudo). Quiet when everything is already there. clang and
# libclang-rt-14-dev (libFuzzer, ASan for clang) serve the fuzz step of
# scripts/run-tests.sh; dpkg-dev, debhelper and lintian the package test
# (tests/pkg/test_package.sh: dpkg-buildpackage, then lintian).
set -eu
PKGS="build-essential autoconf automake libtool pkg-config libxen-dev check
      iproute2 socat ncat bc procps psmisc python3 strace clang libclang-rt-14-dev
      redis-server redis-tools curl iperf3 sockperf memcached libmemcached-tools
      nginx-light wrk postgresql postgresql-client util-linux
      dpkg-dev debhelper lintian"
missing=""
for p in $PKGS; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "xsock: installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
