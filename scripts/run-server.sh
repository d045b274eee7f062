#!/usr/bin/env bash
# The README's first command: installs what is missing, builds Release, and runs cairnd on
# 127.0.0.1:8787 with its SQLite data under ./var. Extra arguments go to cairnd (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target cairnd cairn_cli_tool
exec build/release/tools/cairnd --address 127.0.0.1 --port 8787 --data ./var "$@"
