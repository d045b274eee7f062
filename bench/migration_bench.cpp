// Migration: 100,000 journal-like entries through a three-step chain (add a field, rename a
// field, turn a nested object of objects into an array), as Database::open runs it: the chain in
// memory, the backup of the rows, and the write of every entry, in one transaction. Beside it,
// the same open of the same file without a migration (hydration alone).
//
//   build/release/bench/migration_bench [--entries N] [--runs N]
//
// Target (issue 3): the migration takes < 1 s for 100,000 entries.
#include <cstring>
#include <iostream>

#include "bench_support.hpp"

namespace cairn::bench {
namespace {

StoreSchema v1() {
  return StoreSchema("journal", 1, MergePolicy::whole_entry());
}

StoreSchema v4() {
  return StoreSchema("journal", 4, MergePolicy::whole_entry(),
                     {{1, {MigrationOp::add_field("createdBy", "device")}},
                      {2, {MigrationOp::rename_field("text", "body")}},
                      {3, {MigrationOp::object_to_array("skillMap", "skill")}}});
}

DatabaseOptions options(StoreSchema schema) {
  DatabaseOptions options;
  options.stores = {std::move(schema)};
  options.limits.max_store_bytes = std::size_t{1} << 31;
  return options;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) {
  using namespace cairn;
  using namespace cairn::bench;
  std::size_t entries = 100'000;
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--entries") == 0) entries = std::stoul(argv[i + 1]);
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::stoi(argv[i + 1]);
  }
  ScratchDir dir;
  const auto original = dir.path() / "v1.db";
  {
    Database db = Database::open(original, options(v1()));
    fill_journal(db, entries, 11, [](boost::json::value& value) {
      value.as_object()["skillMap"] =
          boost::json::object{{"running", {{"xp", 10}}}, {"cooking", {{"xp", 5}}}};
    });
  }
  std::vector<double> migrate_ms, open_ms, hydrate_ms;
  for (int run = 0; run < runs; ++run) {
    const auto copy = dir.path() / ("run" + std::to_string(run) + ".db");
    std::filesystem::copy_file(original, copy);
    {
      auto start = Stopwatch::now();
      { Database db = Database::open(copy, options(v1())); }
      hydrate_ms.push_back(ms_since(start));
    }
    DatabaseOptions migrating = options(v4());
    double migration = 0;
    migrating.on_migration = [&](const MigrationEvent& event) {
      if (event.kind == MigrationEvent::Kind::finished) {
        migration = static_cast<double>(event.elapsed.count());
      }
    };
    const auto start = Stopwatch::now();
    Database db = Database::open(copy, migrating);
    open_ms.push_back(ms_since(start));
    migrate_ms.push_back(migration);
    if (db.size("journal") != entries || db.store_info("journal").stored_version != 4) return 1;
  }
  std::printf("migration of %zu entries through 3 steps (add, rename, object-to-array)\n\n",
              entries);
  std::printf("%-44s %10s\n", "", "median ms");
  std::printf("%-44s %10.1f\n", "open at v1, no migration (hydration alone)", median(hydrate_ms));
  std::printf("%-44s %10.1f\n", "migration (chain + backup + write + commit)", median(migrate_ms));
  std::printf("%-44s %10.1f\n", "open with migration, in all", median(open_ms));
  std::cout << "\nreproduce: build/release/bench/migration_bench --entries " << entries
            << " --runs " << runs << '\n';
  return 0;
}
