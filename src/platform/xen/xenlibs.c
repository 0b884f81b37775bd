/* SPDX-License-Identifier: MIT */
/*
 * Loading the Xen libraries on first use (xenlibs.h). Each function is
 * looked up in what the process has loaded already (the program's own
 * definition, or a library it linked), then in our own dlopen() of its
 * library: the same function a normal link would have bound.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#define XEN_LIBS_NO_REDIRECT
#include "common/compiler.h"
#include "common/log.h"
#include "platform/xen/private.h"
#include "platform/xen/xenlibs.h"

struct xen_libs xen_fn;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;

/* The sonames Debian 12's libxen-dev links against (Xen 4.17). */
static const char *const sonames[] = {
	"libxengnttab.so.1", "libxenevtchn.so.1", "libxenstore.so.4",
};

static void *lookup(void *const libs[], const char *name)
{
	void *f = dlsym(RTLD_DEFAULT, name);
	size_t i;

	for (i = 0; !f && i < XS_ARRAY_SIZE(sonames); i++)
		if (libs[i])
			f = dlsym(libs[i], name);
	return f;
}

static void load(void)
{
	void *libs[XS_ARRAY_SIZE(sonames)];
	const char *missing = NULL;
	bool all_libs = true;
	size_t i;

	for (i = 0; i < XS_ARRAY_SIZE(sonames); i++) {
		libs[i] = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
		all_libs &= libs[i] != NULL;
	}
#define XEN_LIBS_LOOKUP(f)							\
	xen_fn.f = (__typeof__(xen_fn.f))lookup(libs, #f);			\
	if (!xen_fn.f && !missing)						\
		missing = #f;
	XEN_LIBS_FUNCTIONS(XEN_LIBS_LOOKUP)
#undef XEN_LIBS_LOOKUP
	if (!missing)
		return;
	/* Kept loaded: a partial table is never used, and a library
	 * unloaded under a half-set table could only do harm. */
	xs_log(XS_LOG_ERR, "xen: the Xen libraries are not usable (%s not found: %s); "
	       "install libxengnttab1, libxenevtchn1 and libxenstore4", missing,
	       all_libs ? "no such function" : "library not found");
	load_rc = -ELIBACC;
}

int xen_libs_load(void)
{
	pthread_once(&load_once, load);
	return load_rc;
}
