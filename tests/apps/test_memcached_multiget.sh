#!/bin/bash
# SPDX-License-Identifier: MIT
# EXPECTED TO FAIL (XFAIL_TESTS) until the shim is fixed. test_memcached.sh
# with a multi-get of 40 keys: memcached answers it with one sendmsg() of
# about three iovecs per key (~120). Linux takes up to IOV_MAX (1024)
# iovecs; the shim's ring write (preload/io.c, IOV_MAX_LOCAL 64) fails
# with EMSGSIZE, memcached logs "Failed to write, and not due to
# blocking: Message too long" and closes the connection, and the client
# reads end of stream.
NMULTI=40 exec bash "$(dirname "$0")/test_memcached.sh"
