// The sync API, black-box: a real cairnd on a loopback port, spoken to over TCP.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>

#include "support/api_client.hpp"
#include "support/cairnd.hpp"
#include "support/sync_bodies.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;

json::value j(std::string_view text) {
  return json::parse(text);
}

// A schema that gives playerStatistics an xp counter and makes journal whole-entry.
constexpr const char* kSchema = R"({"stores": {
  "journal": {"version": 1, "policy": {"merge": "lww"}},
  "playerStatistics": {"version": 1, "policy": {"merge": "field-lww", "counters": ["xp"]}}}})";

class SyncApiTest : public ::testing::Test {
 protected:
  SyncApiTest() {
    std::ofstream(dir_ / "schema.json") << kSchema;
    cairnd_ = std::make_unique<Cairnd>(
        dir_ / "data", std::vector<std::string>{"--schema", (dir_ / "schema.json").string()});
  }
  std::uint16_t port() const { return cairnd_->port(); }

  TempDir dir_;
  std::unique_ptr<Cairnd> cairnd_;
};

TEST_F(SyncApiTest, TheRoadmapsFullSyncRequestGetsTheRoadmapsResponse) {
  ApiClient client = ApiClient::guest(port());
  // The request exactly as the roadmap's API contract writes it.
  const ApiResult result = client.post("/api/sync/full", j(R"({
    "journal": {"2026/02/01/10:00": {"text": "Walked to the lake", "mood": 4}},
    "cdagTopology": {"node:running": {"label": "Running", "edges": ["node:health"]}},
    "playerStatistics": {"running": {"xp": 120, "level": 3}},
    "userInformation": {"profile": {"displayName": "Ada"}},
    "aiConfig": {"assistant": {"model": "small"}},
    "integrations": {"calendar": {"enabled": true}},
    "clientVersion": "1.0.0",
    "lastSyncTime": 1706000000000
  })"));
  ASSERT_EQ(result.status, 200) << json::serialize(result.body);
  for (const char* store : {"journal", "cdagTopology", "playerStatistics", "userInformation",
                            "aiConfig", "integrations"}) {
    EXPECT_TRUE(result.body.as_object().contains(store)) << store;
  }
  EXPECT_EQ(result.at("journal").at("2026/02/01/10:00"),
            j(R"({"text":"Walked to the lake","mood":4})"));
  EXPECT_EQ(result.at("userInformation").at("profile"), j(R"({"displayName":"Ada"})"));
  EXPECT_TRUE(result.at("serverTime").is_int64());
  EXPECT_TRUE(result.at("conflictResolutions").is_array());
  EXPECT_TRUE(result.at("cursor").is_string());
  // Without clocks, the server stamped the entries itself.
  EXPECT_EQ(result.at("meta").at("journal").at("2026/02/01/10:00").at("replica"),
            json::value("user:" + client.user_id()));
}

// The server writes numbers as JavaScript does: the default profile's temperature is 0.3.
TEST_F(SyncApiTest, NumbersAreWrittenTheWayJavaScriptWritesThem) {
  ApiClient guest = ApiClient::guest(port());
  HttpClient http = cairnd_->client();
  const HttpResult full =
      http.request("POST", "/api/sync/full", "{}", {{"Authorization", "Bearer " + guest.token()}});
  ASSERT_EQ(full.status, 200) << full.body;
  EXPECT_NE(full.body.find(R"("temperature":0.3)"), std::string::npos) << full.body;
  EXPECT_EQ(full.body.find("E-1"), std::string::npos) << full.body;
}

TEST_F(SyncApiTest, AnyStoreNameIsAStore) {
  ApiClient client = ApiClient::guest(port());
  const ApiResult result = client.post(
      "/api/sync/full", j(R"({"habits": {"water": {"glasses": 3}}, "clientVersion": "2.0"})"));
  ASSERT_EQ(result.status, 200);
  EXPECT_EQ(result.at("habits").at("water"), j(R"({"glasses":3})"));
}

TEST_F(SyncApiTest, ThePatchFormAddsUpdatesAndDeletes) {
  ApiClient client = ApiClient::guest(port());
  ASSERT_EQ(client
                .post("/api/sync/patch", j(R"({"journal": {
      "added": {"a": {"t": 1}, "b": {"t": 2}}, "updated": {}}})"))
                .status,
            200);
  const ApiResult result = client.post("/api/sync/patch", j(R"({"journal": {
      "updated": {"a": {"t": 10}}, "deleted": ["b"]}, "cursor": "0"})"));
  ASSERT_EQ(result.status, 200) << json::serialize(result.body);
  std::map<std::string, json::value> seen;
  for (const auto& item : result.at("changes").as_array()) {
    if (item.at("store") == "journal") {
      seen[std::string(item.at("key").as_string())] =
          item.as_object().contains("value") ? item.at("value") : json::value("<deleted>");
    }
  }
  EXPECT_EQ(seen["a"], j(R"({"t":10})"));
  EXPECT_EQ(seen["b"], json::value("<deleted>"));
  EXPECT_FALSE(result.at("hasMore").as_bool());
}

