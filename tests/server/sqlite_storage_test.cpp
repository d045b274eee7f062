// SqliteStorage against the storage conformance suite, and what only SQLite storage does.
#include <cairn/error.hpp>

#include "server/storage/storage_factory.hpp"
#include "server/storage_conformance.hpp"
#include "storage/sqlite.hpp"

namespace cairn::test {
namespace {

std::unique_ptr<server::Storage> open_sqlite(const std::filesystem::path& dir) {
  server::StorageConfig config;
  config.data_dir = dir;
  return server::open_storage(config);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StorageConformance,
                         ::testing::Values(StorageBackend{"sqlite", open_sqlite}),
                         [](const auto& info) { return info.param.name; });

TEST(SqliteStorage, OneProcessPerDataDirectory) {
  TempDir dir;
  const auto first = open_sqlite(dir.path());
  try {
    open_sqlite(dir.path());
    FAIL() << "a second storage opened the same data directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::database_locked);
    EXPECT_NE(std::string(e.what()).find("in use by another cairnd"), std::string::npos);
  }
}

TEST(SqliteStorage, RefusesAFileThatIsNotCairnds) {
  TempDir dir;
  {
    sqlite::Connection other(dir / "cairnd.db", sqlite::Connection::Mode::read_write_create);
    other.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
  }
  try {
    open_sqlite(dir.path());
    FAIL() << "opened a database that is not cairnd's";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_a_cairn_database);
  }
}

TEST(SqliteStorage, AnOlderFormatGainsTheNewTablesWhenOpened) {
  TempDir dir;
  open_sqlite(dir.path());  // created at the current format, then made a format-1 file
  {
    sqlite::Connection db(dir / "cairnd.db", sqlite::Connection::Mode::read_write_create);
    db.exec(
        "DROP TABLE document_updates; DROP TABLE document_snapshots; DROP TABLE dataset_schemas; "
        "DROP INDEX entries_tombstones; DROP INDEX history_age; DROP INDEX audit_age; "
        "ALTER TABLE datasets DROP COLUMN retained_seq; "
        "ALTER TABLE datasets DROP COLUMN floor_hlc; ALTER TABLE datasets DROP COLUMN "
        "floor_replica; INSERT INTO datasets (id, name, owner, personal, created_ms, last_seq) "
        "VALUES ('d1', 'd', 'u1', 0, 1, 7); PRAGMA user_version = 1");
  }
  const auto storage = open_sqlite(dir.path());
  auto tx = storage->begin(true);
  tx->add_dataset_schema("d1", {1, "{}", "u1", 1});
  tx->append_document_update("d1", "notes", {0, "x", "u1", 1});
  EXPECT_EQ(tx->dataset_schema("d1")->revision, 1u);
  EXPECT_EQ(tx->dataset("d1")->last_seq, 7u);
  EXPECT_EQ(tx->dataset("d1")->retained_seq, 0u);  // nothing compacted yet
  tx->set_compaction("d1", 3, Timestamp(5, 0), "r");
  EXPECT_EQ(tx->dataset("d1")->retained_seq, 3u);
  tx->commit();
  sqlite::Connection db(dir / "cairnd.db", sqlite::Connection::Mode::read_only);
  EXPECT_EQ(db.query_int("PRAGMA user_version"), 4);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM sqlite_master WHERE name = 'entries_tombstones'"),
            1);
}

TEST(SqliteStorage, AnUnknownBackendIsAnError) {
  server::StorageConfig config;
  config.backend = "mongodb";
  try {
    server::open_storage(config);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("sqlite"), std::string::npos);
  }
}

}  // namespace
}  // namespace cairn::test
