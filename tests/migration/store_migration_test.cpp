// Migrations as a Database runs them on open: whole stores, backups, failures, events.
#include <sqlite3.h>

#include <boost/json.hpp>
#include <cairn/testing.hpp>

#include "store/fixture.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;

StoreSchema user_information() {
  return StoreSchema(
      "userInformation", 3, MergePolicy::per_field(),
      {{1, {MigrationOp::add_field("info.createdAt", "1970-01-01T00:00:00Z")}},
       {2, {MigrationOp::add_field("info.preferences", json::parse(R"({"theme":"dark"})"))}}});
}

// Every column of a store's rows, as SQLite holds them, for byte-for-byte comparisons.
std::string dump_rows(const std::filesystem::path& path, const std::string& store) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT quote(e.key), quote(e.value), e.hlc, e.replica_ref, e.schema_version, "
                     "quote(e.field_stamps) FROM entries e JOIN stores s ON s.id = "
                     "e.store_id WHERE s.name = ?1 ORDER BY e.key",
                     -1, &stmt, nullptr);
  sqlite3_bind_text(stmt, 1, store.c_str(), -1, SQLITE_TRANSIENT);
  std::string dump;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    for (int c = 0; c < 6; ++c) {
      dump += reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
      dump += '|';
    }
    dump += '\n';
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return dump;
}

class StoreMigrationTest : public StoreTest {
 protected:
  // Writes `entries` into `store` declared at `version`, as an older build of the app would.
  void write_at(const StoreSchema& old, const json::object& entries) {
    DatabaseOptions options;
    options.stores = {old};
    Database db = Database::open(path(), options);
    Transaction txn = db.transaction();
    for (const auto& [key, value] : entries)
      txn.put(old.name, key, value);
    txn.commit();
  }
  Database open_with(StoreSchema schema, DatabaseOptions options = {}) {
    options.stores = {std::move(schema)};
    return Database::open(path(), std::move(options));
  }
};

TEST_F(StoreMigrationTest, TheRoadmapsUserInformationExampleKeepsBothSteps) {
  write_at(StoreSchema("userInformation", 1, MergePolicy::per_field()),
           {{"profile", json::parse(R"({"info":{"name":"Ada"}})")}});
  Database db = open_with(user_information());
  EXPECT_EQ(db.get("userInformation", "profile"),
            json::parse(R"({"info":{"name":"Ada","createdAt":"1970-01-01T00:00:00Z",
                            "preferences":{"theme":"dark"}}})"));
  EXPECT_EQ(db.store_info("userInformation").stored_version, 3u);
  EXPECT_EQ(db.entry_info("userInformation", "profile")->schema_version, 3u);
}

TEST_F(StoreMigrationTest, TheMigrationIsDurableAndRunsOnce) {
  write_at(StoreSchema("userInformation", 1, MergePolicy::per_field()),
           {{"profile", json::parse(R"({"info":{}})")}});
  int started = 0;
  DatabaseOptions options;
  options.on_migration = [&](const MigrationEvent& e) {
    started += e.kind == MigrationEvent::Kind::started;
  };
  { open_with(user_information(), options); }
  { open_with(user_information(), options); }
  EXPECT_EQ(started, 1);
  Database db = Database::open(path(), {});  // a tool sees version 3 recorded
  EXPECT_EQ(db.store_info("userInformation").stored_version, 3u);
}

TEST_F(StoreMigrationTest, MigratedEntriesKeepTheirStampsAndWriteNoOutbox) {
  write_at(StoreSchema("userInformation", 1, MergePolicy::per_field()),
           {{"profile", json::parse(R"({"info":{}})")}});
  EntryInfo before;
  std::size_t pending = 0;
  {
    Database db = open_with(StoreSchema("userInformation", 1, MergePolicy::per_field()));
    before = *db.entry_info("userInformation", "profile");
    pending = db.pending_count();
  }
  Database db = open_with(user_information());
  const EntryInfo after = *db.entry_info("userInformation", "profile");
  EXPECT_EQ(after.hlc, before.hlc);
  EXPECT_EQ(after.replica, before.replica);
  EXPECT_EQ(db.pending_count(), pending);
  EXPECT_EQ(db.outbox().back().schema_version, 1u);  // the queued change says what shape it has
}

TEST_F(StoreMigrationTest, EachMigrationIsBackedUpAndTheLastThreeAreKept) {
  write_at(StoreSchema("s", 1), {{"k", json::parse(R"({"v":1})")}});
  std::vector<MigrationStep> steps;
  for (std::uint32_t v = 1; v <= 4; ++v) {
    steps.push_back({v, {MigrationOp::add_field("f" + std::to_string(v), v)}});
    open_with(StoreSchema("s", v + 1, {}, steps));
  }
  Database db = Database::open(path(), {});
  const auto backups = db.backups();
  ASSERT_EQ(backups.size(), 3u);
  EXPECT_EQ(backups[0].from_version, 2u);
  EXPECT_EQ(backups[2].from_version, 4u);
  EXPECT_EQ(backups[2].to_version, 5u);
  EXPECT_EQ(backups[2].store, "s");
  EXPECT_EQ(backups[2].entries, 1u);
}