TEST_F(SyncApiTest, AnOlderWriteLosesAndTheServerSaysSo) {
  ApiClient client = ApiClient::guest(port());
  ASSERT_EQ(client
                .post("/api/sync/patch",
                      json::object{{"clientId", "phone"},
                                   {"changes",
                                    json::array{change(1, "journal", "k", "put",
                                                       {{"value", "phone"}}, "1710000000000:0")}}})
                .status,
            200);
  const ApiResult laptop = client.post(
      "/api/sync/patch",
      json::object{{"clientId", "laptop"},
                   {"changes", json::array{change(1, "journal", "k", "put", {{"value", "laptop"}},
                                                  "1700000000000:0")}}});
  ASSERT_EQ(laptop.status, 200);
  EXPECT_EQ(laptop.at("conflictResolutions"),
            j(R"([{"store":"journal","path":"k","resolution":"server-won"}])"));
  const ApiResult full = client.post("/api/sync/full", json::object{});
  EXPECT_EQ(full.at("journal").at("k"), json::value("phone"));
}

TEST_F(SyncApiTest, ANewerWriteOverAnUnseenOneWinsAndTheServerSaysSo) {
  ApiClient client = ApiClient::guest(port());
  ASSERT_EQ(client
                .post("/api/sync/patch",
                      json::object{{"clientId", "phone"},
                                   {"changes",
                                    json::array{change(1, "journal", "k", "put",
                                                       {{"value", "phone"}}, "1700000000000:0")}}})
                .status,
            200);
  // The laptop last synced before the phone's write (cursor 0) and writes later.
  const ApiResult laptop = client.post(
      "/api/sync/patch",
      json::object{{"clientId", "laptop"},
                   {"cursor", "0"},
                   {"changes", json::array{change(1, "journal", "k", "put", {{"value", "laptop"}},
                                                  "1705000000000:0")}}});
  ASSERT_EQ(laptop.status, 200);
  EXPECT_EQ(laptop.at("conflictResolutions"),
            j(R"([{"store":"journal","path":"k","resolution":"client-won"}])"));
  // The decisions are kept in the entry's history.
  const ApiResult history = client.get("/api/history?store=journal&key=k");
  ASSERT_EQ(history.status, 200);
  const auto& versions = history.at("versions").as_array();
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].at("clientId"), "phone");
  EXPECT_EQ(versions[1].at("clientId"), "laptop");
  EXPECT_EQ(versions[1].at("resolution"), "client-won");
  EXPECT_EQ(versions[1].at("userId"), json::value(client.user_id()));
  EXPECT_TRUE(versions[1].at("serverTime").is_int64());
}

TEST_F(SyncApiTest, ConcurrentEditsToDifferentFieldsBothSurvive) {
  ApiClient client = ApiClient::guest(port());
  client.post(
      "/api/sync/patch",
      json::object{{"clientId", "a"},
                   {"changes", json::array{change(1, "userInformation", "settings", "patch",
                                                  {{"set", {{"name", "Ada"}, {"theme", "light"}}}},
                                                  "1700000000000:0")}}});
  client.post("/api/sync/patch",
              json::object{{"clientId", "a"},
                           {"changes", json::array{change(2, "userInformation", "settings", "patch",
                                                          {{"set", {{"name", "Ada L."}}}},
                                                          "1700000000100:0")}}});
  const ApiResult b = client.post(
      "/api/sync/patch",
      json::object{
          {"clientId", "b"},
          {"changes", json::array{change(1, "userInformation", "settings", "patch",
                                         {{"set", {{"theme", "dark"}}}}, "1700000000050:0")}}});
  ASSERT_EQ(b.status, 200);
  const ApiResult full = client.post("/api/sync/full", json::object{});
  EXPECT_EQ(full.at("userInformation").at("settings"), j(R"({"name":"Ada L.","theme":"dark"})"));
}

