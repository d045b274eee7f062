// A random step fails at a random entry, over many seeded runs: each time the database file must
// be byte-identical to before and still open. Set CAIRN_MIGRATION_SEED / CAIRN_MIGRATION_RUNS to
// replay one run or to run longer.
#include <boost/json.hpp>
#include <cstdlib>
#include <random>

#include "store/fixture.hpp"
#include "support/seeds.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;

TEST(MigrationFailureInjection, AFailingStepNeverChangesTheFile) {
  const std::uint64_t base = env_or("CAIRN_MIGRATION_SEED", 777);
  const std::uint64_t runs = env_or("CAIRN_MIGRATION_RUNS", 100);
  for (std::uint64_t run = 0; run < runs; ++run) {
    const std::uint64_t seed = base + run;
    SCOPED_TRACE("migration failure seed " + std::to_string(seed) +
                 " (replay: CAIRN_MIGRATION_SEED=" + std::to_string(seed) +
                 " CAIRN_MIGRATION_RUNS=1)");
    std::mt19937_64 random(seed);
    TempDir dir;
    const auto path = dir / "app.db";
    const int entries = 1 + static_cast<int>(random() % 60);
    {
      DatabaseOptions v1;
      v1.stores = {StoreSchema("s", 1, MergePolicy::per_field({"xp"})), StoreSchema("other", 1)};
      Database db = Database::open(path, v1);
      Transaction txn = db.transaction();
      for (int i = 0; i < entries; ++i) {
        txn.put("s", "k" + std::to_string(i),
                json::object{{"xp", static_cast<std::int64_t>(random() % 100)},
                             {"info", json::object{{"name", "n" + std::to_string(i)}}}});
      }
      txn.put("other", "x", json::parse("1"));
      txn.commit();
    }
    const std::string before = read_bytes(path);

    // Three steps; step `bad` fails at entry `victim`, by throwing or by producing a value that
    // the store refuses.
    const std::uint32_t bad = 1 + static_cast<std::uint32_t>(random() % 3);
    const std::string victim = "k" + std::to_string(random() % static_cast<std::uint64_t>(entries));
    const bool throws = random() % 2 == 0;
    const auto saboteur = MigrationOp::transform_entry("saboteur", [&](json::value v) {
      const json::object& info = v.at("info").as_object();
      const json::value* name = info.if_contains("name");  // renamed by step 2
      if (name == nullptr) name = info.if_contains("displayName");
      if (name->as_string() == "n" + victim.substr(1)) {
        if (throws) throw std::runtime_error("injected failure");
        v.as_object()["xp"] = "not a number";
      }
      return v;
    });
    std::vector<MigrationStep> steps = {
        {1, {MigrationOp::add_field("createdAt", "1970-01-01")}},
        {2, {MigrationOp::rename_field("info.name", "info.displayName")}},
        {3, {MigrationOp::object_to_array("info_map")}}};
    steps[bad - 1].ops.insert(steps[bad - 1].ops.begin(), saboteur);
    DatabaseOptions v4;
    v4.stores = {StoreSchema("s", 4, MergePolicy::per_field({"xp"}), steps),
                 StoreSchema("other", 1)};
    try {
      Database::open(path, v4);
      FAIL() << "the migration should have failed";
    } catch (const MigrationError& e) {
      EXPECT_EQ(e.store(), "s");
      EXPECT_EQ(e.key(), victim);
      // A throwing step is named; an invalid result is found when the whole chain has run.
      EXPECT_EQ(e.from_version(), throws ? bad : 1u);
      EXPECT_EQ(e.to_version(), throws ? bad + 1 : 4u);
    }
    ASSERT_EQ(read_bytes(path), before);

    DatabaseOptions v1;
    v1.stores = {StoreSchema("s", 1, MergePolicy::per_field({"xp"})), StoreSchema("other", 1)};
    Database db = Database::open(path, v1);
    ASSERT_EQ(db.size("s"), static_cast<std::size_t>(entries));
    ASSERT_EQ(db.store_info("s").stored_version, 1u);
  }
}

}  // namespace
}  // namespace cairn::test
