#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian package (issue 17 item 1), end to end: build it from a copy
# of this source tree with `dpkg-buildpackage -us -uc -b`, check what the
# two .debs hold, run lintian (when installed), install them with `dpkg -i`
# into a throw-away root (overlays of this system's /usr, /etc and /var on
# tmpfs, in a private mount namespace: the real system is not touched),
# and there, from the installed paths only: LD_PRELOAD by name, the xsock
# wrapper's built-in library path, xsockctl peer add --save into
# /etc/xsock/peers and xsock-peers.service's command loading it back, and
# the main job (socat -> socat across two domains, both started as
# `xsock socat ...`, no fallback). Then `dpkg -r` and `dpkg -P` remove it
# all cleanly.
#
# Without the change this fails at its first step: there is no debian/.
#
# Exit 0 pass, 1 fail, 77 skip (not root, dpkg-buildpackage/debhelper or
# overlayfs missing, or a sanitizer build: the package is built without
# sanitizers, so the plain build's `make check` covers it). About 2-3
# minutes, most of it the package build.
set -u

SRC=${XSOCK_TEST_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BLD=${XSOCK_TEST_TOP_BUILDDIR:-}
say() { printf '%s: %s\n' test_package "$*"; }
fail() { say "FAIL: $*"; exit 1; }
skip() { say "SKIPPED: $*" >&2; say "SKIPPED: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i into a throw-away root, namespaces)"
command -v dpkg-buildpackage >/dev/null || skip "dpkg-buildpackage missing (apt-get install dpkg-dev)"
command -v dh >/dev/null || skip "debhelper missing (apt-get install debhelper)"
command -v unshare >/dev/null && command -v ip >/dev/null || skip "needs unshare and ip"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
	skip "no overlay filesystem for the throw-away root"
if [ -n "$BLD" ] && [ -f "$BLD/Makefile" ] &&
	[ -n "$(sed -n 's/^SANITIZER_CFLAGS = *//p' "$BLD/Makefile")" ]; then
	skip "a sanitizer build: the package (built without sanitizers) is tested by the plain build"
fi
command -v socat >/dev/null || skip "socat missing (apt-get install socat)"

# Everything below in a private mount namespace: its mounts die with it.
if [ -z "${XSOCK_PKG_IN_NS:-}" ]; then
	exec unshare -m --propagation private env XSOCK_PKG_IN_NS=1 bash "$0" "$@"
fi

T0=$(date +%s)
WORK=$(mktemp -d /tmp/xsock-pkg-XXXXXX)
R=$WORK/root
NS1="xspkg$$-1" NS2="xspkg$$-2"
SRV=""
cleanup() {
	[ -n "$SRV" ] && kill -9 "$SRV" 2>/dev/null
	ip netns del "$NS1" 2>/dev/null
	ip netns del "$NS2" 2>/dev/null
	wait 2>/dev/null
	umount -R "$R" 2>/dev/null
	umount -R "$WORK/layers" 2>/dev/null
	# Never remove through a mount (the throw-away root binds /dev nodes).
	if findmnt -rn -o TARGET | grep -q "^$WORK"; then
		say "left $WORK in place: still mounted"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# ---- 1. build the packages from a copy of the tree ------------------------------
mkdir "$WORK/src"
if git -c safe.directory='*' -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
	# Tracked and new files, with their uncommitted changes; no build output.
	(cd "$SRC" && git -c safe.directory='*' ls-files -z -co --exclude-standard |
		tar -cf - --null -T -) | tar -xf - -C "$WORK/src" || fail "copying the tree"
else
	tar -C "$SRC" --exclude='./build*' --exclude=./debian/build --exclude=./.git -cf - . |
		tar -xf - -C "$WORK/src" || fail "copying the tree"
fi
[ -d "$WORK/src/debian" ] || fail "no debian/ directory in $SRC"
VERSION=$(sed -n 's/^AC_INIT(\[xsock\], *\[\([^]]*\)\].*/\1/p' "$SRC/configure.ac")
ARCH=$(dpkg --print-architecture)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
[ -n "$VERSION" ] && [ -n "$MA" ] || fail "cannot tell the version ('$VERSION') or multiarch ('$MA')"
say "building xsock $VERSION with dpkg-buildpackage -us -uc -b (log: build.log)"
if ! (cd "$WORK/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	nice dpkg-buildpackage -us -uc -b >"$WORK/build.log" 2>&1); then
	tail -40 "$WORK/build.log"
	fail "dpkg-buildpackage -us -uc -b failed"
fi
DEB=$WORK/xsock_${VERSION}_$ARCH.deb
DEV=$WORK/xsock-dev_${VERSION}_$ARCH.deb
[ -f "$DEB" ] && [ -f "$DEV" ] || fail "no $(basename "$DEB") and $(basename "$DEV"): $(ls "$WORK")"
say "built in $(($(date +%s) - T0)) s: $(cd "$WORK" && ls ./*.deb | tr '\n' ' ')"

# ---- 2. what the packages hold ------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$WORK/files"
dpkg-deb -c "$DEV" | awk '{print $6}' | sed 's|^\./|/|' >"$WORK/devfiles"
for f in /usr/lib/$MA/libxsock_preload.so /usr/bin/xsock /usr/sbin/xsockctl \
	/usr/share/man/man1/xsock.1.gz /usr/share/man/man7/xsock.7.gz \
	/usr/share/man/man8/xsockctl.8.gz /lib/systemd/system/xsock-peers.service \
	/lib/systemd/system/xsock-discover.service /etc/xsock/peers /usr/share/doc/xsock/copyright; do
	grep -qx "$f" "$WORK/files" || fail "xsock package lacks $f"
done
for f in /usr/include/xsock/ring.h /usr/include/xsock/store.h /usr/include/xsock/status.h \
	/usr/lib/$MA/pkgconfig/xsock.pc; do
	grep -qx "$f" "$WORK/devfiles" || fail "xsock-dev package lacks $f"
done
grep -E '\.la$|xsock-(ring|conn)bench' "$WORK/files" && fail "xsock ships build leftovers"
dpkg-deb -f "$DEB" Depends | grep -q libxenstore || fail "xsock does not depend on libxenstore"
if command -v lintian >/dev/null; then
	lintian --fail-on error,warning "$WORK"/xsock_"${VERSION}"_"$ARCH".changes \
		>"$WORK/lintian.log" 2>&1 || { cat "$WORK/lintian.log"; fail "lintian"; }
	say "lintian: no errors or warnings"
else
	say "lintian not installed: not run"
fi

# ---- 3. a throw-away root: this system's /usr, /etc, /var under tmpfs overlays ----------
mkdir -p "$R" "$WORK/layers"
mount -t tmpfs -o mode=0755 xsock-pkg-root "$R" || fail "mount tmpfs"
mount -t tmpfs xsock-pkg-layers "$WORK/layers" || fail "mount tmpfs"
for d in usr etc var; do
	mkdir -p "$R/$d" "$WORK/layers/up/$d" "$WORK/layers/wk/$d"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$WORK/layers/up/$d,workdir=$WORK/layers/wk/$d" \
		"$R/$d" || skip "cannot mount an overlay of /$d"
done
for d in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$d" ]; then
		ln -s "$(readlink "/$d")" "$R/$d"
	elif [ -d "/$d" ]; then
		mkdir -p "$R/$d" "$WORK/layers/up/$d" "$WORK/layers/wk/$d"
		mount -t overlay overlay \
			-o "lowerdir=/$d,upperdir=$WORK/layers/up/$d,workdir=$WORK/layers/wk/$d" \
			"$R/$d" || fail "overlay of /$d"
	fi
done
mkdir -p "$R/dev" "$R/proc" "$R/tmp" "$R/run" "$R/root" "$R/pkgs"
chmod 1777 "$R/tmp"
for n in null zero full random urandom; do
	touch "$R/dev/$n" && mount --bind "/dev/$n" "$R/dev/$n" || fail "bind /dev/$n"
done
mount -t proc proc "$R/proc" || fail "mount proc"
cp "$DEB" "$DEV" "$R/pkgs/"
# No man-db index rebuild (minutes on a full system) in the trigger.
rm -f "$R/var/lib/man-db/auto-update"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
in_root() { chroot "$R" env -u LD_PRELOAD -u XSOCK_PRELOAD_LIB -u XSOCK_PEERS_FILE "$@"; }

# ---- 4. dpkg -i ---------------------------------------------------------------------------
in_root dpkg -i "/pkgs/$(basename "$DEB")" "/pkgs/$(basename "$DEV")" >"$WORK/install.log" 2>&1 ||
	{ cat "$WORK/install.log"; fail "dpkg -i"; }
grep -i 'warning\|error' "$WORK/install.log" && fail "dpkg -i printed warnings"
for p in xsock xsock-dev; do
	[ "$(in_root dpkg-query -W -f '${Status}' "$p")" = "install ok installed" ] ||
		fail "$p is not installed after dpkg -i"
done
for u in xsock-peers xsock-discover; do
	[ -L "$R/etc/systemd/system/multi-user.target.wants/$u.service" ] ||
		fail "$u.service is not enabled"
done
grep -qx 'ConditionPathExists=/etc/xsock/policy' "$R/lib/systemd/system/xsock-discover.service" ||
	fail "xsock-discover.service would run without a policy"
# Who may use rings: the group, the udev rule for the Xen devices, the
# local directory's tmpfiles entry (xsock(7), "Who may use rings").
in_root getent group xsock >/dev/null || fail "dpkg -i made no xsock group"
for f in /usr/lib/udev/rules.d/90-xsock.rules /usr/lib/tmpfiles.d/xsock.conf; do
	[ -s "$R$f" ] || fail "$f is not installed"
done
say "group xsock, udev rule and tmpfiles entry installed"
# By name, as the README says; and the wrapper's built-in path.
in_root env LD_PRELOAD=libxsock_preload.so cat /proc/self/maps >"$WORK/maps" 2>"$WORK/err"
grep -q "/usr/lib/$MA/libxsock_preload.so" "$WORK/maps" && [ ! -s "$WORK/err" ] ||
	fail "LD_PRELOAD=libxsock_preload.so does not load the installed library: $(cat "$WORK/err")"
in_root xsock --help | grep -qF "/usr/lib/$MA/libxsock_preload.so" ||
	fail "the installed xsock does not name /usr/lib/$MA/libxsock_preload.so"
in_root xsock cat /proc/self/maps | grep -q "/usr/lib/$MA/libxsock_preload.so" ||
	fail "the installed xsock does not preload the installed library"
in_root xsockctl --version | grep -qF "$VERSION" || fail "xsockctl --version"
if [ -x "$R/usr/bin/cc" ] && [ -x "$R/usr/bin/pkg-config" ]; then
	in_root sh -c 'printf "#include <xsock/ring.h>\n#include <xsock/store.h>\n#include <xsock/status.h>\n" |
		cc $(pkg-config --cflags xsock) -std=c11 -Wall -Werror -fsyntax-only -x c -' ||
		fail "the installed headers do not compile through pkg-config"
fi

# ---- 5. persistent peers and the main job, from the installed paths only ------------------
LD=$(mktemp -d "$R/tmp/xsock-local-XXXXXX")
LOCAL=/tmp/${LD##*/}
ENV1="XSOCK_BACKEND=local XSOCK_LOCAL_DIR=$LOCAL XSOCK_DOMID=1"
ENV2="XSOCK_BACKEND=local XSOCK_LOCAL_DIR=$LOCAL XSOCK_DOMID=2"
# shellcheck disable=SC2086
in_root env $ENV1 xsockctl peer add --save 10.77.0.2 2 || fail "peer add --save in domain 1"
grep -q '^10\.77\.0\.2 2$' "$R/etc/xsock/peers" || fail "peer add --save did not write /etc/xsock/peers"
# shellcheck disable=SC2086
in_root env $ENV1 xsockctl peer del 10.77.0.2 || fail "peer del in domain 1"
# The boot: what xsock-peers.service runs, with its environment file.
exec_start=$(sed -n 's/^ExecStart=//p' "$R/lib/systemd/system/xsock-peers.service")
[ -n "$exec_start" ] || fail "no ExecStart in xsock-peers.service"
printf 'XSOCK_BACKEND=local\nXSOCK_LOCAL_DIR=%s\nXSOCK_DOMID=1\n' "$LOCAL" >"$R/etc/default/xsock"
in_root sh -c "set -a; . /etc/default/xsock; exec $exec_start" >"$WORK/load.out" 2>&1 ||
	fail "xsock-peers.service's '$exec_start' failed: $(cat "$WORK/load.out")"
rm -f "$R/etc/default/xsock"
# Domain 0's discovery, as xsock-discover.service runs it (one pass).
exec_start=$(sed -n 's/^ExecStart=//p' "$R/lib/systemd/system/xsock-discover.service")
[ -n "$exec_start" ] || fail "no ExecStart in xsock-discover.service"
printf 'allow web* db\n' >"$R/etc/xsock/policy"
in_root env XSOCK_BACKEND=local XSOCK_LOCAL_DIR="$LOCAL" XSOCK_DOMID=0 $exec_start --once \
	>"$WORK/discover.out" 2>&1 ||
	fail "xsock-discover.service's '$exec_start --once' failed: $(cat "$WORK/discover.out")"
rm -f "$R/etc/xsock/policy"
# shellcheck disable=SC2086
in_root env $ENV1 xsockctl peer list | grep -q '^10\.77\.0\.2  *2  *-  *up$' ||
	fail "the registry of domain 1 after the boot load: $(in_root env $ENV1 xsockctl peer list)"
# shellcheck disable=SC2086
in_root env $ENV2 XSOCK_PEERS_FILE=/tmp/peers.2 xsockctl peer add --save 10.77.0.1 1 ||
	fail "peer add in domain 2"

ip netns add "$NS1" && ip netns add "$NS2" || fail "ip netns add"
ip -n "$NS1" link set lo up
ip -n "$NS2" link set lo up
head -c 16M /dev/urandom >"$R/tmp/in"
# shellcheck disable=SC2086
ip netns exec "$NS2" chroot "$R" env -u LD_PRELOAD $ENV2 XSOCK_FALLBACK=0 \
	xsock socat -u TCP-LISTEN:7000,reuseaddr OPEN:/tmp/out,creat,trunc &
SRV=$!
n=0
while [ ! -d "$LD/store/local/domain/2/data/xsock/listen/7000" ]; do
	n=$((n + 1))
	[ $n -gt 200 ] && fail "no ring listener in domain 2 after 10 s"
	sleep 0.05
done
# shellcheck disable=SC2086
ip netns exec "$NS1" chroot "$R" env -u LD_PRELOAD $ENV1 XSOCK_FALLBACK=0 \
	xsock socat -u OPEN:/tmp/in TCP:10.77.0.2:7000 || fail "client: xsock socat in domain 1"
wait "$SRV" || fail "server: xsock socat in domain 2"
SRV=""
cmp -s "$R/tmp/in" "$R/tmp/out" || fail "16 MiB through the installed xsock arrived damaged"
say "16 MiB socat -> socat across two domains through the installed xsock, no fallback"

# ---- 6. dpkg -r, dpkg -P --------------------------------------------------------------------
in_root dpkg -r xsock-dev xsock >"$WORK/remove.log" 2>&1 || { cat "$WORK/remove.log"; fail "dpkg -r"; }
grep -i 'warning\|error' "$WORK/remove.log" && fail "dpkg -r printed warnings"
for f in /usr/bin/xsock /usr/sbin/xsockctl "/usr/lib/$MA/libxsock_preload.so" \
	/usr/include/xsock "/usr/lib/$MA/pkgconfig/xsock.pc" /lib/systemd/system/xsock-peers.service \
	/usr/share/man/man1/xsock.1.gz; do
	[ -e "$R$f" ] && fail "$f is still there after dpkg -r"
done
grep -q '^10\.77\.0\.2 2$' "$R/etc/xsock/peers" || fail "dpkg -r did not keep the edited /etc/xsock/peers"
in_root dpkg -P xsock >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log"; fail "dpkg -P"; }
grep -i 'warning\|error' "$WORK/purge.log" && fail "dpkg -P printed warnings"
[ -e "$R/etc/xsock" ] && fail "/etc/xsock is still there after dpkg -P: $(ls -la "$R/etc/xsock")"
for u in xsock-peers xsock-discover; do
	[ -e "$R/etc/systemd/system/multi-user.target.wants/$u.service" ] &&
		fail "the $u.service link is still there after dpkg -P"
done
in_root dpkg-query -W -f '${Status}' xsock 2>/dev/null | grep -qx 'install ok installed' &&
	fail "xsock is still known to dpkg after dpkg -P"
say "PASS: built, lintian, dpkg -i, preload by name, wrapper, peers file loaded at boot, main job, dpkg -r/-P clean, in $(($(date +%s) - T0)) s"
exit 0
