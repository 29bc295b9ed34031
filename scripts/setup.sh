#!/usr/bin/env bash
# Installs what building and testing libconstra needs on Debian 12, and
# nothing that is already there. Safe to run again. Needs root (or sudo).
set -euo pipefail

packages=(
  # toolchain
  gcc g++ make meson ninja-build pkg-config binutils python3
  # python3-venv: the test that pip-installs bindings/python into a fresh venv
  python3-venv
  # required libraries: cJSON and a crypto library; both crypto backends,
  # since scripts/test.sh builds each (-Dcrypto: auto takes OpenSSL's
  # libcrypto, the second build mbedTLS)
  libcjson-dev libssl-dev libmbedtls-dev
  # optional libraries (feature options, `auto`)
  libcurl4-openssl-dev libsqlite3-dev libmicrohttpd-dev libpq-dev
  # the PostgreSQL server: the record store's tests run on a throwaway
  # cluster (scripts/pg_cluster.sh)
  postgresql
  # tests: cmocka, and clang for the libFuzzer harnesses
  libcmocka-dev clang
  # the dashboard's browser test (tests/browser) drives Debian's Chromium
  chromium
)
# ...with Node.js and npm. Only when no `node` is installed: a machine may
# have Node from elsewhere (NodeSource's nodejs ships its own npm and
# conflicts with Debian's npm package).
if ! command -v node >/dev/null 2>&1; then
  packages+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "setup: need root to install: ${missing[*]}" >&2; exit 1
  fi
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