TEST_F(StoreMigrationTest, RestoringABackupBringsBackTheRowsAndTheVersion) {
  write_at(StoreSchema("s", 1), {{"k", json::parse(R"({"v":1})")}});
  const std::string rows_v1 = dump_rows(path(), "s");
  { open_with(StoreSchema("s", 2, {}, {{1, {MigrationOp::rename_field("v", "value")}}})); }
  const auto backups = Database::open(path(), {}).backups();
  ASSERT_EQ(backups.size(), 1u);
  Database::restore_backup(path(), "s", backups[0].id);
  EXPECT_EQ(dump_rows(path(), "s"), rows_v1);
  EXPECT_EQ(error_code_of([&] { Database::restore_backup(path(), "s", 999); }),
            ErrorCode::not_found);
  Database db = Database::open(path(), {});
  EXPECT_EQ(db.store_info("s").stored_version, 1u);
  EXPECT_EQ(db.get("s", "k"), json::parse(R"({"v":1})"));
  // While the application has the database open, a restore is refused.
  EXPECT_EQ(error_code_of([&] { Database::restore_backup(path(), "s", backups[0].id); }),
            ErrorCode::database_locked);
}

TEST_F(StoreMigrationTest, AFailedStepLeavesRowsByteIdenticalAndNamesTheEntry) {
  write_at(StoreSchema("userInformation", 1, MergePolicy::per_field()),
           {{"a", json::parse(R"({"info":{}})")},
            {"b", json::parse(R"({"info":"oops"})")},
            {"c", json::parse(R"({"info":{}})")}});
  const std::string before = dump_rows(path(), "userInformation");
  try {
    open_with(user_information());
    FAIL() << "expected MigrationError";
  } catch (const MigrationError& e) {
    EXPECT_EQ(e.code(), ErrorCode::migration_failed);
    EXPECT_EQ(e.store(), "userInformation");
    EXPECT_EQ(e.from_version(), 1u);
    EXPECT_EQ(e.to_version(), 2u);
    EXPECT_EQ(e.key(), "b");
    EXPECT_NE(e.cause().find("not an object"), std::string::npos) << e.cause();
  }
  EXPECT_EQ(dump_rows(path(), "userInformation"), before);
  Database db = Database::open(path(), {});
  EXPECT_EQ(db.store_info("userInformation").stored_version, 1u);
  EXPECT_TRUE(db.backups().empty());
}

TEST_F(StoreMigrationTest, AfterAFailureTheStoreCanStayReadable) {
  write_at(StoreSchema("s", 1), {{"k", json::parse("1")}});
  DatabaseOptions options;
  options.migration_failure = MigrationFailure::open_read_only;
  StoreSchema failing("s", 2, {},
                      {{1, {MigrationOp::transform_entry("explode", [](json::value) -> json::value {
                          throw std::runtime_error("no way");
                        })}}});
  Database db = open_with(failing, options);
  const StoreInfo info = db.store_info("s");
  EXPECT_FALSE(info.writable);
  EXPECT_EQ(info.status, ErrorCode::migration_failed);
  EXPECT_NE(info.error.find("no way"), std::string::npos) << info.error;
  EXPECT_EQ(db.get("s", "k"), json::parse("1"));
  EXPECT_EQ(error_code_of([&] { db.put("s", "k", json::parse("2")); }),
            ErrorCode::migration_failed);
}

TEST_F(StoreMigrationTest, AnInvalidResultFailsTheMigration) {
  write_at(StoreSchema("stats", 1, MergePolicy::per_field({"xp"})),
           {{"running", json::parse(R"({"xp":10})")}});
  StoreSchema bad("stats", 2, MergePolicy::per_field({"xp"}),
                  {{1, {MigrationOp::transform_entry("stringify", [](json::value v) {
                      v.as_object()["xp"] = "ten";
                      return v;
                    })}}});
  try {
    open_with(bad);
    FAIL();
  } catch (const MigrationError& e) {
    EXPECT_EQ(e.key(), "running");
    EXPECT_NE(e.cause().find("counter field 'xp'"), std::string::npos) << e.cause();
  }
}

