#!/bin/bash
# Build the guest images of the real-Xen harness from the host's files.
#
#   mkimages.sh BUILD_DIR WORK_DIR
#
# Output in WORK_DIR: vmlinuz (the dom0 and domU kernel), domU.cpio (busybox,
# Xen store tools and libraries, vchan-socket-proxy, the project's build
# output, socat/ncat, the Xen kernel modules, netback/netfront/bridge) and dom0.cpio (domU.cpio + xl, xenstored, xenconsoled,
# xen-init-dom0 + the kernel and domU.cpio for xl create). Uncompressed: TCG
# decompresses slowly and QEMU/xl load any size quickly.
set -euo pipefail

BUILD_DIR=$(cd "$1" && pwd)
WORK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
SRC_TOP=$(cd "$HERE/../.." && pwd)
XENBIN=/usr/lib/xen-4.17/bin
# The network of scenario perf_vs_netfront: netback and the bridge (dom0),
# netfront (domUs); every image loads them all (unused ones cost nothing).
MODULES="xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc xen-netback xen-netfront bridge"

die() { echo "mkimages: $*" >&2; exit 1; }

# ---- the kernel: newest /boot/vmlinuz-* whose modules are installed ------------
KVER=
for k in $(ls /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
	v=${k#/boot/vmlinuz-}
	if [ -e "/lib/modules/$v/kernel/drivers/xen/xen-gntdev.ko" ] ||
	   [ -e "/lib/modules/$v/kernel/drivers/xen/xen-gntdev.ko.xz" ]; then
		KVER=$v
		break
	fi
done
[ -n "$KVER" ] || die "no /boot/vmlinuz-* with Xen modules in /lib/modules (install linux-image-amd64)"

rm -rf "$WORK/base" "$WORK/dom0"
mkdir -p "$WORK/base" "$WORK/dom0"
cp "/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
echo "$KVER" > "$WORK/kver"

# ---- helpers ------------------------------------------------------------------
is_elf() { [ -f "$1" ] && [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

# copy_file SRC ROOT [DEST]: copy (dereferenced) to ROOT/DEST (default: same path).
copy_file() {
	local dst="$2${3:-$1}"
	mkdir -p "$(dirname "$dst")"
	cp -L --preserve=mode "$1" "$dst"
}

# copy_deps ELF ROOT: the shared libraries ELF needs, at their host paths.
copy_deps() {
	local lib
	for lib in $(ldd "$1" 2>/dev/null | awk '/=>/ && $3 ~ /^\// { print $3 } /^[ \t]*\// { print $1 }'); do
		[ -e "$2$lib" ] || copy_file "$lib" "$2"
	done
}

# copy_prog SRC ROOT [DEST]: a program or library and its dependencies.
copy_prog() {
	copy_file "$1" "$2" "${3:-}"
	copy_deps "$1" "$2"
}

# ---- base image (what every domain gets) -------------------------------------------
B=$WORK/base
mkdir -p "$B"/{bin,sbin,usr/bin,usr/sbin,lib64,etc,proc,sys,dev,tmp,run,root,var/log,var/lib}
mkdir -p "$B"/opt/xsock/{bin,lib} "$B/xsock-harness"
cp /usr/bin/busybox "$B/bin/busybox"
for a in $(/usr/bin/busybox --list); do
	[ "$a" = busybox ] || ln -sf busybox "$B/bin/$a"
done
for f in /usr/bin/xenstore /usr/bin/xenstore-*; do
	is_elf "$f" && copy_prog "$f" "$B"
done
# Xen's own vchan tool (scenario xsock_vs_vchan) and its libraries
# (libxenvchan, libxenctrl, ...).
if [ -x "$XENBIN/vchan-socket-proxy" ]; then
	copy_prog "$XENBIN/vchan-socket-proxy" "$B"
else
	echo "mkimages: note: no $XENBIN/vchan-socket-proxy (xen-utils-4.17), not in the images" >&2
fi
for p in socat ncat; do
	f=$(command -v "$p" || true)
	if [ -n "$f" ]; then
		copy_prog "$f" "$B" "/usr/bin/$p"
	else
		echo "mkimages: note: host has no $p, not in the images" >&2
	fi
done
for l in /lib/x86_64-linux-gnu/libgcc_s.so.1; do	# pthread_cancel (xl, ...)
	[ -e "$l" ] && copy_file "$l" "$B"
done
# The Xen libraries the xen backend loads on its first open (dlopen, so
# ldd of our build files does not name them: src/platform/xen/xenlibs.c).
for l in libxengnttab.so.1 libxenevtchn.so.1 libxenstore.so.4; do
	copy_prog "/lib/x86_64-linux-gnu/$l" "$B"
done

# The project's build output. Programs linked against libtool convenience
# libraries are plain ELF files; a libtool wrapper script means .libs/.
add_build() {
	local rel=$1 dstdir=$2 f name
	f=$BUILD_DIR/$rel
	name=$(basename "$rel")
	if [ -f "$f" ] && ! is_elf "$f"; then
		for c in "$(dirname "$f")/.libs/$name" "$(dirname "$f")/.libs/lt-$name"; do
			is_elf "$c" && f=$c && break
		done
	fi
	is_elf "$f" || return 0
	copy_prog "$f" "$B" "/opt/xsock/$dstdir/$name"
	echo "$rel" >> "$WORK/build-files"
}
: > "$WORK/build-files"
add_build xsockctl bin
add_build tools/xsock-ringbench bin
add_build tools/xsock-connbench bin
add_build tests/xen/xsp-selftest bin
add_build tests/xen/xsock-forkpair bin
add_build tests/xen/xsock-pingpong bin
add_build .libs/libxsock_preload.so lib
for t in "$BUILD_DIR"/tests/unit/check_* "$BUILD_DIR"/tests/fuzz/fuzz_*; do
	[ -e "$t" ] || continue
	case $t in *.o|*.log|*.trs|*.c) continue ;; esac
	add_build "${t#$BUILD_DIR/}" bin
done
grep -q xsp-selftest "$WORK/build-files" || die "$BUILD_DIR/tests/xen/xsp-selftest missing: build first (make)"
# Test scripts of the source tree, for scenarios that want them.
mkdir -p "$B/opt/xsock/share"
for d in tests/integration tests/xen; do
	[ -d "$SRC_TOP/$d" ] && mkdir -p "$B/opt/xsock/share/$d" &&
		cp -r "$SRC_TOP/$d/." "$B/opt/xsock/share/$d/"
done
rm -f "$B/opt/xsock/share/tests/xen/"*.o

# Kernel modules, with their dependencies first.
: > "$B/xsock-harness/modules"
add_module() {
	local m=$1 path dep
	grep -qx "$m" "$WORK/mods-done" 2>/dev/null && return 0
	for dep in $(modinfo -k "$KVER" -F depends "$m" | tr ',' ' '); do
		add_module "$dep"
	done
	path=$(modinfo -k "$KVER" -n "$m") || die "module $m not found for $KVER"
	case $path in
	*.ko) copy_file "$path" "$B" ;;
	*.ko.xz) mkdir -p "$B$(dirname "$path")"; xz -dc "$path" > "$B${path%.xz}"; path=${path%.xz} ;;
	*.ko.zst) mkdir -p "$B$(dirname "$path")"; zstd -qdc "$path" > "$B${path%.zst}"; path=${path%.zst} ;;
	*) die "module $m: unexpected file $path" ;;
	esac
	echo "${path#/lib/modules/$KVER/}" >> "$B/xsock-harness/modules"
	echo "$m" >> "$WORK/mods-done"
}
rm -f "$WORK/mods-done"
for m in $MODULES; do
	add_module "$m"
