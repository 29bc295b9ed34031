#!/usr/bin/env bash
# The firmware targets (issue 16): installs the toolchains and QEMU
# (scripts/firmware_setup.sh, Debian packages) and fetches the Debian
# sources of cJSON and mbedTLS (scripts/fetch_subprojects.sh), then for
# each cross file in cross/ configures the firmware profile with warnings
# as errors, builds the library, the example and the test images, runs the
# `firmware` suite under QEMU (each test bounded by a time-out), and prints
# the size table (.text/.data/.bss per component after --gc-sections, for
# the pure image and the engine image) with the peak arena and stack.
# A fourth build, build-fw-cortex-m4f-picolibc-nodesc, is the Cortex-M4
# one with -Dresult_descriptions=false (codes and classes without the
# catalogue's texts), for the size of a small part.
#   scripts/firmware.sh [cross-file-name[-nodesc]...]   (default: all four)
# Each build directory build-fw-<name> keeps its meson test log, which
# scripts/test.sh counts in the closing totals. Exits non-zero if a build
# or a test failed.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
# No stale test log may be counted if anything below fails early.
rm -f build-fw-*/meson-logs/testlog.json
bash scripts/firmware_setup.sh || exit 1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(cortex-m4f-picolibc cortex-m4f-newlib-nano rv32imac-picolibc
           cortex-m4f-picolibc-nodesc)
fi
status=0
dirs=()
for t in "${targets[@]}"; do
  dir=build-fw-$t
  dirs+=("$dir")
  echo "=== firmware $t"
  rm -f "$dir/meson-logs/testlog.json"
  cross=${t%-nodesc}
  extra=()
  if [ "$cross" != "$t" ]; then extra=(-Dresult_descriptions=false); fi
  if [ ! -f "$dir/build.ninja" ]; then
    # The README's firmware profile, plus the example and the firmware
    # suite (its tests are QEMU images, not the host's cmocka programs).
    if ! meson setup "$dir" --cross-file "cross/$cross.txt" \
        -Dauto_features=disabled -Ddefault_library=static -Dtools=false \
        -Dexamples=true -Dtests=true -Dwerror=true -Dbuildtype=minsize "${extra[@]}"; then
      echo "firmware $t: configure failed"; status=1; continue
    fi
  fi
  if ! ninja -C "$dir" -j2; then
    echo "firmware $t: build failed"; status=1; continue
  fi
  meson test -C "$dir" --suite firmware --print-errorlogs --no-rebuild \
    --num-processes 2 --timeout-multiplier 1 || status=1
done

echo "=== firmware sizes (bytes; .text includes read-only data)"
python3 scripts/fw_check.py table "${dirs[@]}" || status=1
echo "=== firmware: $((SECONDS - start)) s"
exit $status