TEST_F(StoreMigrationTest, EventsReportStartProgressAndFinish) {
  json::object entries;
  for (int i = 0; i < 2500; ++i)
    entries["k" + std::to_string(i)] = json::object{{"n", i}};
  write_at(StoreSchema("s", 1), entries);
  std::vector<MigrationEvent> events;
  DatabaseOptions options;
  options.on_migration = [&](const MigrationEvent& e) { events.push_back(e); };
  open_with(StoreSchema("s", 2, {}, {{1, {MigrationOp::add_field("tag", "x")}}}), options);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().kind, MigrationEvent::Kind::started);
  EXPECT_EQ(events.front().entries_total, 2500u);
  EXPECT_EQ(events[1].kind, MigrationEvent::Kind::progress);
  EXPECT_EQ(events.back().kind, MigrationEvent::Kind::finished);
  EXPECT_EQ(events.back().entries_done, 2500u);
  EXPECT_EQ(events.back().from_version, 1u);
  EXPECT_EQ(events.back().to_version, 2u);
  EXPECT_EQ(events.back().store, "s");
}

TEST_F(StoreMigrationTest, AFailureIsAnEventToo) {
  write_at(StoreSchema("s", 1), {{"k", json::parse("1")}});
  std::vector<MigrationEvent::Kind> kinds;
  DatabaseOptions options;
  options.on_migration = [&](const MigrationEvent& e) { kinds.push_back(e.kind); };
  EXPECT_THROW(
      open_with(StoreSchema("s", 2, {}, {{1, {MigrationOp::add_field("x.y", 1)}}}), options),
      MigrationError);
  EXPECT_EQ(kinds.back(), MigrationEvent::Kind::failed);
}

TEST_F(StoreMigrationTest, AWholeStoreStepMayChangeKeys) {
  write_at(StoreSchema("journal", 1), {{"2026-02-01 10:00", json::parse(R"({"t":"a"})")},
                                       {"2026-02-02 11:00", json::parse(R"({"t":"b"})")}});
  StoreSchema rekeyed("journal", 2, {},
                      {{1, {MigrationOp::transform_store("slash keys", [](EntryMap entries) {
                          EntryMap out;
                          for (auto& [key, value] : entries) {
                            std::string k = key;
                            std::replace(k.begin(), k.end(), '-', '/');
                            std::replace(k.begin(), k.end(), ' ', '/');
                            out[k] = std::move(value);
                          }
                          return out;
                        })}}});
  Database db = open_with(rekeyed);
  EXPECT_EQ(db.keys("journal"), (std::vector<std::string>{"2026/02/01/10:00", "2026/02/02/11:00"}));
  EXPECT_TRUE(db.entry_info("journal", "2026-02-01 10:00")->deleted);  // a tombstone, for sync
  EXPECT_EQ(db.entry_info("journal", "2026/02/01/10:00")->schema_version, 2u);
}

TEST_F(StoreMigrationTest, DataOlderThanTheChainIsRefusedUntouched) {
  write_at(StoreSchema("s", 1), {{"k", json::parse("1")}});
  const std::string before = read_bytes(path());
  EXPECT_EQ(error_code_of([&] {
              open_with(StoreSchema("s", 3, {}, {{2, {MigrationOp::add_field("x", 1)}}}));
            }),
            ErrorCode::migration_required);
  EXPECT_EQ(read_bytes(path()), before);
}

TEST_F(StoreMigrationTest, AnOlderBuildOpensNewerDataReadOnly) {
  write_at(StoreSchema("userInformation", 1, MergePolicy::per_field()),
           {{"profile", json::parse(R"({"info":{}})")}});
  { open_with(user_information()); }
  Database old = open_with(StoreSchema("userInformation", 1, MergePolicy::per_field()));
  EXPECT_EQ(old.store_info("userInformation").status, ErrorCode::schema_too_new);
  EXPECT_TRUE(
      old.get("userInformation", "profile")->at("info").as_object().contains("preferences"));
  EXPECT_EQ(error_code_of([&] { old.put("userInformation", "x", json::parse("{}")); }),
            ErrorCode::schema_too_new);
}

TEST(MigrationTestingHelper, ComparesTheMigratedStoreWithTheExpectation) {
  const auto ok = testing::check_migration(
      user_information(), 1, {{"profile", json::parse(R"({"info":{"name":"Ada"}})")}},
      {{"profile", json::parse(R"({"info":{"name":"Ada","createdAt":"1970-01-01T00:00:00Z",
                                   "preferences":{"theme":"dark"}}})")}});
  EXPECT_TRUE(ok.ok) << ok.diff;
  const auto wrong = testing::check_migration(
      user_information(), 2, {{"profile", json::parse(R"({"info":{"name":"Ada"}})")}},
      {{"profile", json::parse(R"({"info":{"name":"Ada"}})")}, {"other", json::parse("1")}});
  EXPECT_FALSE(wrong.ok);
  EXPECT_NE(wrong.diff.find("~ profile"), std::string::npos) << wrong.diff;
  EXPECT_NE(wrong.diff.find("- other: missing"), std::string::npos) << wrong.diff;
}

}  // namespace
}  // namespace cairn::test
