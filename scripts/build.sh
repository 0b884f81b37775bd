#!/bin/bash
# SPDX-License-Identifier: MIT
# Configure and build xsock into build/ (or $1), optionally with extra
# configure arguments after it.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bdir=${1:-$top/build}
shift || true
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null 2>&1 ||
	autoreconf -fi
mkdir -p "$bdir"
cd "$bdir"
[ -f Makefile ] || "$top/configure" -q "$@"
make -s -j"$(nproc)" >/dev/null
make -s -j"$(nproc)" check TESTS= >/dev/null
