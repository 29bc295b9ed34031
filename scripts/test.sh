#!/usr/bin/env bash
# The whole test suite: set up, then build and test three times: a normal
# build (crypto backend auto: OpenSSL when libcrypto is installed, as
# setup.sh makes sure), the same under AddressSanitizer +
# UndefinedBehaviorSanitizer, and a plain one on the other backend,
# mbedTLS (-Dcrypto=mbedtls, the firmware's); then the fuzz harnesses for a
# bounded time, and the firmware targets under QEMU (scripts/firmware.sh). Every build treats warnings as errors (scripts/build.sh).
# The PostgreSQL tests run on a throwaway cluster started here
# (scripts/pg_cluster.sh) and stopped on exit.
# Ends with the line "N passed, N failed" and exits non-zero if anything
# failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

# The Node binding's one dependency (koffi, pinned in package-lock.json).
# If this fails the Node tests fail too: they are never skipped.
status=0
echo "=== npm ci bindings/node"
npm ci --prefix bindings/node --no-audit --no-fund || status=1

# The browser test's npm packages, exactly as package-lock.json pins them
# (playwright-core only: it downloads no browser, it drives Debian's
# /usr/bin/chromium). Only the npm registry is contacted. Without them
# the browser test fails, so a failure here is counted there.
echo "=== npm ci tests/browser"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund \
  || echo "npm ci failed: the browser test will fail"

# One throwaway PostgreSQL cluster for every build's suite (the PostgreSQL
# record store and constra serve on it): its conninfo in CONSTRA_TEST_PG,
# which meson passes on to the tests, and a pg_ctl command for the test
# that stops and starts the server. Stopped and deleted on exit, however
# the script ends. Without it those tests fail: they are never skipped.
pg_dir=$(mktemp -d /tmp/constra-pg.XXXXXX)
trap 'bash scripts/pg_cluster.sh stop "$pg_dir" >/dev/null 2>&1 || true' EXIT
echo "=== PostgreSQL cluster in $pg_dir"
if pg_env=$(bash scripts/pg_cluster.sh start "$pg_dir"); then
  eval "$pg_env"
else
  echo "cannot start a PostgreSQL cluster: the PostgreSQL tests will fail"; status=1
fi

run_suite() { # build_dir [meson options...]
  local dir=$1; shift
  local start=$SECONDS
  echo "=== build $dir $*"
  if ! bash scripts/build.sh "$dir" "$@"; then
    echo "build $dir failed"; status=1; return
  fi
  rm -f "$dir/meson-logs/testlog.json"
  echo "=== test $dir"
  meson test -C "$dir" --print-errorlogs --no-rebuild || status=1
  echo "=== $dir: build and test took $((SECONDS - start)) s"
}

run_suite build
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false
# The second crypto backend: the whole suite once more, without sanitizers.
run_suite build-mbedtls -Dcrypto=mbedtls

# Checks that are not meson tests, each counted in the totals as one
# passed or failed check.
extra=()
check_step() { # name command...
  local name=$1; shift
  if "$@"; then extra+=("$name:ok"); else extra+=("$name:fail"); status=1; fi
}

# An optimised build must compile warning-free too (-O3 finds
# maybe-uninitialized cases that -O2 does not).
echo "=== release build"
check_step release-build bash scripts/build.sh build-release -Dbuildtype=release -Dtests=false

echo "=== fuzz"
check_step fuzz bash -c 'bash scripts/fuzz.sh "${CONSTRA_FUZZ_SECONDS:-20}" > build/fuzz.log 2>&1'
tail -n 12 build/fuzz.log

# The firmware targets (Cortex-M4F picolibc and newlib-nano, rv32imac
# picolibc): toolchains, cross builds, the `firmware` suite under QEMU and
# the size table. Each build directory's test log is counted below (a
# target that did not build counts as a failure).
echo "=== firmware"
bash scripts/firmware.sh || status=1

python3 scripts/test_totals.py build build-asan build-mbedtls \
  build-fw-cortex-m4f-picolibc build-fw-cortex-m4f-newlib-nano build-fw-rv32imac-picolibc \
  build-fw-cortex-m4f-picolibc-nodesc \
  --extra "${extra[@]}" || status=1
exit $status
