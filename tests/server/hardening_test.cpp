// Bad input, load and shutdown: cairnd answers every malformed request with the right status and
// error body and keeps serving everyone else.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <csignal>
#include <fstream>
#include <thread>

#include "support/api_client.hpp"
#include "support/cairnd.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;

constexpr const char* kSchema = R"({"stores": {
  "playerStatistics": {"version": 1, "policy": {"merge": "field-lww", "counters": ["xp"]}}}})";

class HardeningTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    std::ofstream(dir_ / "schema.json") << kSchema;
    extra.push_back("--schema");
    extra.push_back((dir_ / "schema.json").string());
    cairnd_ = std::make_unique<Cairnd>(dir_ / "data", extra);
  }
  void expect_error(const ApiResult& result, int status, const std::string& code) {
    EXPECT_EQ(result.status, status) << json::serialize(result.body);
    EXPECT_EQ(result.error_code(), code) << json::serialize(result.body);
    EXPECT_TRUE(result.body.at("error").at("message").is_string());
  }
  std::uint16_t port() const { return cairnd_->port(); }

  TempDir dir_;
  std::unique_ptr<Cairnd> cairnd_;
};

TEST_F(HardeningTest, MalformedRequestsGetPreciseErrorsAndTheServerKeepsServing) {
  start({"--max-body-bytes", "65536", "--max-json-depth", "32"});
  ApiClient client = ApiClient::guest(port());
  expect_error(client.post_text("/api/sync/full", "{not json"), 400, "malformed_json");
  expect_error(client.post_text("/api/sync/full", "[1,2,3]"), 400, "malformed_json");
  expect_error(client.post("/api/sync/full", json::parse(R"({"journal": 42})")), 400,
               "invalid_request");
  expect_error(client.post("/api/sync/patch", json::parse(R"({"journal": {"added": []}})")), 400,
               "invalid_request");
  expect_error(client.post("/api/sync/patch", json::parse(R"({"changes": [{"store": "j"}]})")), 400,
               "invalid_request");
  expect_error(client.post("/api/sync/patch", json::parse(R"({"clientId": 7})")), 400,
               "invalid_request");
  expect_error(
      client.post(
          "/api/sync/patch",
          json::parse(
              R"({"changes": [{"store":"j","key":"k","op":"put","value":1,"hlc":"yesterday"}]})")),
      400, "invalid_request");
  std::string deep(40, '[');
  deep = R"({"journal": {"k": )" + deep + std::string(40, ']') + "}}";
  expect_error(client.post_text("/api/sync/full", deep), 400, "json_too_deep");
  const std::string huge = R"({"journal": {"k": ")" + std::string(70000, 'x') + R"("}})";
  expect_error(client.post_text("/api/sync/full", huge), 413, "payload_too_large");
  ApiClient again = ApiClient::guest(port());  // a new connection: the 413 closed the last one
  expect_error(again.post("/api/sync/full", json::object{{"journal", json::object{{"", 1}}}}), 422,
               "invalid_key");
  expect_error(again.post("/api/sync/full",
                          json::object{{"journal", json::object{{std::string(2000, 'k'), 1}}}}),
               422, "invalid_key");
  // Invalid UTF-8 cannot even be JSON.
  expect_error(again.post_text("/api/sync/full", "{\"journal\": {\"bad\\udc00key\": 1}}"), 400,
               "malformed_json");
  expect_error(again.post_text("/api/sync/full", "{\"journal\": {\"bad\xff\": 1}}"), 400,
               "malformed_json");

  expect_error(again.post("/api/sync/full", json::object{{"bad store!", json::object{}}}), 422,
               "invalid_store");
  expect_error(again.get("/api/nothing/here"), 404, "not_found");
  expect_error(again.get("/api/sync/full"), 405, "method_not_allowed");
  expect_error(again.get("/api/history?store=journal"), 400, "invalid_request");
  EXPECT_EQ(again.post("/api/sync/full", json::object{}).status, 200);
  EXPECT_EQ(cairnd_->client().request("GET", "/healthz").status, 200);
}

TEST_F(HardeningTest, ValuesOverTheLimitAre422) {
  start({"--max-value-bytes", "100"});
  ApiClient client = ApiClient::guest(port());
  expect_error(client.post("/api/sync/full",
                           json::object{{"journal", json::object{{"k", std::string(200, 'v')}}}}),
               422, "value_too_large");
}

TEST_F(HardeningTest, TooManyRequestsAreAskedToWait) {
  start({"--rate-limit", "2", "--rate-burst", "3"});
  ApiClient client = ApiClient::guest(port());
  int limited = 0;
  std::string retry_after;
  for (int i = 0; i < 6; ++i) {
    const ApiResult result = client.get("/api/me");
    if (result.status == 429) {
      ++limited;
      retry_after = result.headers.at("retry-after");
      EXPECT_EQ(result.error_code(), "rate_limited");
    }
  }
  EXPECT_GE(limited, 2);
  EXPECT_FALSE(retry_after.empty());
  EXPECT_GE(std::stoi(retry_after), 1);
}

