#!/usr/bin/env bash
# Fetches Debian's source packages of cJSON and mbedTLS (with Debian's
# patches applied) into subprojects/packagecache/, for the cross builds'
# meson subprojects (subprojects/libcjson.wrap, subprojects/mbedcrypto.wrap,
# whose build files are subprojects/packagefiles/*). Only Debian's own
# archive is contacted: a deb-src entry is added beside the system's deb
# entry (same URIs and suites), then `apt-get source`. Nothing fetched is
# committed (subprojects/packagecache/ is ignored by git).
# Host builds do not use any of this: they link the system packages.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=${SUDO-}
if [ -z "$sudo" ] && [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi

cache=subprojects/packagecache
mkdir -p "$cache"
have() { ls -d "$cache"/"$1"-[0-9]*/ >/dev/null 2>&1; }
if have cjson && have mbedtls; then
  echo "fetch_subprojects: sources present in $cache"
  exit 0
fi

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
# Meson's wraps want one fixed directory name per subproject.
for p in cjson mbedtls; do
  d=$(ls -d "$cache"/"$p"-[0-9]*/ | head -n1)
  ln -sfn "$(basename "$d")" "$cache/$p-src"
done
ls -d "$cache"/*-src
