// cairnd --copy-to: a SQLite server's data moved into PostgreSQL, checked, and served from there
// with nothing lost: tokens, revocations, datasets and members, the feed's positions, each
// client's exactly-once record, history. And a PostgreSQL backup (pg_dump) restored with
// pg_restore and cairnd --after-restore. Real processes, a real PostgreSQL (scripts/test.sh
// starts one); skipped without it.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <csignal>
#include <string>

#include "support/api_client.hpp"
#include "support/cairnd.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/sync_bodies.hpp"
#include "support/temp_dir.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;

class CopyTest : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_WITHOUT_POSTGRES("copying into PostgreSQL"); }
  RunResult copy(const std::string& database) {
    return run({CAIRND_PATH, "--data", data_.string(), "--copy-to", database});
  }

  TempDir dir_;
  std::filesystem::path data_ = dir_.path() / "data";
};

TEST_F(CopyTest, ASqliteServerMovesIntoPostgresAndDevicesGoOnFromTheirCursors) {
  std::string token, revoked, viewer_token, shared, cursor, feed, history;
  json::object pending;  // a numbered change the server applied, whose answer a device lost
  {
    Cairnd sqlite(data_);
    ApiClient owner = ApiClient::guest(sqlite.port());
    ApiClient viewer = ApiClient::guest(sqlite.port());
    ApiClient leaving = ApiClient::guest(sqlite.port());
    token = owner.token();
    viewer_token = viewer.token();
    revoked = leaving.token();
    ASSERT_EQ(leaving.post_text("/api/auth/logout", "").status, 204);
    shared = std::string(
        owner.post("/api/datasets", json::object{{"name", "family"}}).at("datasetId").as_string());
    ASSERT_EQ(owner
                  .post("/api/datasets/" + shared + "/members",
                        json::object{{"userId", viewer.user_id()}, {"role", "viewer"}})
                  .status,
              200);
    for (std::uint64_t seq = 1; seq <= 3; ++seq) {
      ASSERT_EQ(owner.post("/api/sync/patch", journal_put("laptop", seq, "k", seq)).status, 200);
    }
    ASSERT_EQ(owner.post("/api/sync/patch", journal_put("phone", 1, "s", "shared", shared)).status,
              200);
    pending = journal_put("laptop", 4, "k", 4);
    ASSERT_EQ(owner.post("/api/sync/patch", pending).status, 200);
    const ApiResult changes = owner.get("/api/sync/changes?since=0");
    cursor = std::string(changes.at("cursor").as_string());
    feed = json::serialize(changes.at("changes"));
    history = json::serialize(owner.get("/api/history?store=journal&key=k").body);
    sqlite.process().signal(SIGTERM);
    ASSERT_EQ(sqlite.process().wait(), 0);
  }

  const std::string database = new_postgres_database();
  const RunResult copied = copy(database);
  ASSERT_EQ(copied.status, 0) << copied.out << copied.err;
  EXPECT_NE(copied.out.find("copied table=entries rows="), std::string::npos) << copied.out;
  EXPECT_NE(copied.out.find("the copy matches the original"), std::string::npos) << copied.out;

  Cairnd postgres(dir_.path() / "unused", {"--database", database});
  ApiClient owner(postgres.port(), token);
  EXPECT_EQ(owner.get("/api/me").status, 200);
  EXPECT_EQ(ApiClient(postgres.port(), revoked).get("/api/me").status, 401);
  // The feed is the same, positions and all: a device's cursor reads on from where it was.
  const ApiResult changes = owner.get("/api/sync/changes?since=0");
  EXPECT_EQ(json::serialize(changes.at("changes")), feed);
  EXPECT_EQ(owner.get("/api/sync/changes?since=" + cursor).at("changes").as_array().size(), 0u);
  EXPECT_EQ(json::serialize(owner.get("/api/history?store=journal&key=k").body), history);
  // The lost answer's change, sent again, is acknowledged and not applied twice.
  const ApiResult again = owner.post("/api/sync/patch", pending);
  ASSERT_EQ(again.status, 200) << json::serialize(again.body);
  EXPECT_EQ(again.at("ack"), 4);
  EXPECT_EQ(std::string(again.at("cursor").as_string()), cursor);
  // Members keep their roles; new changes go on after the copied positions.
  ApiClient viewer(postgres.port(), viewer_token);
  EXPECT_EQ(viewer.get("/api/sync/changes?since=0&dataset=" + shared).status, 200);
  EXPECT_EQ(viewer.post("/api/sync/patch", journal_put("v", 1, "x", 1, shared)).error_code(),
            "forbidden");
  const ApiResult next = owner.post("/api/sync/patch", journal_put("laptop", 5, "k", 5));
  EXPECT_EQ(std::stoull(std::string(next.at("cursor").as_string())), std::stoull(cursor) + 1);
  const ApiResult guest = owner.post_text("/api/auth/guest", "");
  EXPECT_EQ(guest.status, 201);  // history ids and everything else go on too
}

