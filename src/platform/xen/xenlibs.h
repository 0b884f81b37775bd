/* SPDX-License-Identifier: MIT */
/*
 * The Xen libraries, loaded when the xen backend is first opened
 * (xenlibs.c), not when a program starts: a program under the shim on a
 * host without Xen, or one that never makes a ring, pays nothing for them
 * (five libraries to map and relocate: 0.13 ms of every process start
 * here, two thirds of what the shim added to it).
 *
 * Each file of the backend includes this header after the libraries' own
 * headers; its calls go through the table below, by the same names. A
 * program that defines or links one of these functions itself (a unit test
 * standing in for /dev/xen/evtchn, a program linked with libxenstore)
 * provides it, as it did when we were linked with the libraries.
 */
#ifndef XSOCK_PLATFORM_XEN_XENLIBS_H
#define XSOCK_PLATFORM_XEN_XENLIBS_H

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#define XEN_LIBS_FUNCTIONS(F)						\
	F(xengnttab_open) F(xengnttab_close) F(xengnttab_fd)		\
	F(xengnttab_map_domain_grant_refs)				\
	F(xengnttab_map_grant_ref_notify) F(xengnttab_unmap)		\
	F(xenevtchn_open) F(xenevtchn_fdopen) F(xenevtchn_close)	\
	F(xenevtchn_fd) F(xenevtchn_notify)				\
	F(xenevtchn_bind_unbound_port) F(xenevtchn_bind_interdomain)	\
	F(xenevtchn_unbind) F(xenevtchn_pending) F(xenevtchn_unmask)	\
	F(xs_open) F(xs_close) F(xs_fileno) F(xs_read) F(xs_write)	\
	F(xs_rm) F(xs_directory) F(xs_get_permissions)			\
	F(xs_set_permissions) F(xs_watch) F(xs_unwatch)		\
	F(xs_read_watch) F(xs_check_watch) F(xs_transaction_start)	\
	F(xs_transaction_end)

#define XEN_LIBS_MEMBER(f) __typeof__(f) *f;
struct xen_libs {
	XEN_LIBS_FUNCTIONS(XEN_LIBS_MEMBER)
};
#undef XEN_LIBS_MEMBER

/* Filled by xen_libs_load() (private.h); read-only afterwards. */
extern struct xen_libs xen_fn;

#ifndef XEN_LIBS_NO_REDIRECT
#define xengnttab_open (xen_fn.xengnttab_open)
#define xengnttab_close (xen_fn.xengnttab_close)
#define xengnttab_fd (xen_fn.xengnttab_fd)
#define xengnttab_map_domain_grant_refs (xen_fn.xengnttab_map_domain_grant_refs)
#define xengnttab_map_grant_ref_notify (xen_fn.xengnttab_map_grant_ref_notify)
#define xengnttab_unmap (xen_fn.xengnttab_unmap)
#define xenevtchn_open (xen_fn.xenevtchn_open)
#define xenevtchn_fdopen (xen_fn.xenevtchn_fdopen)
#define xenevtchn_close (xen_fn.xenevtchn_close)
#define xenevtchn_fd (xen_fn.xenevtchn_fd)
#define xenevtchn_notify (xen_fn.xenevtchn_notify)
#define xenevtchn_bind_unbound_port (xen_fn.xenevtchn_bind_unbound_port)
#define xenevtchn_bind_interdomain (xen_fn.xenevtchn_bind_interdomain)
#define xenevtchn_unbind (xen_fn.xenevtchn_unbind)
#define xenevtchn_pending (xen_fn.xenevtchn_pending)
#define xenevtchn_unmask (xen_fn.xenevtchn_unmask)
#define xs_open (xen_fn.xs_open)
#define xs_close (xen_fn.xs_close)
#define xs_fileno (xen_fn.xs_fileno)
#define xs_read (xen_fn.xs_read)
#define xs_write (xen_fn.xs_write)
#define xs_rm (xen_fn.xs_rm)
#define xs_directory (xen_fn.xs_directory)
#define xs_get_permissions (xen_fn.xs_get_permissions)
#define xs_set_permissions (xen_fn.xs_set_permissions)
#define xs_watch (xen_fn.xs_watch)
#define xs_unwatch (xen_fn.xs_unwatch)
#define xs_read_watch (xen_fn.xs_read_watch)
#define xs_check_watch (xen_fn.xs_check_watch)
#define xs_transaction_start (xen_fn.xs_transaction_start)
#define xs_transaction_end (xen_fn.xs_transaction_end)
#endif

#endif /* XSOCK_PLATFORM_XEN_XENLIBS_H */
