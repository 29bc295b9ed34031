#!/usr/bin/env bash
# The constra command: version comes from the loaded library, help lists
# the commands, misuse exits 2.
set -u
. "$(dirname "$0")/../abi/tap.sh"
cli=$1 version=$2

out=$("$cli" version 2>&1); rc=$?
if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -qx "libconstra $version"; then ok "constra version prints libconstra $version"
else not_ok "constra version: rc=$rc out=$out"; fi
out=$("$cli" version --json); rc=$?
if [ $rc -eq 0 ] && printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["version"]==sys.argv[1]' "$version"; then ok "constra version --json"
else not_ok "constra version --json: $out"; fi
out=$("$cli" --version); [ "$out" = "$("$cli" version)" ] && ok "--version is version" || not_ok "--version"

# The version is the library's: the binary links libconstra.so.0 and does
# not carry the version text itself. (-F: as a regex '0.1.0' would also
# match the embedded dashboard's SVG path '0 1 0'.)
if readelf -d "$cli" | grep -q 'NEEDED.*libconstra.so.0'; then ok "constra links libconstra.so.0"; else not_ok "constra links libconstra.so.0"; fi
if ! grep -aqF "$version" "$cli"; then ok "constra binary embeds no version string of its own"; else not_ok "constra binary embeds '$version'"; fi

out=$("$cli" help); rc=$?
if [ $rc -eq 0 ] && printf '%s' "$out" | grep -q '^  version' && printf '%s' "$out" | grep -q '^  help'; then ok "constra help lists version and help"
else not_ok "constra help: rc=$rc"; fi
"$cli" help version | grep -q 'usage: constra version' && ok "constra help version" || not_ok "constra help version"
"$cli" --help >/dev/null && ok "constra --help exits 0" || not_ok "constra --help"

expect_usage() { # args...
  "$cli" "$@" >/dev/null 2>"$tap_log"; local rc=$?
  if [ $rc -eq 2 ] && [ -s "$tap_log" ]; then ok "constra $* exits 2 with a message"; else not_ok "constra $*: rc=$rc"; fi
}
expect_usage
expect_usage no-such-command
expect_usage version --bogus
expect_usage help no-such-command
expect_usage help a b
tap_done