TEST_F(SyncApiTest, CounterIncrementsFromSeveralClientsAddUp) {
  ApiClient client = ApiClient::guest(port());
  for (const char* device : {"phone", "laptop", "tablet"}) {
    const ApiResult result = client.post(
        "/api/sync/patch",
        json::object{{"clientId", device},
                     {"changes", json::array{change(1, "playerStatistics", "running", "patch",
                                                    {{"add", {{"xp", 25}}}}),
                                             change(2, "playerStatistics", "running", "patch",
                                                    {{"add", {{"xp", 5}}}})}}});
    ASSERT_EQ(result.status, 200);
  }
  EXPECT_EQ(client.post("/api/sync/full", json::object{}).at("playerStatistics").at("running"),
            j(R"({"xp":90})"));
}

TEST_F(SyncApiTest, ARepeatedRequestIsAcknowledgedAndAppliedOnce) {
  ApiClient client = ApiClient::guest(port());
  const json::value request = json::object{
      {"clientId", "phone"},
      {"changes",
       json::array{change(1, "playerStatistics", "running", "patch", {{"add", {{"xp", 10}}}}),
                   change(2, "journal", "a", "put", {{"value", 1}})}}};
  for (int i = 0; i < 3; ++i) {
    const ApiResult result = client.post("/api/sync/patch", request);
    ASSERT_EQ(result.status, 200);
    EXPECT_EQ(result.at("ack"), 2);
  }
  EXPECT_EQ(client.post("/api/sync/full", json::object{}).at("playerStatistics").at("running"),
            j(R"({"xp":10})"));
  EXPECT_EQ(client.get("/api/history?store=playerStatistics&key=running")
                .at("versions")
                .as_array()
                .size(),
            1u);
}

TEST_F(SyncApiTest, AGapInTheSequenceIsRefusedWithTheNumberExpected) {
  ApiClient client = ApiClient::guest(port());
  client.post(
      "/api/sync/patch",
      json::object{{"clientId", "phone"},
                   {"changes", json::array{change(1, "journal", "a", "put", {{"value", 1}})}}});
  const ApiResult gap = client.post(
      "/api/sync/patch",
      json::object{{"clientId", "phone"},
                   {"changes", json::array{change(3, "journal", "c", "put", {{"value", 3}})}}});
  EXPECT_EQ(gap.status, 409);
  EXPECT_EQ(gap.error_code(), "sequence_gap");
  EXPECT_EQ(gap.at("error").at("expected"), 2);
  const ApiResult full = client.post("/api/sync/full", json::object{});
  EXPECT_FALSE(full.at("journal").as_object().contains("c"));
}

// A client whose numbering started again (its database restored from a backup) sends different
// changes under numbers the server already applied: acknowledging them would drop them.
TEST_F(SyncApiTest, OtherChangesUnderNumbersAlreadyAppliedAreRefused) {
  ApiClient client = ApiClient::guest(port());
  const auto send = [&](json::array changes) {
    return client.post("/api/sync/patch",
                       json::object{{"clientId", "phone"}, {"changes", std::move(changes)}});
  };
  ASSERT_EQ(send({change(1, "journal", "a", "put", {{"value", 1}}, "1700000000000:0"),
                  change(2, "journal", "b", "put", {{"value", 2}}, "1700000000001:0")})
                .status,
            200);
  // The same changes again are a resend: acknowledged, applied once.
  EXPECT_EQ(send({change(2, "journal", "b", "put", {{"value", 2}}, "1700000000001:0")}).at("ack"),
            2);
  // Other changes under those numbers, whether all of them or some were applied before: refused,
  // nothing of them applied, and the answer says through which number they were true resends.
  const std::pair<json::array, int> cases[] = {
      {{change(2, "journal", "x", "put", {{"value", 9}}, "1700000000005:0")}, 1},
      {{change(2, "journal", "b", "put", {{"value", 9}}, "1700000000005:0"),
        change(3, "journal", "y", "put", {{"value", 9}}, "1700000000006:0")},
       1},
      {{change(1, "journal", "a", "delete", {}, "1700000000000:0")}, 0},
      {{change(1, "journal", "a", "put", {{"value", 1}}, "1700000000000:0"),
        change(2, "journal", "z", "put", {{"value", 9}}, "1700000000001:0")},
       1}};
  for (const auto& [changes, matched] : cases) {
    const ApiResult reused = send(changes);
    EXPECT_EQ(reused.status, 409) << json::serialize(changes);
    EXPECT_EQ(reused.error_code(), "sequence_reused");
    EXPECT_EQ(reused.at("error").at("appliedThrough"), 2);
    EXPECT_EQ(reused.at("error").at("matchedThrough"), matched);
  }
  const ApiResult full = client.post("/api/sync/full", json::object{});
  EXPECT_EQ(full.at("journal"), j(R"({"a":1,"b":2})"));
}

