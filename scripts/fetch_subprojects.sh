#!/usr/bin/env bash
# Fetches Debian's source packages of cJSON and mbedTLS (with Debian's
# patches applied) into subprojects/packagecache/, and lays out the cross
# builds' meson subprojects from them: subprojects/libcjson/ and
# subprojects/mbedcrypto/ are copies of the unpacked sources plus the
# project's own build files from subprojects/packagefiles/. Only Debian's
# own archive is contacted: a deb-src entry is added beside the system's
# deb entry (same URIs and suites), then `apt-get source`. Nothing fetched
# is committed (.gitignore).
# Host builds do not use any of this: they link the system packages.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=${SUDO-}
if [ -z "$sudo" ] && [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi

cache=subprojects/packagecache
mkdir -p "$cache"
have() { ls -d "$cache"/"$1"-[0-9]*/ >/dev/null 2>&1; }
if ! { have cjson && have mbedtls; }; then

src_list=/etc/apt/sources.list.d/constra-deb-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && \
   ! grep -qs '^deb-src' /etc/apt/sources.list; then
  sys=/etc/apt/sources.list.d/debian.sources
  if [ ! -f "$sys" ]; then
    echo "fetch_subprojects: no $sys to copy a deb-src entry from" >&2; exit 1
  fi
  echo "fetch_subprojects: adding $src_list (deb-src of $sys)"
  sed 's/^Types:.*/Types: deb-src/' "$sys" | $sudo tee "$src_list" >/dev/null
  $sudo apt-get update -qq
fi
# apt-get source runs as the invoking user and needs no root.
(cd "$cache" && apt-get source -qq cjson mbedtls >/dev/null 2>&1 || \
   { cd - >/dev/null; $sudo apt-get update -qq; cd "$cache"; apt-get source -qq cjson mbedtls; })
fi

# subprojects/<name>: the Debian sources plus our build files (refreshed
# every run, so a changed build file takes effect).
layout() { # subproject debian-package files...
  local name=$1 pkg=$2; shift 2
  local src; src=$(ls -d "$cache"/"$pkg"-[0-9]*/ | head -n1)
  rm -rf "subprojects/$name"
  mkdir -p "subprojects/$name"
  for f in "$@"; do
    mkdir -p "subprojects/$name/$(dirname "$f")"
    cp -a "$src/$f" "subprojects/$name/$f"
  done
  cp -a "subprojects/packagefiles/$name/." "subprojects/$name/"
}
layout libcjson cjson cJSON.c cJSON.h LICENSE
mkdir -p subprojects/libcjson/include/cjson
cp subprojects/libcjson/cJSON.h subprojects/libcjson/include/cjson/cJSON.h
layout mbedcrypto mbedtls library/sha256.c library/platform_util.c library/common.h include LICENSE
echo "fetch_subprojects: subprojects/libcjson ($(ls -d "$cache"/cjson-[0-9]*/ | xargs basename))," \
  "subprojects/mbedcrypto ($(ls -d "$cache"/mbedtls-[0-9]*/ | xargs basename))"
