#!/usr/bin/env bash
# Configures (once) and builds a build directory. The project's own builds
# treat warnings as errors (-Dwerror=true; the meson default is off so that
# a distribution's newer compiler does not break a packaged build).
#   scripts/build.sh [BUILD_DIR] [meson setup options...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" --wrap-mode=nofallback -Dwerror=true "$@"
fi
ninja -C "$dir"
