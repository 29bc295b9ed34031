#!/usr/bin/env bash
# `pip install <bindings/python>` offline (--no-index: nothing is
# downloaded) into a fresh virtualenv, then, with CONSTRA_LIBRARY unset and
# from a directory outside the source tree, imports the installed copy and
# runs the quickstart loop of bindings/python/README.md with it. The wheel
# bundles this build's libconstra (CONSTRA_LIBRARY at build time): the
# installed package must load that copy, not a system or build-tree one.
# TAP output.
#   pip_install.sh BINDINGS_PYTHON_DIR
set -u
src=$1
lib=${CONSTRA_LIBRARY:?CONSTRA_LIBRARY must name the built libconstra.so.0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "1..5"
fail=0
step() { # n name command...
  local n=$1 name=$2; shift 2
  if "$@" >"$tmp/log" 2>&1; then echo "ok $n - $name"
  else echo "not ok $n - $name"; sed 's/^/# /' "$tmp/log"; fail=1; fi
}
step 1 "python3 -m venv (a fresh virtualenv with pip)" python3 -m venv "$tmp/venv"
py=$tmp/venv/bin/python
# A copy of the sources, as a fresh clone would have them: the build
# backend writes nothing into the tree it is given.
cp -r "$src" "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info
step 2 "pip install --no-index of bindings/python into the venv" \
  env CONSTRA_LIBRARY="$lib" "$py" -m pip install --no-index --no-cache-dir \
  --disable-pip-version-check "$tmp/src"
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])' 2>/dev/null)
step 3 "the wheel bundles libconstra.so.0 (constra/_lib/)" test -f "$site/constra/_lib/libconstra.so.0"
cd "$tmp" || exit 1
step 4 "the installed package loads its bundled library without CONSTRA_LIBRARY" \
  env -u CONSTRA_LIBRARY -u PYTHONPATH "$py" -c '
import constra, sys
site = sys.argv[1]
assert constra.__file__.startswith(site), constra.__file__
assert constra.library_path.startswith(site + "/constra/_lib/"), constra.library_path
assert constra.normalize_phone("0712 345 678") == "254712345678"
' "$site"
# The first Python block of the README, as a newcomer would paste it.
"$py" - "$src"/README.md >"$tmp/quickstart.py" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
print(re.search(r"```python\n(.*?)```", text, re.S).group(1))
PY
step 5 "the README quickstart runs with the installed package" \
  env -u CONSTRA_LIBRARY -u PYTHONPATH "$py" "$tmp/quickstart.py"
sed 's/^/# /' "$tmp/log"
exit $fail
