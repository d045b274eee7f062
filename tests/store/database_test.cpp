#include "store/fixture.hpp"

namespace cairn::test {
namespace {

using DatabaseTest = StoreTest;

TEST_F(DatabaseTest, WritesAreReadBackAfterReopening) {
  {
    Database db = open();
    db.put("journal", "2026/02/01/10:00", json(R"({"text":"Walked to the lake","mood":4})"));
    db.put("userInformation", "profile", json(R"({"name":"Ada"})"));
  }
  Database db = open();
  EXPECT_EQ(db.get("journal", "2026/02/01/10:00"),
            json(R"({"text":"Walked to the lake","mood":4})"));
  EXPECT_EQ(db.get("userInformation", "profile"), json(R"({"name":"Ada"})"));
  EXPECT_EQ(db.size("journal"), 1u);
  EXPECT_TRUE(db.contains("journal", "2026/02/01/10:00"));
  EXPECT_FALSE(db.contains("journal", "2026/02/02/10:00"));
  EXPECT_FALSE(db.get("journal", "2026/02/02/10:00"));
}

TEST_F(DatabaseTest, IterationIsInKeyOrder) {
  Database db = open();
  for (const char* key : {"2026/02/03", "2026/01/31", "2026/02/01", "2026/02/02"}) {
    db.put("journal", key, json("1"));
  }
  EXPECT_EQ(db.keys("journal"),
            (std::vector<std::string>{"2026/01/31", "2026/02/01", "2026/02/02", "2026/02/03"}));
  std::vector<std::string> february;
  db.scan("journal", "2026/02/", "2026/03/", [&](std::string_view key, const boost::json::value&) {
    february.emplace_back(key);
    return true;
  });
  EXPECT_EQ(february, (std::vector<std::string>{"2026/02/01", "2026/02/02", "2026/02/03"}));
  int visited = 0;
  db.for_each("journal",
              [&](std::string_view, const boost::json::value&) { return ++visited < 2; });
  EXPECT_EQ(visited, 2);
}

TEST_F(DatabaseTest, KeysOrderBytewiseLikeSqlite) {
  {
    Database db = open();
    for (const char* key : {"b", "B", "a", "\xc3\xa9", "A", "ab"})
      db.put("journal", key, json("1"));
  }
  Database db = open();
  EXPECT_EQ(db.keys("journal"), (std::vector<std::string>{"A", "B", "a", "ab", "b", "\xc3\xa9"}));
}

TEST_F(DatabaseTest, DeletedEntriesAreInvisibleButLeaveATombstone) {
  Database db = open();
  db.put("journal", "k", json("1"));
  db.erase("journal", "k");
  EXPECT_FALSE(db.contains("journal", "k"));
  EXPECT_EQ(db.size("journal"), 0u);
  EXPECT_TRUE(db.keys("journal").empty());
  auto info = db.entry_info("journal", "k");
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->deleted);
  EXPECT_EQ(db.store_info("journal").tombstones, 1u);
}

TEST_F(DatabaseTest, UnknownStoresAreATypedError) {
  Database db = open();
  EXPECT_EQ(error_code_of([&] { db.get("nope", "k"); }), ErrorCode::unknown_store);
  EXPECT_EQ(error_code_of([&] { db.put("nope", "k", json("1")); }), ErrorCode::unknown_store);
}

TEST_F(DatabaseTest, TheDatabaseDescribesItsOwnStores) {
  { open(); }
  Database db = Database::open(path(), {});  // a tool: no declarations
  const auto stores = db.stores();
  ASSERT_EQ(stores.size(), 6u);
  const StoreInfo stats = db.store_info("playerStatistics");
  EXPECT_EQ(stats.schema.version, 1u);
  EXPECT_EQ(stats.schema.policy, MergePolicy::per_field({"xp"}));
}

TEST_F(DatabaseTest, ADeclaredStoreIsAddedToAnExistingDatabase) {
  { open(); }
  auto options = roadmap_options();
  options.stores.push_back({"settings", 1, MergePolicy::whole_entry()});
  Database db = open(options);
  db.put("settings", "theme", json(R"("dark")"));
  EXPECT_EQ(db.stores().size(), 7u);
}

TEST_F(DatabaseTest, StoresThatAreNotDeclaredAreKeptButNotLoaded) {
  {
    Database db = open();
    db.put("aiConfig", "model", json(R"("small")"));
  }
  {
    DatabaseOptions only_journal;
    only_journal.stores = {{"journal", 1, MergePolicy::whole_entry()}};
    Database db = open(only_journal);
    EXPECT_EQ(error_code_of([&] { db.get("aiConfig", "model"); }), ErrorCode::unknown_store);
  }
  Database db = open();
  EXPECT_EQ(db.get("aiConfig", "model"), json(R"("small")"));
}

TEST_F(DatabaseTest, ANewerStoredVersionOpensReadOnlyAndKeepsTheData) {
  {
    auto newer = roadmap_options();
    newer.stores[0].version = 3;  // journal v3, written by a newer build
    Database db = Database::open(path(), newer);
    db.put("journal", "k", json(R"({"v":3})"));
  }
  Database db = open();  // the older build declares journal v1
  const StoreInfo info = db.store_info("journal");
  EXPECT_FALSE(info.writable);
  EXPECT_EQ(info.status, ErrorCode::schema_too_new);
  EXPECT_EQ(info.stored_version, 3u);
  EXPECT_EQ(db.get("journal", "k"), json(R"({"v":3})"));
  EXPECT_EQ(error_code_of([&] { db.put("journal", "k2", json("1")); }), ErrorCode::schema_too_new);
  db.put("aiConfig", "x", json("1"));  // the other stores still work
}

TEST_F(DatabaseTest, ANewerDeclaredVersionWithoutMigrationFailsAndChangesNothing) {
  {
    Database db = open();
    db.put("journal", "k", json("1"));
  }
  const std::string before = read_bytes(path());
  auto newer = roadmap_options();
  newer.stores[0].version = 2;
  EXPECT_EQ(error_code_of([&] { Database::open(path(), newer); }), ErrorCode::migration_required);
  EXPECT_EQ(read_bytes(path()), before);
  Database db = open();
  EXPECT_EQ(db.get("journal", "k"), json("1"));
  EXPECT_EQ(db.store_info("journal").stored_version, 1u);
}

TEST_F(DatabaseTest, InvalidDeclarationsAreRejected) {
  DatabaseOptions bad;
  bad.stores = {{"has space", 1, {}}};
  EXPECT_EQ(error_code_of([&] { open(bad); }), ErrorCode::invalid_argument);
  bad.stores = {{"a", 0, {}}};
  EXPECT_EQ(error_code_of([&] { open(bad); }), ErrorCode::invalid_argument);
  bad.stores = {{"a", 1, {}}, {"a", 1, {}}};
  EXPECT_EQ(error_code_of([&] { open(bad); }), ErrorCode::invalid_argument);
  bad.stores = {{"a", 1, {MergePolicy::Kind::lww, {"xp"}}}};
  EXPECT_EQ(error_code_of([&] { open(bad); }), ErrorCode::invalid_argument);
}

TEST_F(DatabaseTest, AReadOnlyDatabaseRefusesWrites) {
  { open().put("journal", "k", json("1")); }
  auto options = roadmap_options();
  options.read_only = true;
  Database db = open(options);
  EXPECT_EQ(db.get("journal", "k"), json("1"));
  EXPECT_EQ(error_code_of([&] { db.put("journal", "k", json("2")); }), ErrorCode::read_only);
}

TEST_F(DatabaseTest, ASecondWriterIsRefusedWithAClearError) {
  Database first = open();
  EXPECT_EQ(error_code_of([&] { open(); }), ErrorCode::database_locked);
}

TEST_F(DatabaseTest, AReaderOpensBesideTheWriterAndSeesCommittedData) {
  Database writer = open();
  writer.put("journal", "k", json("1"));
  auto options = roadmap_options();
  options.read_only = true;
  Database reader = open(options);
  EXPECT_EQ(reader.get("journal", "k"), json("1"));
  writer.put("journal", "k2", json("2"));  // the writer is not blocked by the reader
  EXPECT_EQ(writer.size("journal"), 2u);
}

TEST_F(DatabaseTest, TheLockIsReleasedWhenTheDatabaseCloses) {
  { open(); }
  EXPECT_NO_THROW(open());
}

TEST_F(DatabaseTest, AMissingFileIsNotCreatedWhenAskedNotTo) {
  auto options = roadmap_options();
  options.create_if_missing = false;
  EXPECT_EQ(error_code_of([&] { open(options); }), ErrorCode::not_found);
  EXPECT_FALSE(std::filesystem::exists(path()));
}

TEST_F(DatabaseTest, FullDurabilityIsSelectable) {
  auto options = roadmap_options();
  options.durability = Durability::full;
  {
    Database db = open(options);
    db.put("journal", "k", json("1"));
  }
  EXPECT_EQ(open().get("journal", "k"), json("1"));
}

}  // namespace
}  // namespace cairn::test
