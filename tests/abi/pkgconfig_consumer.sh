#!/usr/bin/env bash
# Installs the built library into a scratch DESTDIR and builds the
# pkgconfig/ consumer against it with nothing but pkg-config and make:
# once against the shared library, once against the static one (from a
# copy of the install with the .so files removed, as a static-only
# install would be). Both binaries must run.
set -u
. "$(dirname "$0")/tap.sh"
build=$1 src=$2 sanitize=${3:-none}
# A sanitized library needs a sanitized consumer (the runtime comes with it).
if [ "$sanitize" != none ]; then export CFLAGS="-O1 -g -Wall -Wextra -Werror -fsanitize=$sanitize"; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$tap_log"' EXIT

check "meson install --destdir" meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet
pc=$(find "$tmp/root" -name constra.pc | head -n1)
if [ -n "$pc" ]; then ok "constra.pc installed"; else not_ok "constra.pc installed"; tap_done; exit; fi
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
cp -r "$src/pkgconfig" "$tmp/work"
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$tmp/root

check "pkg-config knows constra $(pkg-config --modversion constra 2>/dev/null)" pkg-config --exists constra
check "make shared" make -C "$tmp/work" shared
check "shared consumer links libconstra.so.0" sh -c "readelf -d '$tmp/work/consumer-shared' | grep -q 'NEEDED.*libconstra.so.0'"
check "shared consumer runs" env LD_LIBRARY_PATH="$libdir" "$tmp/work/consumer-shared"

cp -a "$tmp/root" "$tmp/static-root"
rm -f "$tmp/static-root${libdir#$tmp/root}"/libconstra.so*
export PKG_CONFIG_PATH=$tmp/static-root${pcdir#$tmp/root} PKG_CONFIG_SYSROOT_DIR=$tmp/static-root
check "make static" make -C "$tmp/work" static
check "static consumer does not need libconstra.so" sh -c "! readelf -d '$tmp/work/consumer-static' | grep -q 'libconstra'"
check "static consumer runs" "$tmp/work/consumer-static"
tap_done
