#!/usr/bin/env bash
# Builds the demo editor cairnd serves at /demo/editor (docs/collaboration.md): installs the npm
# packages demo/editor/package.json pins (its lock file) into build/demo, bundles
# demo/editor/editor.js with them (esbuild) and copies the page, into build/demo/dist. Then:
#   build/release/tools/cairnd --demo-dir build/demo/dist
# (scripts/run-server.sh does both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p build/demo/dist
cp demo/editor/package.json demo/editor/package-lock.json demo/editor/editor.js build/demo/
(cd build/demo && npm ci --no-audit --no-fund --loglevel=error)
# Bundled beside its node_modules, where esbuild resolves the imports.
build/demo/node_modules/.bin/esbuild build/demo/editor.js --bundle --format=esm \
  --target=es2022 --minify --log-level=warning --outfile=build/demo/dist/editor.js
cp demo/editor/index.html build/demo/dist/index.html
echo "demo editor built in build/demo/dist"
