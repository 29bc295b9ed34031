#!/usr/bin/env bash
# Runs every libFuzzer harness of tests/fuzz for SECONDS each (default 20).
#
#   bash scripts/fuzz.sh [SECONDS]
#
# Needs clang (libFuzzer, ASan, UBSan). Without it, says so and exits 0:
# the seed corpora still run as ordinary tests (meson test --suite
# fuzz-replay). Builds in build-fuzz (CC=clang, -Dfuzzing=true). New
# inputs go to build-fuzz/fuzz-corpus/<harness>/ (the seeds in
# tests/fuzz/corpus/ are read, never written); a crash leaves its input in
# build-fuzz/fuzz-artifacts/. Exits non-zero if any harness crashed, leaked,
# timed out or could not be built.
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
case $secs in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

if ! command -v clang > /dev/null 2>&1; then
  echo "fuzz: clang not found; skipping libFuzzer runs (the corpora still replay in the fuzz-replay suite)"
  exit 0
fi

dir=build-fuzz
if [ ! -f "$dir/build.ninja" ]; then
  CC=clang meson setup "$dir" -Dfuzzing=true -Dtests=false -Dexamples=false \
    -Dwerror=true --wrap-mode=nofallback > "$dir.setup.log" 2>&1 || {
    cat "$dir.setup.log"; rm -f "$dir.setup.log"; echo "fuzz: configure failed"; exit 1; }
  rm -f "$dir.setup.log"
fi

harnesses=$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
targets=""
for h in $harnesses; do targets="$targets tests/fuzz/$h"; done
# shellcheck disable=SC2086
if ! ninja -C "$dir" $targets > "$dir/fuzz-build.log" 2>&1; then
  tail -n 40 "$dir/fuzz-build.log"
  echo "fuzz: build failed"
  exit 1
fi

mkdir -p "$dir/fuzz-artifacts"
status=0 total=0
for h in $harnesses; do
  name=${h#fuzz_}
  work="$dir/fuzz-corpus/$name"
  log="$dir/fuzz-$name.log"
  mkdir -p "$work"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$dir/tests/fuzz/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -dict=tests/fuzz/json.dict -print_final_stats=1 \
    -artifact_prefix="$dir/fuzz-artifacts/$name-" "$work" "tests/fuzz/corpus/$name" \
    > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  total=$((total + ${execs:-0}))
  if [ $rc -eq 0 ]; then
    echo "fuzz $name: ok, ${execs:-?} execs in ${secs}s, ${cov:-cov: ?}"
  else
    echo "fuzz $name: FAILED (exit $rc) after ${execs:-?} execs; log $log"
    grep -E 'ERROR|SUMMARY|invariant|runtime error|Test unit written' "$log" | head -n 20
    status=1
  fi
done
echo "fuzz: $total execs in total; $( [ $status -eq 0 ] && echo 'no crash' || echo 'CRASHES FOUND')"
exit $status
