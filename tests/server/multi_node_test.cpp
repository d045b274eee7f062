// Several cairnd processes on one PostgreSQL database, as behind a load balancer: a change
// written through one node reaches live subscribers of another by push (LISTEN/NOTIFY), a logout
// or a member's removal on one node takes effect on the others at once, a node that lost its
// listening connection catches up, and a numbered change retried through another node is applied
// once; editors and a libcairn device share a document across nodes. Real processes, a real
// PostgreSQL (scripts/test.sh starts one); skipped without it.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <optional>
#include <string>

#include "protocol/live.hpp"
#include "support/api_client.hpp"
#include "support/cairnd.hpp"
#include "support/live_client.hpp"
#include "support/postgres.hpp"
#include "support/sync_bodies.hpp"
#include "support/temp_dir.hpp"
#include "support/y_client.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

// The keys a changes message carries.
std::vector<std::string> keys(const json::object& message) {
  std::vector<std::string> out;
  for (const json::value& item : message.at("changes").as_array())
    out.emplace_back(item.at("key").as_string());
  return out;
}

class MultiNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_POSTGRES("several nodes");
    database_ = new_postgres_database();
    a_.emplace(dir_.path() / "a", std::vector<std::string>{"--database", database_});
    b_.emplace(dir_.path() / "b", std::vector<std::string>{"--database", database_});
  }

  // SQL as the cluster's superuser, outside the nodes' database.
  static void admin(const std::string& sql) {
    server::StorageConfig config;
    server::set_database(config, *postgres_server() + "/postgres");
    query_storage(config, sql);
  }
  std::string database_name() const { return database_.substr(database_.rfind('/') + 1); }

  // Subscribes `live` to `dataset` (the caller's own when empty).
  static void subscribe(LiveClient& live, const std::string& dataset = "") {
    json::object subscribe{{"type", "subscribe"}};
    if (!dataset.empty()) subscribe["dataset"] = dataset;
    live.send(subscribe);
    live.next("subscribed");
  }

  TempDir dir_;
  std::string database_;
  std::optional<Cairnd> a_, b_;
};

TEST_F(MultiNodeTest, AChangeThroughOneNodeIsPushedToSubscribersOfTheOther) {
  ApiClient on_a = ApiClient::guest(a_->port());
  ApiClient on_b(b_->port(), on_a.token());  // one user, one token, either node
  LiveClient live(b_->port(), on_a.token());
  subscribe(live);

  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    const std::string key = "k" + std::to_string(seq);
    ASSERT_EQ(on_a.post("/api/sync/patch", journal_put("laptop", seq, key, 1)).status, 200);
    const json::object pushed = live.next("changes");
    EXPECT_EQ(keys(pushed), std::vector<std::string>{key});
    // Exactly what the other node's feed says.
    const ApiResult feed = on_b.get("/api/sync/changes?since=0");
    EXPECT_EQ(pushed.at("cursor"), feed.at("cursor"));
  }
}

TEST_F(MultiNodeTest, ANumberedChangeRetriedThroughTheOtherNodeIsAppliedOnce) {
  ApiClient on_a = ApiClient::guest(a_->port());
  ApiClient on_b(b_->port(), on_a.token());
  const json::object body = journal_put("laptop", 1, "k", "once");
  const ApiResult first = on_a.post("/api/sync/patch", body);
  ASSERT_EQ(first.status, 200);
  // The answer was lost; the client retries, and the balancer sends it to the other node.
  const ApiResult retry = on_b.post("/api/sync/patch", body);
  ASSERT_EQ(retry.status, 200);
  EXPECT_EQ(retry.at("ack"), first.at("ack"));
  EXPECT_EQ(retry.at("cursor"), first.at("cursor"));  // nothing new in the feed
  const json::value history = on_b.get("/api/history?store=journal&key=k").at("versions");
  EXPECT_EQ(history.as_array().size(), 1u);
}

TEST_F(MultiNodeTest, ALogoutOnOneNodeClosesLiveConnectionsOnTheOther) {
  ApiClient on_a = ApiClient::guest(a_->port());
  LiveClient live(b_->port(), on_a.token());
  subscribe(live);
  ASSERT_EQ(on_a.post_text("/api/auth/logout", "").status, 204);
  // At once, not at the next token check (a minute by default).
  EXPECT_EQ(live.close_code(10s), protocol::kCloseUnauthorized);
  EXPECT_EQ(ApiClient(b_->port(), on_a.token()).get("/api/me").status, 401);
}

