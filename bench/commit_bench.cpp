// Commits: latency of single-put transactions (p50/p99) and throughput of batched puts, with
// journal-like entries, beside SQLite's own floor for the same shape of work is not separated
// here: the figures are Cairn's end-to-end (validation, HLC, outbox record, SQLite commit, memory).
//
//   build/release/bench/commit_bench [--puts N]
//
// Target (issue 2): single-put commit p50 < 0.2 ms with the default durability (WAL, NORMAL).
#include <cstring>
#include <iostream>

#include "bench_support.hpp"

int main(int argc, char** argv) {
  using namespace cairn;
  using namespace cairn::bench;
  int puts = 5000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--puts") == 0) puts = std::stoi(argv[i + 1]);
  }
  std::mt19937_64 random(7);
  std::printf("%-34s %10s %10s %10s\n", "commit", "p50 ms", "p99 ms", "puts/s");
  for (const Durability durability : {Durability::normal, Durability::full}) {
    ScratchDir dir;
    DatabaseOptions options;
    options.stores = {{"journal", 1, MergePolicy::whole_entry()}};
    options.durability = durability;
    Database db = Database::open(dir.path() / "bench.db", options);
    std::vector<double> latencies;
    const int n = durability == Durability::full ? std::min(puts, 500) : puts;
    const auto total_start = Stopwatch::now();
    for (int i = 0; i < n; ++i) {
      boost::json::value value = journal_entry(random, static_cast<std::size_t>(i));
      const auto start = Stopwatch::now();
      db.put("journal", journal_key(static_cast<std::size_t>(i)), std::move(value));
      latencies.push_back(ms_since(start));
    }
    const double seconds = ms_since(total_start) / 1000;
    std::printf("%-34s %10.3f %10.3f %10.0f\n",
                durability == Durability::normal ? "single put (WAL, synchronous=NORMAL)"
                                                 : "single put (WAL, synchronous=FULL)",
                percentile(latencies, 0.5), percentile(latencies, 0.99), n / seconds);
  }
  for (const int batch : {100, 1000}) {
    ScratchDir dir;
    DatabaseOptions options;
    options.stores = {{"journal", 1, MergePolicy::whole_entry()}};
    Database db = Database::open(dir.path() / "bench.db", options);
    const int total = std::max(puts * 20, batch * 10);
    const auto start = Stopwatch::now();
    std::vector<double> latencies;
    for (int i = 0; i < total; i += batch) {
      const auto txn_start = Stopwatch::now();
      Transaction txn = db.transaction();
      for (int k = i; k < i + batch; ++k) {
        txn.put("journal", journal_key(static_cast<std::size_t>(k)),
                journal_entry(random, static_cast<std::size_t>(k)));
      }
      txn.commit();
      latencies.push_back(ms_since(txn_start));
    }
    const double seconds = ms_since(start) / 1000;
    std::printf("%-34s %10.3f %10.3f %10.0f\n",
                ("batches of " + std::to_string(batch) + " puts").c_str(),
                percentile(latencies, 0.5), percentile(latencies, 0.99), total / seconds);
  }
  std::cout << "\nreproduce: build/release/bench/commit_bench --puts " << puts << '\n';
  return 0;
}
