// Sync over HTTP: how long draining the outbox takes (100 and 100,000 pending changes) with
// one sync_once through a real cairnd on loopback. (The latency from a commit on one device to
// another, polling and by push, and the drain over the live channel: bench/live_bench.)
//
//   build/release/bench/sync_bench [--large N] [--durability full|normal]   (full by default)
//
// Targets (issue 5): 100 pending in < 50 ms (the roadmap asks < 10 s), 100,000 in < 10 s.
#include <cstring>
#include <iostream>

#include "bench_support.hpp"
#include "support/cairnd.hpp"

namespace cairn::bench {
namespace {
using namespace std::chrono_literals;

DatabaseOptions app() {
  DatabaseOptions options;
  options.stores = {{"journal", 1, MergePolicy::whole_entry()}};
  options.limits.max_store_bytes = std::size_t{1} << 31;
  return options;
}

// Drains `count` pending journal puts with one sync; returns milliseconds.
double drain(const std::string& server, const std::filesystem::path& path, std::size_t count) {
  Database db = Database::open(path, app());
  SyncOptions options;
  options.server = server;
  SyncClient::sync_once(db, options);  // the guest and the first (empty) pull, not timed
  fill_journal(db, count, 3);
  const auto start = Stopwatch::now();
  const SyncReport report = SyncClient::sync_once(db, options);
  const double ms = ms_since(start);
  if (report.acknowledged != count || db.pending_count() != 0) {
    std::cerr << "drain incomplete: " << report.acknowledged << " of " << count << '\n';
  }
  return ms;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) {
  using namespace cairn;
  using namespace cairn::bench;
  std::size_t large = 100'000;
  std::string durability = "full";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--durability") == 0) durability = argv[i + 1];
    if (std::strcmp(argv[i], "--large") == 0) large = std::stoul(argv[i + 1]);
  }
  ScratchDir dir;
  test::Cairnd cairnd(dir.path() / "server", {"--rate-limit", "0", "--durability", durability});
  std::printf("cairnd --durability %s\n\n", durability.c_str());
  const std::string server = "http://127.0.0.1:" + std::to_string(cairnd.port());

  std::vector<double> small;
  for (int run = 0; run < 5; ++run) {
    small.push_back(drain(server, dir.path() / ("small" + std::to_string(run) + ".db"), 100));
  }
  const double big = drain(server, dir.path() / "large.db", large);

  std::printf("drain 100 pending changes (median of 5)   %8.1f ms\n", median(small));
  std::printf("drain %zu pending changes              %8.1f ms  (%.0f changes/s)\n", large, big,
              large / (big / 1000));
  std::cout << "\nreproduce: build/release/bench/sync_bench --large " << large << " --durability "
            << durability << '\n';
  return 0;
}