TEST_F(MultiNodeTest, EditorsOfOneDocumentOnDifferentNodesConvergeAndSeeEachOther) {
  ApiClient owner = ApiClient::guest(a_->port());
  const std::string dataset = owner.dataset_id();
  YClient on_a(a_->port(), dataset, "notes", owner.token(), 1);
  YClient on_b(b_->port(), dataset, "notes", owner.token(), 2);
  ASSERT_TRUE(on_a.pump_until([&] { return on_a.synced(); }));
  ASSERT_TRUE(on_b.pump_until([&] { return on_b.synced(); }));
  on_a.insert(0, "from a");
  ASSERT_TRUE(on_b.pump_until([&] { return on_b.text() == "from a"; })) << on_b.text();
  on_b.insert(6, ", from b");
  ASSERT_TRUE(on_a.pump_until([&] { return on_a.text() == "from a, from b"; })) << on_a.text();
  on_a.set_awareness(1, R"({"user":{"name":"ada"}})");
  ASSERT_TRUE(on_b.pump_until([&] { return on_b.awareness().contains(1); }));
  EXPECT_EQ(on_b.awareness().at(1), R"({"user":{"name":"ada"}})");
  // A late joiner on either node gets the whole document; the HTTP form on either agrees.
  YClient late(b_->port(), dataset, "notes", owner.token(), 3);
  ASSERT_TRUE(late.pump_until([&] { return late.text() == "from a, from b"; }));
  EXPECT_EQ(ApiClient(b_->port(), owner.token())
                .get("/api/collab/" + dataset + "/notes")
                .at("json")
                .at("t"),
            "from a, from b");
}

TEST_F(MultiNodeTest, ADeviceSyncingThroughOneNodeAndAnEditorOnTheOtherShareADocument) {
  ApiClient owner = ApiClient::guest(a_->port());
  const std::string dataset = owner.dataset_id();
  YClient editor(b_->port(), dataset, "notes/plan", owner.token(), 7);
  ASSERT_TRUE(editor.pump_until([&] { return editor.synced(); }));
  editor.insert(0, "editor on b. ", "content");
  // Stored: a peer on node a has it.
  YClient watcher(a_->port(), dataset, "notes/plan", owner.token(), 8);
  ASSERT_TRUE(watcher.pump_until([&] { return watcher.text("content") == "editor on b. "; }));
  // A libcairn device syncs through node a: its edit reaches the editor on node b, and it takes
  // in the editor's through node a's feed.
  DatabaseOptions stores;
  stores.stores = {{"notes", 1, MergePolicy::document()}};
  Database device = Database::open(dir_.path() / "device.db", stores);
  auto tx = device.transaction();
  tx.edit_text("notes", "plan", 0, 0, "device via a. ");
  tx.commit();
  SyncOptions options;
  options.server = "http://127.0.0.1:" + std::to_string(a_->port());
  options.token = owner.token();
  const SyncReport report = SyncClient::sync_once(device, options);
  EXPECT_EQ(report.acknowledged, 1u);
  EXPECT_EQ(report.documents, 1u);
  const std::string merged = device.document_text("notes", "plan");
  EXPECT_EQ(merged.size(), std::string("editor on b. device via a. ").size()) << merged;
  ASSERT_TRUE(editor.pump_until([&] { return editor.text("content") == merged; }))
      << editor.text("content");
}

TEST_F(MultiNodeTest, ARemovedMemberLosesTheSubscriptionOnEveryNode) {
  ApiClient owner = ApiClient::guest(a_->port());
  ApiClient viewer = ApiClient::guest(a_->port());
  const std::string dataset = std::string(
      owner.post("/api/datasets", json::object{{"name", "family"}}).at("datasetId").as_string());
  ASSERT_EQ(owner
                .post("/api/datasets/" + dataset + "/members",
                      json::object{{"userId", viewer.user_id()}, {"role", "viewer"}})
                .status,
            200);
  LiveClient live(b_->port(), viewer.token());
  subscribe(live, dataset);
  ASSERT_EQ(owner.del("/api/datasets/" + dataset + "/members/" + viewer.user_id()).status, 204);
  const json::object dropped = live.next("error");
  EXPECT_EQ(dropped.at("code"), "not_found");
  EXPECT_EQ(dropped.at("dataset"), json::value(dataset));
}

TEST_F(MultiNodeTest, ANodeThatLostItsListeningConnectionCatchesUpWhenItIsBack) {
  ApiClient on_a = ApiClient::guest(a_->port());
  LiveClient live(b_->port(), on_a.token());
  subscribe(live);
  ASSERT_EQ(on_a.post("/api/sync/patch", journal_put("laptop", 1, "before", 1)).status, 200);
  EXPECT_EQ(keys(live.next("changes")), std::vector<std::string>{"before"});

  // The listening connections end and cannot come back; the pool's stay, so node A still writes.
  admin("ALTER DATABASE " + database_name() + " ALLOW_CONNECTIONS false");
  admin(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
      "'cairnd-listen' AND datname = '" +
      database_name() + "'");
  ASSERT_EQ(on_a.post("/api/sync/patch", journal_put("laptop", 2, "while-deaf", 2)).status, 200);
  EXPECT_FALSE(live.socket().receive(300ms).has_value());  // nobody told node B

  admin("ALTER DATABASE " + database_name() + " ALLOW_CONNECTIONS true");
  EXPECT_EQ(keys(live.next("changes", 20s)), std::vector<std::string>{"while-deaf"});
  // And it hears commits again.
  ASSERT_EQ(on_a.post("/api/sync/patch", journal_put("laptop", 3, "after", 3)).status, 200);
  EXPECT_EQ(keys(live.next("changes")), std::vector<std::string>{"after"});
  const std::string metrics = b_->client().request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("cairnd_db_listening 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("cairnd_db_listen_reconnects_total 1\n"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace cairn::test
