// cairnd as a black box: a real process on a loopback port, spoken to over TCP.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <csignal>
#include <fstream>
#include <thread>

#include "support/cairnd.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;

void expect_error_body(const HttpResult& result, int status, const std::string& code) {
  EXPECT_EQ(result.status, status) << result.body;
  const json::value body = json::parse(result.body);
  EXPECT_EQ(body.at("error").at("code"), code.c_str()) << result.body;
  EXPECT_TRUE(body.at("error").at("message").is_string());
}

class ServerTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(ServerTest, HealthzAnswersOk) {
  Cairnd cairnd(dir_.path());
  const HttpResult result = cairnd.client().request("GET", "/healthz");
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(json::parse(result.body).at("status"), "ok");
  EXPECT_EQ(result.headers.at("content-type"), "application/json");
}

// While its database cannot be reached, cairnd answers 503 with Retry-After (never a 500), and
// it recovers by itself when the database is back.
TEST_F(ServerTest, AnUnreachableDatabaseIsA503UntilItReturns) {
  if (!testing_postgres()) GTEST_SKIP() << "PostgreSQL storage only: SQLite is a local file";
  Cairnd cairnd(dir_.path());
  HttpClient client = cairnd.client();
  ASSERT_EQ(client.request("POST", "/api/auth/guest").status, 201);
  const server::StorageConfig storage = test_storage_config(dir_.path());
  const std::string database = storage.database.substr(storage.database.rfind('/') + 1);
  const server::StorageConfig admin = [&] {
    server::StorageConfig config;
    server::set_database(config, *postgres_server() + "/postgres");
    return config;
  }();
  // Cut: no new connections to the database, and the pool's are ended.
  query_storage(admin, "ALTER DATABASE " + database + " ALLOW_CONNECTIONS false");
  query_storage(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
                           database + "'");
  const HttpResult down = client.request("POST", "/api/auth/guest");
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(json::parse(down.body).at("error").at("code"), "unavailable") << down.body;
  EXPECT_TRUE(down.headers.contains("retry-after"));
  // The health check says so, for the load balancer.
  const HttpResult sick = client.request("GET", "/healthz");
  EXPECT_EQ(sick.status, 503) << sick.body;
  EXPECT_EQ(json::parse(sick.body).at("status"), "unavailable") << sick.body;
  EXPECT_TRUE(sick.headers.contains("retry-after"));
  EXPECT_EQ(sick.body.find("password"), std::string::npos);
  query_storage(admin, "ALTER DATABASE " + database + " ALLOW_CONNECTIONS true");
  EXPECT_EQ(client.request("POST", "/api/auth/guest").status, 201);
  const HttpResult well = client.request("GET", "/healthz");
  EXPECT_EQ(well.status, 200) << well.body;
  EXPECT_EQ(json::parse(well.body).at("database"), "ok") << well.body;
  // The pool's figures, for monitoring.
  const std::string metrics = client.request("GET", "/metrics").body;
  for (const char* figure : {"cairnd_db_pool_size 8", "cairnd_db_pool_in_use 0",
                             "cairnd_db_reconnects_total", "cairnd_db_listening"}) {
    EXPECT_NE(metrics.find(figure), std::string::npos) << figure << "\n" << metrics;
  }
}

TEST_F(ServerTest, MetricsArePrometheusTextAndCountRequests) {
  Cairnd cairnd(dir_.path());
  HttpClient client = cairnd.client();
  client.request("GET", "/healthz");
  client.request("GET", "/healthz");
  client.request("GET", "/no/such/route");
  const HttpResult result = client.request("GET", "/metrics");
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.headers.at("content-type"), "text/plain; version=0.0.4");
  EXPECT_NE(result.body.find("cairnd_http_requests_total{route=\"/healthz\",status=\"200\"} 2"),
            std::string::npos)
      << result.body;
  EXPECT_NE(result.body.find("cairnd_http_requests_total{route=\"unknown\",status=\"404\"} 1"),
            std::string::npos);
  EXPECT_NE(result.body.find("# TYPE cairnd_http_request_duration_seconds histogram"),
            std::string::npos);
  EXPECT_NE(result.body.find("cairnd_open_connections 1"), std::string::npos);
}

TEST_F(ServerTest, UnknownRoutesAndMethodsGetJsonErrors) {
  Cairnd cairnd(dir_.path());
  HttpClient client = cairnd.client();
  expect_error_body(client.request("GET", "/api/nothing"), 404, "not_found");
  expect_error_body(client.request("DELETE", "/healthz"), 405, "method_not_allowed");
}

TEST_F(ServerTest, MalformedHttpGets400AndTheServerKeepsServing) {
  Cairnd cairnd(dir_.path());
  HttpClient bad = cairnd.client();
  expect_error_body(bad.send_raw("NOT HTTP AT ALL\r\n\r\n"), 400, "malformed_http");
  HttpClient huge_headers = cairnd.client();
  const HttpResult result = huge_headers.send_raw(
      "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(20000, 'x') + "\r\n\r\n");
  expect_error_body(result, 431, "headers_too_large");
  EXPECT_EQ(cairnd.client().request("GET", "/healthz").status, 200);
}

TEST_F(ServerTest, OversizedBodiesGet413) {
  const auto config = dir_ / "cairnd.json";
  std::ofstream(config) << R"({"maxBodyBytes": 1024})";
  Cairnd cairnd(dir_ / "data", {"--config", config.string()});
  HttpClient client = cairnd.client();
  expect_error_body(client.request("POST", "/healthz", std::string(4096, 'x')), 413,
                    "payload_too_large");
  EXPECT_EQ(cairnd.client().request("GET", "/healthz").status, 200);
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  Cairnd cairnd(dir_.path());
  HttpClient client = cairnd.client();
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(client.request("GET", "/healthz").status, 200);
  const HttpResult metrics = client.request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("cairnd_open_connections 1"), std::string::npos);
}