done
# Debian 12 has merged /usr: make /lib/modules/<kver> visible where uname -r looks.
[ -d "$B/usr/lib/modules/$KVER" ] && ! [ -d "$B/lib/modules" ] &&
	mkdir -p "$B/lib" && ln -s ../usr/lib/modules "$B/lib/modules"

cp "$HERE/guest/init" "$B/init"
chmod 755 "$B/init"
cp "$HERE/guest/agent.sh" "$HERE/guest/dom0.sh" "$HERE/guest/domU.cfg" "$HERE/scenarios.sh" \
	"$HERE/scenarios-net.sh" "$HERE/guest/now" "$HERE/guest/vif-harness" "$B/xsock-harness/"
chmod 755 "$B/xsock-harness/now" "$B/xsock-harness/vif-harness"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$B/etc/passwd"
printf 'root:x:0:\n' > "$B/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$B/etc/hosts"
: > "$B/xsock-harness/harness.env"
for v in XSOCK_XEN_ONLY XSOCK_XEN_MB XSOCK_XEN_CYCLES XSOCK_XEN_VCHAN_MB XSOCK_XEN_VCHAN_LINGER \
	XSOCK_XEN_PERF_ROUNDS XSOCK_XEN_PERF_MB XSOCK_XEN_RTT_N XSOCK_DEBUG XSOCK_LOG; do
	[ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}" >> "$B/xsock-harness/harness.env"
done

(cd "$B" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) > "$WORK/domU.cpio"

# ---- dom0 extras: appended as a second cpio archive ------------------------------
D=$WORK/dom0
for p in xl xenstored xenconsoled xen-init-dom0 xenstore-control; do
	copy_prog "$XENBIN/$p" "$D"
done
# Skip libraries the base image already has.
(cd "$D" && find . -type f) | while read -r f; do
	[ -e "$B/${f#./}" ] && case $f in ./usr/lib/xen-4.17/*) ;; *) rm -f "$D/${f#./}" ;; esac
done
mkdir -p "$D/xsock-harness" "$D/etc/xen"
cp "$WORK/vmlinuz" "$D/xsock-harness/vmlinuz"
cp "$WORK/domU.cpio" "$D/xsock-harness/domU.cpio"
(cd "$D" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) > "$WORK/dom0-extra.cpio"
cat "$WORK/domU.cpio" "$WORK/dom0-extra.cpio" > "$WORK/dom0.cpio"
rm -f "$WORK/dom0-extra.cpio"

echo "mkimages: kernel $KVER; domU.cpio $(du -m "$WORK/domU.cpio" | cut -f1) MB," \
	"dom0.cpio $(du -m "$WORK/dom0.cpio" | cut -f1) MB;" \
	"build files: $(tr '\n' ' ' < "$WORK/build-files")"
