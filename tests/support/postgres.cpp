#include "support/postgres.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>

#include "server/storage/pq.hpp"

namespace cairn::test {

namespace {

// Skips every test of a PostgreSQL run when there is no server to run it on.
class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (testing_postgres() && !postgres_server()) {
      GTEST_SKIP() << "CAIRN_TEST_BACKEND=postgresql needs CAIRN_TEST_POSTGRES, a PostgreSQL "
                      "connection URI without a database (scripts/test.sh starts a cluster: "
                      "scripts/postgres-test-cluster.sh)";
    }
  }
};

[[maybe_unused]] const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

}  // namespace

std::optional<std::string> postgres_server() {
  const char* uri = std::getenv("CAIRN_TEST_POSTGRES");
  if (!uri || !*uri) return std::nullopt;
  return std::string(uri);
}

bool testing_postgres() {
  const char* backend = std::getenv("CAIRN_TEST_BACKEND");
  return backend && std::string_view(backend) == "postgresql";
}

std::string new_postgres_database() {
  const std::optional<std::string> server = postgres_server();
  if (!server) throw std::runtime_error("CAIRN_TEST_POSTGRES is not set");
  // Unique across the test processes ctest runs side by side; a name a process of an earlier run
  // with the same pid left on the same cluster is passed over.
  static std::atomic<int> counter{0};
  server::pq::Connection admin(*server + "/postgres");
  for (;;) {
    const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    const server::pq::Result taken = admin.run(
        "SELECT count(*) FROM pg_database WHERE datname = $1", server::pq::Params().add(name));
    if (taken.integer(0, 0) != 0) continue;
    admin.exec("CREATE DATABASE " + name);
    return *server + "/" + name;
  }
}

namespace {

std::string database_for(const std::filesystem::path& data_dir) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, std::string> databases;
  std::lock_guard lock(mutex);
  auto [it, added] = databases.emplace(std::filesystem::absolute(data_dir), "");
  if (added) it->second = new_postgres_database();
  return it->second;
}

}  // namespace

void use_test_backend(server::StorageConfig& config) {
  if (testing_postgres()) server::set_database(config, database_for(config.data_dir));
}

server::StorageConfig test_storage_config(const std::filesystem::path& data_dir) {
  server::StorageConfig config;
  config.data_dir = data_dir;
  use_test_backend(config);
  return config;
}

std::vector<std::string> test_backend_args(const std::filesystem::path& data_dir) {
  if (!testing_postgres()) return {};
  return {"--database", database_for(data_dir)};
}

std::vector<std::vector<std::string>> query_storage(const server::StorageConfig& config,
                                                    const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  if (config.backend == "postgresql") {
    server::pq::Connection db(config.database);
    const server::pq::Result result = db.run(sql);
    for (int row = 0; row < result.rows(); ++row) {
      std::vector<std::string>& columns = rows.emplace_back();
      for (int column = 0; column < PQnfields(result.native()); ++column)
        columns.emplace_back(result.text(row, column));
    }
    return rows;
  }
  sqlite3* db = nullptr;
  const std::string file = (config.data_dir / "cairnd.db").string();
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + file);
  }
  sqlite3_busy_timeout(db, 10'000);
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    const std::string why = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error("cannot prepare '" + sql + "': " + why);
  }
  while (sqlite3_step(statement) == SQLITE_ROW) {
    std::vector<std::string>& columns = rows.emplace_back();
    for (int column = 0; column < sqlite3_column_count(statement); ++column) {
      const auto* text = sqlite3_column_text(statement, column);
      columns.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return rows;
}

}  // namespace cairn::test