TEST_F(CopyTest, ACopyGoesOnlyIntoAnEmptyDatabase) {
  {
    Cairnd sqlite(data_);
    ApiClient::guest(sqlite.port());
    sqlite.process().signal(SIGTERM);
    ASSERT_EQ(sqlite.process().wait(), 0);
  }
  const std::string database = new_postgres_database();
  ASSERT_EQ(copy(database).status, 0);
  const RunResult twice = copy(database);
  EXPECT_EQ(twice.status, 1);
  EXPECT_NE((twice.out + twice.err).find("already holds cairnd data"), std::string::npos)
      << twice.out << twice.err;
  // Nor from a data directory a running cairnd holds.
  Cairnd running(data_);
  const RunResult busy = copy(new_postgres_database());
  EXPECT_EQ(busy.status, 1);
  EXPECT_NE((busy.out + busy.err).find("in use by another cairnd"), std::string::npos) << busy.out;
}

// docs/operations.md's restore: pg_dump while cairnd runs; later pg_restore into a new database
// and cairnd --after-restore, which moves the feeds past every position handed out before.
TEST_F(CopyTest, APgDumpRestoredWithAfterRestoreServesDevicesThatSyncedSinceTheBackup) {
  const std::string database = new_postgres_database();
  const std::filesystem::path dump = dir_.path() / "cairn.dump";
  std::string token, backup_cursor, later_cursor;
  {
    Cairnd node(dir_.path() / "a", {"--database", database});
    ApiClient device = ApiClient::guest(node.port());
    token = device.token();
    ASSERT_EQ(device.post("/api/sync/patch", journal_put("laptop", 1, "k", 1)).status, 200);
    backup_cursor = std::string(device.get("/api/sync/changes?since=0").at("cursor").as_string());
    const RunResult dumped =
        run({"/usr/bin/pg_dump", "--format=custom", "--file", dump.string(), database});
    ASSERT_EQ(dumped.status, 0) << dumped.err;
    // Written after the backup: lost with the disaster, but a device already has its cursor.
    ASSERT_EQ(device.post("/api/sync/patch", journal_put("laptop", 2, "k", 2)).status, 200);
    later_cursor = std::string(device.get("/api/sync/changes?since=0").at("cursor").as_string());
  }
  const std::string restored = new_postgres_database();
  const RunResult loaded =
      run({"/usr/bin/pg_restore", "--no-owner", "--dbname", restored, dump.string()});
  ASSERT_EQ(loaded.status, 0) << loaded.err;
  const RunResult prepared = run({CAIRND_PATH, "--database", restored, "--after-restore"});
  ASSERT_EQ(prepared.status, 0) << prepared.out << prepared.err;
  EXPECT_NE(prepared.out.find("forward by 4294967296"), std::string::npos) << prepared.out;

  Cairnd node(dir_.path() / "b", {"--database", restored});
  ApiClient device(node.port(), token);
  // A write after the restore reaches the device that synced after the backup, from its cursor.
  ApiClient other = ApiClient(node.port(), token);
  ASSERT_EQ(other.post("/api/sync/patch", journal_put("phone", 1, "p", "after")).status, 200);
  const ApiResult from_later = device.get("/api/sync/changes?since=" + later_cursor);
  ASSERT_EQ(from_later.status, 200);
  ASSERT_EQ(from_later.at("changes").as_array().size(), 1u);
  EXPECT_EQ(from_later.at("changes").at(0).at("key"), "p");
  const ApiResult from_backup = device.get("/api/sync/changes?since=" + backup_cursor);
  EXPECT_EQ(from_backup.at("changes").as_array().size(), 1u);
  // SQLite's data directory is restored with --restore-from instead.
  EXPECT_EQ(run({CAIRND_PATH, "--data", data_.string(), "--after-restore"}).status, 1);
}

}  // namespace
}  // namespace cairn::test
