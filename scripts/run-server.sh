#!/usr/bin/env bash
# The README's first command: installs what is missing, builds Release and the demo editor, and
# runs cairnd on 127.0.0.1:8787 with its SQLite data under ./var (the demo at /demo/editor).
# Extra arguments go to cairnd (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target cairnd cairn_cli_tool
scripts/build-demo.sh
exec build/release/tools/cairnd --address 127.0.0.1 --port 8787 --data ./var \
  --demo-dir build/demo/dist "$@"
