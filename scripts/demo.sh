#!/bin/bash
# SPDX-License-Identifier: MIT
# The main job: install, build, and run an unmodified client/server pair
# (socat) through the shim across two domains on the local backend. The
# domains are network namespaces with loopback only, so the bytes can
# only travel over the shared-memory ring. Prints what moved and how fast,
# next to TCP loopback for comparison.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
exec $SUDO "$top/tools/xsock-demo.sh" "$top/build" "${XSOCK_DEMO_MB:-1024}"
