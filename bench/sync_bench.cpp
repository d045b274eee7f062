// Sync: how long draining the outbox takes (100 and 100,000 pending changes) through a real
// cairnd on loopback, and the end-to-end latency from a commit on device A to the change being
// visible on device B (B polls: real-time push comes later).
//
//   build/release/bench/sync_bench [--large N] [--latency-trials N] [--poll-ms N]
//                                  [--durability full|normal]   (cairnd's; full by default)
//
// Targets (issue 5): 100 pending in < 50 ms (the roadmap asks < 10 s), 100,000 in < 10 s.
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>

#include "bench_support.hpp"
#include "support/api_client.hpp"
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
  int trials = 100;
  int poll_ms = 20;
  std::string durability = "full";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--durability") == 0) durability = argv[i + 1];
    if (std::strcmp(argv[i], "--large") == 0) large = std::stoul(argv[i + 1]);
    if (std::strcmp(argv[i], "--latency-trials") == 0) trials = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--poll-ms") == 0) poll_ms = std::stoi(argv[i + 1]);
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

  // Latency: A commits and its SyncClient pushes at once; B, a second device of the same user,
  // polls every poll_ms and hears the change arrive.
  test::ApiClient user = test::ApiClient::guest(cairnd.port());
  SyncOptions a_options;
  a_options.server = server;
  a_options.token = user.token();
  a_options.debounce = 0ms;
  SyncOptions b_options = a_options;
  b_options.interval = std::chrono::milliseconds(poll_ms);
  Database a = Database::open(dir.path() / "a.db", app());
  Database b = Database::open(dir.path() / "b.db", app());
  SyncClient::sync_once(a, a_options);
  SyncClient::sync_once(b, b_options);
  std::mutex mutex;
  std::condition_variable seen;
  std::string last_seen;
  Subscription subscription = b.subscribe("journal", [&](const ChangeSet& changes) {
    std::lock_guard lock(mutex);
    for (const auto& change : changes.changes)
      last_seen = change.key;
    seen.notify_all();
  });
  std::vector<double> latencies;
  {
    SyncClient a_sync(a, a_options);
    SyncClient b_sync(b, b_options);
    for (int trial = 0; trial < trials; ++trial) {
      const std::string key = "latency/" + std::to_string(trial);
      const auto start = Stopwatch::now();
      a.put("journal", key, trial);
      std::unique_lock lock(mutex);
      if (!seen.wait_for(lock, 10s, [&] { return last_seen == key; })) {
        std::cerr << "trial " << trial << " never arrived\n";
        continue;
      }
      latencies.push_back(ms_since(start));
    }
  }
  std::printf("drain 100 pending changes (median of 5)   %8.1f ms\n", median(small));
  std::printf("drain %zu pending changes              %8.1f ms  (%.0f changes/s)\n", large, big,
              large / (big / 1000));
  std::printf(
      "commit on A -> visible on B, B polling every %d ms: p50 %.1f ms, p99 %.1f ms "
      "(%zu trials)\n",
      poll_ms, percentile(latencies, 0.5), percentile(latencies, 0.99), latencies.size());
  std::cout << "\nreproduce: build/release/bench/sync_bench --large " << large
            << " --latency-trials " << trials << " --poll-ms " << poll_ms << " --durability "
            << durability << '\n';
  return 0;
}
