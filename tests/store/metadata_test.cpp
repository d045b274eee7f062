#include <sqlite3.h>

#include "storage/local_file.hpp"
#include "store/fixture.hpp"

namespace cairn::test {
namespace {

using MetadataTest = StoreTest;

TEST_F(MetadataTest, EveryWriteIsStampedWithTheClockAndReplica) {
  auto clock = std::make_shared<ManualClock>(1'764'000'000'000);
  auto options = roadmap_options();
  options.clock = clock;
  Database db = open(options);
  db.put("journal", "a", json("1"));
  const EntryInfo info = *db.entry_info("journal", "a");
  EXPECT_EQ(info.hlc.physical_ms(), 1'764'000'000'000u);
  EXPECT_EQ(info.replica, db.replica_id());
  EXPECT_EQ(info.schema_version, 1u);
  EXPECT_FALSE(info.deleted);
  EXPECT_TRUE(info.pending);
}

// Runs `sql` on the file directly.
void exec_raw(const std::filesystem::path& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The pending flags come from the outbox: they survive reopening, and a file of format 1 (which
// kept them in entries.pending, and had no held_back table) is read as it is and upgraded when
// opened for writing.
TEST_F(MetadataTest, PendingFlagsFollowTheOutboxAcrossReopeningAndTheFormatOneUpgrade) {
  {
    Database db = open();
    db.put("journal", "a", json("1"));
    db.put("journal", "a", json("2"));
    db.put("journal", "b", json("3"));
  }
  {
    Database db = open();
    EXPECT_TRUE(db.entry_info("journal", "a")->pending);
    EXPECT_EQ(db.pending_count(), 3u);
  }
  // Format 1, with stale counts in the column: the outbox decides.
  exec_raw(path(),
           "ALTER TABLE entries ADD COLUMN pending INTEGER NOT NULL DEFAULT 7; "
           "DELETE FROM outbox WHERE key = 'b'; DROP TABLE held_back; DROP TABLE unconfirmed; "
           "DROP TABLE manifests; DROP TABLE manifest_chunks; "
           "PRAGMA user_version = 1");
  const auto format = [&] {
    sqlite3* db = nullptr;
    sqlite3_open_v2(path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
    sqlite3_step(stmt);
    const int version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return version;
  };
  {
    DatabaseOptions options = roadmap_options();
    options.read_only = true;
    Database db = open(options);
    EXPECT_TRUE(db.entry_info("journal", "a")->pending);
    EXPECT_FALSE(db.entry_info("journal", "b")->pending);
    EXPECT_EQ(*db.get("journal", "a"), json("2"));
  }
  EXPECT_EQ(format(), 1);  // a read-only open changes nothing
  {
    Database db = open();
    EXPECT_TRUE(db.entry_info("journal", "a")->pending);
    EXPECT_FALSE(db.entry_info("journal", "b")->pending);
    EXPECT_EQ(*db.get("journal", "b"), json("3"));
    db.put("journal", "c", json("4"));
    EXPECT_TRUE(db.entry_info("journal", "c")->pending);
    EXPECT_TRUE(SyncClient::stored_status(db).held_back_entries.empty());  // format 3's table
  }
  EXPECT_EQ(format(), LocalFile::kFormat);
}

TEST_F(MetadataTest, TheReplicaIdIsCreatedOnceAndKept) {
  std::string id;
  {
    Database db = open();
    id = db.replica_id();
    EXPECT_EQ(id.size(), 32u);
  }
  EXPECT_EQ(open().replica_id(), id);
  TempDir other;
  EXPECT_NE(Database::open(other / "other.db", roadmap_options()).replica_id(), id);
}

TEST_F(MetadataTest, TheClockNeverRunsBackwardsAcrossRestarts) {
  auto clock = std::make_shared<ManualClock>(10'000'000);
  auto options = roadmap_options();
  options.clock = clock;
  Timestamp first;
  {
    Database db = open(options);
    db.put("journal", "a", json("1"));
    first = db.entry_info("journal", "a")->hlc;
  }
  clock->set(1'000);  // the wall clock stepped back while the app was closed
  Database db = open(options);
  EXPECT_GE(db.clock(), first);
  db.put("journal", "b", json("1"));
  EXPECT_GT(db.entry_info("journal", "b")->hlc, first);
}

TEST_F(MetadataTest, WritesInOneMillisecondAreStillOrdered) {
  auto options = roadmap_options();
  options.clock = std::make_shared<ManualClock>(5'000);
  Database db = open(options);
  Transaction txn = db.transaction();
  for (int i = 0; i < 10; ++i)
    txn.put("journal", std::to_string(i), json("1"));
  txn.commit();
  for (int i = 1; i < 10; ++i) {
    EXPECT_GT(db.entry_info("journal", std::to_string(i))->hlc,
              db.entry_info("journal", std::to_string(i - 1))->hlc);
  }
}

TEST_F(MetadataTest, PerFieldStoresStampEachField) {
  auto clock = std::make_shared<ManualClock>(1'000'000);
  auto options = roadmap_options();
  options.clock = clock;
  {
    Database db = open(options);
    db.put("userInformation", "profile", json(R"({"name":"Ada","theme":"light"})"));
    clock->advance(1000);
    db.put("userInformation", "profile", json(R"({"name":"Ada","theme":"dark"})"));
  }
  Database db = open(options);  // the stamps survive a reopen
  const EntryInfo info = *db.entry_info("userInformation", "profile");
  ASSERT_EQ(info.fields.size(), 2u);
  EXPECT_EQ(info.fields[0].name, "name");
  EXPECT_EQ(info.fields[0].hlc.physical_ms(), 1'000'000u);
  EXPECT_EQ(info.fields[1].name, "theme");
  EXPECT_EQ(info.fields[1].hlc.physical_ms(), 1'001'000u);
  EXPECT_EQ(info.hlc, info.fields[1].hlc);
}

TEST_F(MetadataTest, DeletesAreStampedTombstones) {
  Database db = open();
  db.put("journal", "a", json("1"));
  const Timestamp written = db.entry_info("journal", "a")->hlc;
  db.erase("journal", "a");
  const EntryInfo info = *db.entry_info("journal", "a");
  EXPECT_TRUE(info.deleted);
  EXPECT_GT(info.hlc, written);
}

TEST_F(MetadataTest, EveryLocalChangeIsInTheOutboxInOrder) {
  {
    Database db = open();
    db.put("journal", "a", json(R"({"text":"x"})"));
    db.put("playerStatistics", "cooking", json(R"({"xp":10,"level":1})"));
    db.put("playerStatistics", "cooking", json(R"({"xp":15,"level":1})"));
    db.erase("journal", "a");
  }
  Database db = open();  // the outbox survives a reopen
  const auto records = db.outbox();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].store, "journal");
  EXPECT_EQ(records[0].op, "put");
  EXPECT_EQ(records[0].payload, json(R"({"value":{"text":"x"}})"));
  EXPECT_EQ(records[1].op, "patch");
  EXPECT_EQ(records[1].payload, json(R"({"set":{"level":1},"add":{"xp":10}})"));
  EXPECT_EQ(records[2].payload, json(R"({"add":{"xp":5}})"));
  EXPECT_EQ(records[3].op, "delete");
  EXPECT_EQ(records[3].key, "a");
  for (std::size_t i = 1; i < records.size(); ++i) {
    EXPECT_EQ(records[i].seq, records[i - 1].seq + 1);
    EXPECT_GT(records[i].hlc, records[i - 1].hlc);
  }
  EXPECT_EQ(db.entry_info("playerStatistics", "cooking")->hlc, records[2].hlc);
  EXPECT_EQ(db.outbox(2, 1).size(), 1u);
  EXPECT_EQ(db.outbox(2, 1)[0].seq, 3u);
}

TEST_F(MetadataTest, SequenceNumbersContinueAfterAReopen) {
  { open().put("journal", "a", json("1")); }
  Database db = open();
  db.put("journal", "b", json("1"));
  const auto records = db.outbox();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].seq, records[0].seq + 1);
  EXPECT_TRUE(db.entry_info("journal", "a")->pending);
}

}  // namespace
}  // namespace cairn::test
