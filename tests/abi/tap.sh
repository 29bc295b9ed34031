# Sourced by the shell tests: minimal TAP output.
tap_n=0
tap_failed=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1)); echo "not ok $tap_n - $*"; }
check() { # check "description" command...
  local desc=$1; shift
  if "$@" >"$tap_log" 2>&1; then ok "$desc"; else not_ok "$desc"; sed 's/^/# /' "$tap_log"; fi
}
tap_done() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; }
tap_log=$(mktemp)
trap 'rm -f "$tap_log"' EXIT
