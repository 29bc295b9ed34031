#!/usr/bin/env bash
# Configures (once) and builds a build directory.
#   scripts/build.sh [BUILD_DIR] [meson setup options...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" --wrap-mode=nofallback "$@"
fi
ninja -C "$dir"
