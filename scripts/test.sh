#!/usr/bin/env bash
# The README's second command, and what CI runs: installs what is missing, then builds and runs
# the whole suite several ways:
#   0. clang-format check of every C++ file (first: it takes seconds)
#   1. Release build, every test (ctest); the server's tests twice, on SQLite and on a throwaway
#      PostgreSQL cluster (scripts/postgres-test-cluster.sh); the CRDT's and the collaborative
#      documents' interop tests against Yjs and y-websocket under Node (npm packages pinned in
#      tests/js, installed into build/js); the demo editor (scripts/build-demo.sh) in headless
#      Chromium
#   2. one Clang build (AddressSanitizer, UndefinedBehaviorSanitizer, libFuzzer coverage on every
#      library): it proves the locking annotations (-Wthread-safety, as errors), runs every test
#      (ctest), then each libFuzzer target for CAIRN_FUZZ_SECONDS (20) from fuzz/corpus
#   3. ThreadSanitizer build of the concurrency stress test, the sync client's tests and the
#      server's in-process tests (handler pool, change feed, live channel, collaborative documents)
#   4. `cmake --install` of the Release build, examples/ built against the installed package, and
#      two sync example processes converging through the installed cairnd, then two releases of
#      the journal example (schema versions 1 and 2) syncing one dataset, and its graph store
#      refreshing from its manifest after the TTL
# Set CAIRN_TEST_QUICK=1 to run only step 1 (for a fast local loop).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)

scripts/install-deps.sh

# ccache, when the machine has it, makes rebuilds of unchanged files free (also from another
# clone of the tree: paths are taken relative to it).
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
fi

# Each step prints its name, and the time it took when the next one starts (or at the end).
step_name=""
step_started=$SECONDS
finish_step() {
  if [[ -n "$step_name" ]]; then
    printf '=== %s: %d s ===\n' "$step_name" $((SECONDS - step_started))
  fi
}
step() {
  finish_step
  step_name="$*"
  step_started=$SECONDS
  printf '\n=== %s ===\n' "$*"
}
trap 'finish_step; printf "=== total: %d s ===\n" $SECONDS' EXIT

# First, as it takes seconds: a formatting slip should not cost a full run.
step "clang-format"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp')
clang-format --dry-run -Werror "${sources[@]}"

step "Release build and tests, the server's on SQLite and on PostgreSQL, Yjs under Node"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build build/release
# The JavaScript peers (tests/js/package.json, versions pinned by its lock file), into build/js.
mkdir -p build/js
cp tests/js/package.json tests/js/package-lock.json build/js/
(cd build/js && npm ci --no-audit --no-fund --loglevel=error)
# The demo editor, for its test in headless Chromium.
scripts/build-demo.sh
# A throwaway PostgreSQL cluster for this pass only (the server's tests run on both backends:
# tests named postgresql/…); stopped and removed on the way out, also on failure.
pg_dir=$(mktemp -d /tmp/cairn-test-pg.XXXXXX)
stop_postgres() { scripts/postgres-test-cluster.sh stop "$pg_dir"; }
trap 'stop_postgres; finish_step; printf "=== total: %d s ===\n" $SECONDS' EXIT
pg_uri=$(scripts/postgres-test-cluster.sh start "$pg_dir")
CAIRN_TEST_POSTGRES=$pg_uri CAIRN_TEST_POSTGRES_DIR=$pg_dir \
  CAIRN_TEST_NODE_MODULES="$root/build/js/node_modules" CAIRN_TEST_DEMO_DIR="$root/build/demo/dist" \
  ctest --test-dir build/release --output-on-failure -j "$jobs"
stop_postgres
trap 'finish_step; printf "=== total: %d s ===\n" $SECONDS' EXIT

if [[ "${CAIRN_TEST_QUICK:-0}" == 1 ]]; then exit 0; fi

step "Clang build (ASan, UBSan, -Wthread-safety), every test, then fuzzing the decoders"
CC=clang CXX=clang++ cmake -S . -B build/clang -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCAIRN_FUZZ=ON -DCAIRN_BUILD_BENCH=OFF -DCAIRN_SANITIZE=address,undefined "${launcher[@]}" \
  >/dev/null
cmake --build build/clang
# The chaos and crash properties run fewer schedules here; the Release run does the full count.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  CAIRN_CHAOS_SCHEDULES=40 CAIRN_CRASH_TRIALS=20 CAIRN_SYNC_CRASH_TRIALS=20 \
  ctest --test-dir build/clang --output-on-failure -j "$jobs"
for fuzzer in sync_request sync_response live_message id_token ydoc_update ydoc_update_v2 ydoc_position \
  collab_message manifest; do
  mkdir -p "build/clang/corpus/$fuzzer"
  build/clang/fuzz/${fuzzer}_fuzzer "build/clang/corpus/$fuzzer" "fuzz/corpus/$fuzzer" \
    -max_total_time="${CAIRN_FUZZ_SECONDS:-20}" -max_len=4096 -print_final_stats=1 2>&1 | tail -3
done

step "ThreadSanitizer build of the concurrency, sync client, in-process server, live channel and collab tests"
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCAIRN_SANITIZE=thread -DCAIRN_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
cmake --build build/tsan --target concurrency_test sync_test sync_service_test live_test collab_test \
  manifest_test
for test in concurrency_test sync_test sync_service_test live_test collab_test manifest_test; do
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "build/tsan/tests/$test"
done

step "Install, then build examples/ against the installed package"
rm -rf build/install build/examples
cmake --install build/release --prefix build/install >/dev/null
cmake -S examples -B build/examples -G Ninja -DCMAKE_PREFIX_PATH="$root/build/install" >/dev/null
cmake --build build/examples
(cd build/examples && rm -rf journal-demo.db* && ./journal/journal_example journal-demo.db)
examples/sync/two-devices.sh "$root/build/install" "$root/build/examples/sync/sync_example"
examples/journal/two-versions.sh "$root/build/install" "$root/build/examples"
examples/journal/manifest.sh "$root/build/install" "$root/build/examples"

step "All checks passed"
