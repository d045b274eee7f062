// chaos_worker DB SERVER TOKEN NAME SEED STEPS — one device of the chaos test: opens its
// database, syncs in the background through the test's fault proxy, and runs its planned steps
// (resuming after the last one committed, if it was killed), then waits to be synced and exits.
// Prints "step N" after each commit.
#include <unistd.h>

#include <cairn/cairn.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "sync/chaos_plan.hpp"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc != 7) {
    std::fprintf(stderr, "usage: chaos_worker DB SERVER TOKEN NAME SEED STEPS\n");
    return 2;
  }
  const std::string name = argv[4];
  const std::uint64_t seed = std::stoull(argv[5]);
  const std::int64_t steps = std::stoll(argv[6]);
  cairn::Database db = cairn::Database::open(argv[1], cairn::test::chaos::stores());
  cairn::SyncOptions options;
  options.server = argv[2];
  options.token = argv[3];
  options.debounce = 2ms;
  options.backoff_base = 10ms;
  options.backoff_cap = 100ms;
  options.request_timeout = 500ms;
  options.jitter_seed = seed;
  cairn::SyncClient sync(db, options);

  const auto done = db.get("progress", name);
  std::mt19937_64 pause(seed);
  for (std::int64_t n = done ? done->as_int64() + 1 : 1; n <= steps; ++n) {
    cairn::Transaction txn = db.transaction();
    cairn::test::chaos::run(txn, name, seed, n);
    txn.commit();
    const std::string line = "step " + std::to_string(n) + "\n";
    if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(pause() % 4));
  }
  sync.wait_until_synced(5s);
  return 0;
}
