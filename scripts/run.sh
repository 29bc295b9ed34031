#!/usr/bin/env bash
# The main job: set up, build, and run the local sandbox, `constra serve`,
# in the foreground on http://127.0.0.1:8000 with the database constra.db
# (Ctrl-C stops it cleanly). Extra arguments go to `constra serve`, e.g.
#   bash scripts/run.sh --db :memory: --port 8080
# The key comes from CONSTRA_SECRET_KEY, else a fresh one is printed.
# The in-process walk-through stays runnable on its own:
#   ./build/examples/quickstart
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build >/dev/null
./build/tools/constra/constra version
if ! ./build/tools/constra/constra help serve >/dev/null 2>&1; then
  echo "run.sh: this build has no 'constra serve' (libmicrohttpd missing?)" >&2
  exit 1
fi
exec ./build/tools/constra/constra serve --port 8000 --db constra.db "$@"
