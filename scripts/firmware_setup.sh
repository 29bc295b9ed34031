#!/usr/bin/env bash
# Installs the firmware toolchains and emulators (Debian 12 packages) and
# fetches the Debian source packages of cJSON and mbedTLS that the cross
# builds use as meson subprojects (scripts/fetch_subprojects.sh).
# Safe to run again: installs only what is missing. Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  gcc-arm-none-eabi libnewlib-arm-none-eabi picolibc-arm-none-eabi
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf
  # qemu-system-arm: mps2-an386; qemu-system-misc: qemu-system-riscv32
  qemu-system-arm qemu-system-misc
  # apt-get source unpacks with dpkg-source
  dpkg-dev
)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    if [ ${#missing[@]} -gt 0 ]; then
      echo "firmware setup: need root to install: ${missing[*]}" >&2; exit 1
    fi
  fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "firmware setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "firmware setup: all ${#packages[@]} packages present"
fi
SUDO="$sudo" bash scripts/fetch_subprojects.sh
