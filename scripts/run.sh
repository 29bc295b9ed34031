#!/usr/bin/env bash
# The main job: set up, build, and run libconstra's command and example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build >/dev/null
./build/tools/constra/constra version
./build/examples/hello