TEST_F(ServerTest, StopsCleanlyOnSigterm) {
  Cairnd cairnd(dir_.path());
  HttpClient idle = cairnd.client();
  ASSERT_EQ(idle.request("GET", "/healthz").status, 200);  // an idle keep-alive connection
  cairnd.process().signal(SIGTERM);
  EXPECT_EQ(cairnd.process().wait(std::chrono::seconds(10)), 0);
  EXPECT_NE(cairnd.log().find("cairnd stopped"), std::string::npos) << cairnd.log();
}

TEST_F(ServerTest, StopsCleanlyOnSigint) {
  Cairnd cairnd(dir_.path());
  cairnd.process().signal(SIGINT);
  EXPECT_EQ(cairnd.process().wait(std::chrono::seconds(10)), 0);
}

// An acknowledged change must survive power loss: commits are synced before cairnd answers,
// unless the operator chose otherwise.
TEST_F(ServerTest, DurabilityIsFullByDefaultAndNormalOnRequest) {
  SKIP_ON_POSTGRES("--durability is SQLite's; PostgreSQL commits synchronously");
  {
    Cairnd cairnd(dir_ / "full");
    EXPECT_NE(cairnd.log().find("durability=full"), std::string::npos) << cairnd.log();
  }
  Cairnd cairnd(dir_ / "normal", {"--durability", "normal"});
  EXPECT_NE(cairnd.log().find("durability=normal"), std::string::npos) << cairnd.log();
}

TEST_F(ServerTest, AnUnknownDurabilityIsRefusedAtStart) {
  Process cairnd(
      {CAIRND_PATH, "--port", "0", "--data", (dir_ / "data").string(), "--durability", "fast"},
      true);
  std::string output;
  while (auto line = cairnd.read_line())
    output += *line + "\n";
  EXPECT_EQ(cairnd.wait(), 2);
  EXPECT_NE(output.find("--durability must be full or normal"), std::string::npos) << output;
}

TEST_F(ServerTest, CreatesItsDataDirectory) {
  SKIP_ON_POSTGRES("the data directory holds cairnd.db");
  const auto data = dir_ / "nested" / "var";
  Cairnd cairnd(data);
  EXPECT_TRUE(std::filesystem::is_directory(data));
}

TEST_F(ServerTest, ABadConfigFileIsRefusedWithAMessage) {
  const auto config = dir_ / "bad.json";
  std::ofstream(config) << R"({"port": "not a number"})";
  const RunResult result = run({CAIRND_PATH, "--config", config.string()});
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.err.find("port"), std::string::npos) << result.err;
}

TEST_F(ServerTest, ABusyPortIsAClearStartupError) {
  Cairnd first(dir_ / "first");
  const RunResult result = run(
      {CAIRND_PATH, "--port", std::to_string(first.port()), "--data", (dir_ / "second").string()});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE((result.out + result.err).find("cannot run"), std::string::npos) << result.out;
}

TEST_F(ServerTest, ADataDirectoryServesOneCairndAtATime) {
  SKIP_ON_POSTGRES("several nodes share one PostgreSQL database");
  Cairnd first(dir_.path());
  const RunResult second = run({CAIRND_PATH, "--port", "0", "--data", dir_.path().string()});
  EXPECT_EQ(second.status, 1);
  EXPECT_NE((second.out + second.err).find("in use by another cairnd"), std::string::npos)
      << second.out;
  // Nor can a restore replace the database under it.
  const RunResult restore = run({CAIRND_PATH, "--data", dir_.path().string(), "--restore-from",
                                 (dir_ / "cairnd.db").string()});
  EXPECT_EQ(restore.status, 1);
  EXPECT_EQ(first.client().request("GET", "/healthz").status, 200);
}

TEST_F(ServerTest, RestoringABackupKeepsTheReplacedDatabaseAndRefusesOtherFiles) {
  SKIP_ON_POSTGRES("PostgreSQL is restored with pg_restore");
  const auto data = dir_ / "data";
  {
    Cairnd cairnd(data);
    ASSERT_EQ(cairnd.client().request("POST", "/api/auth/guest").status, 201);
    cairnd.process().signal(SIGTERM);  // a clean stop leaves everything in cairnd.db
    ASSERT_EQ(cairnd.process().wait(), 0);
  }
  std::filesystem::copy_file(data / "cairnd.db", dir_ / "backup.db");
  std::ofstream(dir_ / "not-cairnd.db") << "hello";
  const RunResult refused = run(
      {CAIRND_PATH, "--data", data.string(), "--restore-from", (dir_ / "not-cairnd.db").string()});
  EXPECT_EQ(refused.status, 1);
  EXPECT_FALSE(std::filesystem::exists(data / "cairnd.db.restoring"));
  const RunResult missing =
      run({CAIRND_PATH, "--data", data.string(), "--restore-from", (dir_ / "nothing.db").string()});
  EXPECT_EQ(missing.status, 1);

  const RunResult restored =
      run({CAIRND_PATH, "--data", data.string(), "--restore-from", (dir_ / "backup.db").string()});
  ASSERT_EQ(restored.status, 0) << restored.out << restored.err;
  EXPECT_NE((restored.out + restored.err).find("1 datasets"), std::string::npos) << restored.out;
  int replaced = 0;
  for (const auto& file : std::filesystem::directory_iterator(data))
    replaced += file.path().filename().string().starts_with("cairnd.db.replaced-") ? 1 : 0;
  EXPECT_EQ(replaced, 1);
  Cairnd cairnd(data);  // and it serves the restored database
  EXPECT_EQ(cairnd.client().request("GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace cairn::test