TEST_F(HardeningTest, AStalledClientIsCutOffWithoutHoldingUpOthers) {
  start({"--idle-timeout-ms", "300"});
  // The client would wait ten minutes: only the server's idle timeout can end this request.
  HttpClient stalled("127.0.0.1", port(), std::chrono::minutes(10));
  std::thread others([&] {
    ApiClient client = ApiClient::guest(port());
    for (int i = 0; i < 20; ++i)
      EXPECT_EQ(client.get("/api/me").status, 200);
  });
  // Headers that never end.
  const HttpResult result = stalled.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  others.join();
  EXPECT_EQ(result.status, 0);  // the server closed the connection ...
  EXPECT_EQ(result.error.find("in time"), std::string::npos) << result.error;  // ... not the client
  EXPECT_EQ(cairnd_->client().request("GET", "/healthz").status, 200);
}

// 50 clients, each sending 200 numbered changes in batches, all into one shared dataset,
// incrementing one shared counter: every change is applied exactly once and nothing fails.
TEST_F(HardeningTest, FiftyConcurrentClientsApplyEveryChangeExactlyOnce) {
  start({"--rate-limit", "0"});
  ApiClient owner = ApiClient::guest(port());
  const std::string dataset = std::string(
      owner.post("/api/datasets", json::object{{"name", "load"}}).at("datasetId").as_string());
  constexpr int kClients = 50, kChanges = 200, kBatch = 20;
  std::vector<std::unique_ptr<ApiClient>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::make_unique<ApiClient>(ApiClient::guest(port())));
    owner.post("/api/datasets/" + dataset + "/members",
               json::object{{"userId", clients.back()->user_id()}, {"role", "editor"}});
  }
  std::atomic<int> failures{0}, server_errors{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      ApiClient& client = *clients[c];
      for (int first = 1; first <= kChanges; first += kBatch) {
        json::array changes;
        for (int seq = first; seq < first + kBatch; ++seq) {
          changes.push_back(json::object{{"seq", seq},
                                         {"store", "playerStatistics"},
                                         {"key", "shared"},
                                         {"op", "patch"},
                                         {"add", json::object{{"xp", 1}}}});
        }
        const json::object request{{"dataset", dataset},
                                   {"clientId", "client-" + std::to_string(c)},
                                   {"changes", std::move(changes)}};
        // Every batch is sent twice, as a retry after a lost acknowledgement would.
        for (int attempt = 0; attempt < 2; ++attempt) {
          const ApiResult result = client.post("/api/sync/patch", request);
          if (result.status >= 500) ++server_errors;
          if (result.status != 200 || result.at("ack") != first + kBatch - 1) ++failures;
        }
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(server_errors.load(), 0);
  EXPECT_EQ(failures.load(), 0);
  const ApiResult full = owner.post("/api/sync/full", json::object{{"dataset", dataset}});
  EXPECT_EQ(full.at("playerStatistics").at("shared"),
            json::value(json::object{{"xp", kClients * kChanges}}));
}

// SIGTERM while clients are busy: requests in flight are answered, every acknowledged change is
// there after a restart, and cairnd exits cleanly.
TEST_F(HardeningTest, ShutdownFinishesRequestsInFlightAndLosesNothing) {
  start({"--rate-limit", "0"});
  ApiClient client = ApiClient::guest(port());
  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0}, torn{0};
  std::thread writer([&] {
    for (int seq = 1; !stop.load(); ++seq) {
      const ApiResult result = client.post(
          "/api/sync/patch",
          json::object{{"clientId", "w"},
                       {"changes", json::array{json::object{{"seq", seq},
                                                            {"store", "playerStatistics"},
                                                            {"key", "k"},
                                                            {"op", "patch"},
                                                            {"add", json::object{{"xp", 1}}}}}}});
      if (result.status == 200) {
        acknowledged = static_cast<int>(result.at("ack").as_int64());
        acknowledged.notify_all();
      } else if (result.status != 0) {
        ++torn;  // an answer that is neither a success nor a closed connection
      }
      if (result.status == 0) break;  // the server has gone
    }
  });
  // Stop the server while writes are in flight: once a few have been acknowledged.
  for (int seen = acknowledged.load(); seen < 20; seen = acknowledged.load())
    acknowledged.wait(seen);
  cairnd_->process().signal(SIGTERM);
  EXPECT_EQ(cairnd_->process().wait(std::chrono::seconds(15)), 0);
  stop = true;
  writer.join();
  EXPECT_EQ(torn.load(), 0);
  ASSERT_GT(acknowledged.load(), 0);
  const std::string token = client.token();
  cairnd_ = std::make_unique<Cairnd>(
      dir_ / "data", std::vector<std::string>{"--schema", (dir_ / "schema.json").string()});
  ApiClient again(port(), token);
  const ApiResult full = again.post("/api/sync/full", json::object{});
  EXPECT_GE(full.at("playerStatistics").at("k").at("xp").as_int64(), acknowledged.load());
  // ... and exactly the applied ones: the next number expected follows them.
  const ApiResult next = again.post(
      "/api/sync/patch",
      json::object{{"clientId", "w"},
                   {"changes", json::array{json::object{{"seq", 1},
                                                        {"store", "playerStatistics"},
                                                        {"key", "k"},
                                                        {"op", "patch"},
                                                        {"add", json::object{{"xp", 1}}}}}}});
  EXPECT_EQ(next.at("ack"), full.at("playerStatistics").at("k").at("xp"));
}

}  // namespace
}  // namespace cairn::test
