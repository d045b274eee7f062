#!/usr/bin/env bash
# Installs the Debian packages Cairn builds and tests with. Idempotent: installs only what is
# missing, so it is cheap to run before every build. Used by scripts/run-server.sh and
# scripts/test.sh (the README's two commands) and therefore by CI.
#
# clang and libclang-rt-14-dev are there for libFuzzer (fuzz/), which GCC does not have; openssl
# (the command) makes the throwaway certificate authority the TLS tests trust; postgresql is the
# server the tests start a throwaway cluster of (cairnd itself needs only libpq); nodejs and npm run
# the JavaScript peers of the interop tests (tests/js: yjs, installed into build/js) and bundle the
# demo editor (demo/editor); chromium is the browser its test drives, headless; zlib1g-dev lets
# the CRDT benchmark read the gzipped editing trace (bench/data).

set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git clang-format
  clang libclang-rt-14-dev

  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev sqlite3 libssl-dev libpq-dev postgresql
  libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  curl ccache
  openssl chromium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# Node and npm may come from elsewhere than Debian (NodeSource's nodejs bundles npm): the
# commands are what counts.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
