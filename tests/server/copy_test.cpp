// cairnd --copy-to: a SQLite server's data moved into PostgreSQL, checked, and served from there
// with nothing lost: tokens, revocations, datasets and members, the feed's positions, each
// client's exactly-once record, history. Real processes, a real PostgreSQL (scripts/test.sh
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

json::object put(const std::string& client, std::uint64_t seq, const std::string& key,
                 json::value value, const std::string& dataset = "") {
  json::object body{
      {"clientId", client},
      {"changes", json::array{change(seq, "journal", key, "put", {{"value", value}})}}};
  if (!dataset.empty()) body["dataset"] = dataset;
  return body;
}

class CopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!postgres_server()) {
      GTEST_SKIP() << "copying into PostgreSQL needs one: set CAIRN_TEST_POSTGRES "
                      "(scripts/test.sh starts a cluster)";
    }
  }
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
      ASSERT_EQ(owner.post("/api/sync/patch", put("laptop", seq, "k", seq)).status, 200);
    }
    ASSERT_EQ(owner.post("/api/sync/patch", put("phone", 1, "s", "shared", shared)).status, 200);
    pending = put("laptop", 4, "k", 4);
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
  EXPECT_EQ(viewer.post("/api/sync/patch", put("v", 1, "x", 1, shared)).error_code(), "forbidden");
  const ApiResult next = owner.post("/api/sync/patch", put("laptop", 5, "k", 5));
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

}  // namespace
}  // namespace cairn::test
