#!/usr/bin/env bash
# The main job: set up, build, and run libconstra's command and the whole
# payment loop in-process (examples/quickstart) until constra serve exists.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build >/dev/null
./build/tools/constra/constra version
./build/examples/hello
./build/examples/quickstart