// Requests captured from one client, delivered in every order (as a flaky network and retries
// might), with the client resending from the acknowledged point after each refusal: the stores
// and the counter always end as if each change had been applied once, in order.
TEST_F(SyncApiTest, CapturedRequestsReplayedInEveryOrderApplyExactlyOnce) {
  const std::vector<json::value> captured = {
      json::object{{"clientId", "c"},
                   {"changes",
                    json::array{change(1, "playerStatistics", "s", "patch", {{"add", {{"xp", 1}}}}),
                                change(2, "journal", "a", "put", {{"value", "a1"}})}}},
      json::object{{"clientId", "c"},
                   {"changes", json::array{change(3, "playerStatistics", "s", "patch",
                                                  {{"add", {{"xp", 10}}}})}}},
      json::object{{"clientId", "c"},
                   {"changes", json::array{change(4, "journal", "a", "put", {{"value", "a2"}}),
                                           change(5, "playerStatistics", "s", "patch",
                                                  {{"add", {{"xp", 100}}}})}}},
      json::object{{"clientId", "c"},
                   {"changes", json::array{change(6, "journal", "b", "delete", {}),
                                           change(7, "playerStatistics", "s", "patch",
                                                  {{"add", {{"xp", 1000}}}})}}},
  };
  std::vector<int> order = {0, 1, 2, 3};
  int permutations = 0;
  do {
    ApiClient client = ApiClient::guest(port());  // a fresh dataset per order
    for (int i : order)
      client.post("/api/sync/patch", captured[i]);
    // The client then resends whatever was not acknowledged, from the acknowledged point.
    for (const auto& request : captured) {
      const ApiResult result = client.post("/api/sync/patch", request);
      ASSERT_EQ(result.status, 200) << json::serialize(result.body);
    }
    const ApiResult full = client.post("/api/sync/full", json::object{});
    EXPECT_EQ(full.at("playerStatistics").at("s"), j(R"({"xp":1111})"));
    EXPECT_EQ(full.at("journal").at("a"), json::value("a2"));
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 24);
}

TEST_F(SyncApiTest, TheChangeFeedPagesAndRefusesForeignCursors) {
  ApiClient client = ApiClient::guest(port());
  json::object added;
  for (int i = 0; i < 25; ++i)
    added["k" + std::to_string(i)] = i;
  ASSERT_EQ(
      client.post("/api/sync/patch", json::object{{"journal", json::object{{"added", added}}}})
          .status,
      200);
  std::string cursor = "0";
  std::size_t seen = 0;
  for (int page = 0; page < 10; ++page) {
    const ApiResult result = client.get("/api/sync/changes?since=" + cursor + "&limit=10");
    ASSERT_EQ(result.status, 200);
    seen += result.at("changes").as_array().size();
    cursor = result.at("cursor").as_string();
    if (!result.at("hasMore").as_bool()) break;
  }
  EXPECT_EQ(seen, 25u + 2u);  // and the two entries of the seeded profile
  EXPECT_EQ(client.get("/api/sync/changes?since=" + cursor).at("changes").as_array().size(), 0u);
  const ApiResult future = client.get("/api/sync/changes?since=999999");
  EXPECT_EQ(future.status, 410);
  EXPECT_EQ(future.error_code(), "cursor_expired");
  EXPECT_EQ(client.get("/api/sync/changes?since=abc").status, 400);
}

TEST_F(SyncApiTest, AClockFarInTheFutureIsRefused) {
  ApiClient client = ApiClient::guest(port());
  const ApiResult result = client.post(
      "/api/sync/patch",
      json::object{{"clientId", "c"},
                   {"changes", json::array{change(1, "journal", "a", "put", {{"value", 1}},
                                                  "99999999999999:0")}}});
  EXPECT_EQ(result.status, 422);
  EXPECT_EQ(result.error_code(), "clock_skew");
}

TEST_F(SyncApiTest, MetricsCountChangesAndConflicts) {
  ApiClient client = ApiClient::guest(port());
  client.post("/api/sync/patch",
              json::object{{"clientId", "a"},
                           {"changes", json::array{change(1, "journal", "k", "put", {{"value", 1}},
                                                          "1700000000100:0")}}});
  client.post("/api/sync/patch",
              json::object{{"clientId", "b"},
                           {"changes", json::array{change(1, "journal", "k", "put", {{"value", 2}},
                                                          "1700000000000:0")}}});
  const HttpResult metrics = cairnd_->client().request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("cairnd_changes_applied_total 1"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("cairnd_conflicts_total{resolution=\"server-won\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace cairn::test
