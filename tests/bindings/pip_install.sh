#!/usr/bin/env bash
# `pip install <bindings/python>` with no index (offline) into a scratch
# directory, then imports the installed copy and uses it. TAP output.
set -u
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "1..2"
if python3 -m pip install --no-index --no-cache-dir --disable-pip-version-check \
     --target "$tmp/site" "$src" >"$tmp/pip.log" 2>&1; then
  echo "ok 1 - pip install --no-index of bindings/python"
else
  echo "not ok 1 - pip install --no-index of bindings/python"
  sed 's/^/# /' "$tmp/pip.log"
  echo "not ok 2 - import the installed package # not installed"
  exit 1
fi
cd "$tmp" || exit 1
if PYTHONPATH="$tmp/site" python3 -c '
import constra, os, sys
assert constra.__file__.startswith(sys.argv[1]), constra.__file__
assert constra.normalize_phone("0712 345 678") == "254712345678"
with constra.Client() as c:
    assert c.create(10, idempotency_key="pip", phone_number="0712345678")["status"] == "pending_user_action"
' "$tmp/site" 2>"$tmp/import.log"; then
  echo "ok 2 - the installed package imports and runs"
else
  echo "not ok 2 - the installed package imports and runs"
  sed 's/^/# /' "$tmp/import.log"
  exit 1
fi
