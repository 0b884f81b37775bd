/* SPDX-License-Identifier: MIT */
/* STUB */
#include "config.h"
#include "preload/shim.h"
