// Hydration: how long Database::open takes to bring a store of journal-like entries into memory,
// beside the floor measured in the same run on the same file: a raw SQLite SELECT of the same rows
// plus Boost.JSON parsing of each value into a vector. Both run with the file in the page cache.
//
//   build/release/bench/hydration_bench [--max-mb N] [--runs N]
//
// Targets (SPEC.md, issue 2): 100 KB < 2 ms, 10 MB < 100 ms, within 1.5x of the floor.
#include <cstring>
#include <iostream>

#include "bench_support.hpp"

namespace cairn::bench {
namespace {

DatabaseOptions bench_options() {
  DatabaseOptions options;
  options.stores = {{"journal", 1, MergePolicy::whole_entry()}};
  options.limits.max_store_bytes = std::size_t{1} << 31;
  return options;
}

// Writes entries until the store holds `bytes` of keys and values; returns the entry count.
std::size_t build(const std::filesystem::path& path, std::size_t bytes) {
  Database db = Database::open(path, bench_options());
  std::mt19937_64 random(42);
  std::size_t n = 0;
  while (db.store_info("journal").bytes < bytes) {
    Transaction txn = db.transaction();
    for (int i = 0; i < 5000 && n * 240 < bytes * 2; ++i, ++n) {
      txn.put("journal", journal_key(n), journal_entry(random, n));
      if (i > 0 && n * 240 >= bytes) break;
    }
    txn.commit();
  }
  return db.size("journal");
}

// Times the open (hydration) only; closing, which checkpoints the WAL, happens after.
std::size_t cairn_load(const std::filesystem::path& path, double* open_ms) {
  const auto start = Stopwatch::now();
  Database db = Database::open(path, bench_options());
  if (open_ms) *open_ms = ms_since(start);
  return db.size("journal");
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) {
  using namespace cairn::bench;
  std::size_t max_mb = 100;
  int runs = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--max-mb") == 0) max_mb = std::stoul(argv[i + 1]);
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::stoi(argv[i + 1]);
  }
  struct Size {
    const char* label;
    std::size_t bytes;
  };
  const Size sizes[] = {
      {"100 KB", 100'000}, {"1 MB", 1'000'000}, {"10 MB", 10'000'000}, {"100 MB", 100'000'000}};

  std::cout << "hydration: Database::open of one store of journal-like entries (~240 B each)\n"
            << "floor: raw SQLite SELECT of the same rows + Boost.JSON parse into a vector\n"
            << "median of N runs, file in the page cache\n\n";
  std::printf("%-8s %9s %6s %12s %12s %7s\n", "size", "entries", "runs", "cairn ms", "floor ms",
              "ratio");
  for (const Size& size : sizes) {
    if (size.bytes > max_mb * 1'000'000) continue;
    ScratchDir dir;
    const auto path = dir.path() / "bench.db";
    const std::size_t entries = build(path, size.bytes);
    const int n = runs > 0                    ? runs
                  : size.bytes >= 100'000'000 ? 5
                  : size.bytes >= 10'000'000  ? 11
                                              : 31;
    std::vector<double> cairn_ms, floor_ms;
    cairn_load(path, nullptr);  // warm the page cache
    floor_load(path, 1);
    for (int run = 0; run < n; ++run) {  // alternate, so that both see the same machine noise
      double open_ms = 0;
      if (cairn_load(path, &open_ms) != entries) return 1;
      cairn_ms.push_back(open_ms);
      const auto start = Stopwatch::now();
      if (floor_load(path, 1) != entries) return 1;
      floor_ms.push_back(ms_since(start));
    }
    const double c = median(cairn_ms), f = median(floor_ms);
    std::printf("%-8s %9zu %6d %12.2f %12.2f %6.2fx\n", size.label, entries, n, c, f, c / f);
  }
  std::cout << "\nreproduce: build/release/bench/hydration_bench --max-mb " << max_mb << '\n';
  return 0;
}
