// PostgresStorage against the storage conformance suite, and what only PostgreSQL storage does:
// several processes ("nodes") on one database, schema versions, the connection pool. Skipped
// without CAIRN_TEST_POSTGRES (see support/postgres.hpp).
#include "server/storage/postgres_storage.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cairn/error.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "server/storage/pq.hpp"
#include "server/storage_conformance.hpp"
#include "support/postgres.hpp"

namespace cairn::test {
namespace {

using server::PostgresOptions;
using server::PostgresStorage;

// One database per test directory, so that reopening `dir` reopens the same database.
std::unique_ptr<server::Storage> open_postgres(const std::filesystem::path& dir) {
  if (!postgres_server()) return nullptr;
  static std::mutex mutex;
  static std::map<std::filesystem::path, std::string> databases;
  std::string uri;
  {
    std::lock_guard lock(mutex);
    auto [it, added] = databases.emplace(dir, "");
    if (added) it->second = new_postgres_database();
    uri = it->second;
  }
  return std::make_unique<PostgresStorage>(PostgresOptions{uri});
}

INSTANTIATE_TEST_SUITE_P(Postgres, StorageConformance,
                         ::testing::Values(StorageBackend{"postgresql", open_postgres}),
                         [](const auto& info) { return info.param.name; });

class PostgresStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!postgres_server()) GTEST_SKIP() << "CAIRN_TEST_POSTGRES is not set";
    uri_ = new_postgres_database();
  }
  std::unique_ptr<PostgresStorage> node(std::size_t pool_size = 4) {
    return std::make_unique<PostgresStorage>(PostgresOptions{uri_, pool_size});
  }
  std::string uri_;
};

// Two nodes append to one dataset at once, each position taken after reading the last: the feed
// ends dense (1..N, each once), as on SQLite's single writer.
TEST_F(PostgresStorageTest, TwoNodesWritingOneDatasetKeepItsFeedDense) {
  auto a = node();
  auto b = node();
  {
    auto tx = a->begin(true);
    tx->insert_user({"u1", "guest", "", "", 1});
    tx->insert_dataset({"d1", "shared", "u1", false, 1, 0});
    tx->commit();
  }
  constexpr int kPerWriter = 50;
  const auto write = [](server::Storage& storage, const std::string& who) {
    for (int i = 0; i < kPerWriter; ++i) {
      auto tx = storage.begin(true);
      const std::uint64_t seq = tx->dataset("d1")->last_seq + 1;
      server::EntryRow row;
      row.store = "s";
      row.key = who + std::to_string(i);
      row.value = "1";
      row.replica = who;
      row.seq = seq;
      tx->put_entry("d1", row);
      tx->set_last_seq("d1", seq);
      tx->commit();
    }
  };
  std::vector<std::thread> writers;
  for (int i = 0; i < 2; ++i) {
    writers.emplace_back(write, std::ref(*a), "a" + std::to_string(i));
    writers.emplace_back(write, std::ref(*b), "b" + std::to_string(i));
  }
  for (auto& writer : writers)
    writer.join();
  auto tx = b->begin(false);
  EXPECT_EQ(tx->dataset("d1")->last_seq, 4u * kPerWriter);
  const auto feed = tx->changes_since("d1", 0, 1000);
  ASSERT_EQ(feed.size(), 4u * kPerWriter);
  for (std::size_t i = 0; i < feed.size(); ++i)
    EXPECT_EQ(feed[i].seq, i + 1);
}

TEST_F(PostgresStorageTest, ADatabaseThatNeedsANewerCairndIsRefused) {
  node();  // creates the schema
  server::pq::Connection db(uri_);
  db.exec("UPDATE cairn_schema SET version = 7, min_binary = 5");
  try {
    node();
    FAIL() << "opened a database that needs schema version 5";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::format_too_new);
    EXPECT_NE(std::string(e.what()).find("at least version 5"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresStorageTest, AnOlderSchemaGainsTheCompactionColumnsWhenANodeStarts) {
  node();  // creates the schema at the current version; then made a version-3 one
  {
    server::pq::Connection db(uri_);
    db.exec(
        "DROP INDEX entries_tombstones, history_age, audit_age; ALTER TABLE datasets DROP COLUMN "
        "retained_seq, DROP "
        "COLUMN floor_hlc, DROP COLUMN floor_replica; UPDATE cairn_schema SET version = 3; "
        "INSERT INTO datasets (id, name, owner, personal, created_ms, last_seq) VALUES ('d1', "
        "'d', 'u1', false, 1, 7)");
  }
  auto storage = node();
  {
    auto tx = storage->begin(true);
    EXPECT_EQ(tx->dataset("d1")->retained_seq, 0u);
    tx->set_compaction("d1", 3, Timestamp(5, 0), "r");
    tx->commit();
  }
  EXPECT_EQ(storage->begin(false)->dataset("d1")->retained_seq, 3u);
  server::pq::Connection db(uri_);
  EXPECT_EQ(db.run("SELECT version FROM cairn_schema").integer(0, 0), 4);
}

TEST_F(PostgresStorageTest, NodesStartingTogetherCreateTheSchemaOnce) {
  std::vector<std::thread> starting;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    starting.emplace_back([&] {
      try {
        node();
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (auto& thread : starting)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
  server::pq::Connection db(uri_);
  EXPECT_EQ(db.run("SELECT count(*) FROM cairn_schema").integer(0, 0), 1);
}

// A pooled connection that died while idle (PostgreSQL restarted, a proxy cut it) is replaced
// before anything is applied: the transaction goes through on a fresh one.
TEST_F(PostgresStorageTest, ADeadPooledConnectionIsReplacedBeforeUse) {
  auto storage = node(1);
  { storage->begin(false)->commit(); }  // the pool's one connection, now idle
  server::pq::Connection admin(uri_);
  admin.exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE application_name = 'cairnd' AND datname = current_database()");
  {
    auto tx = storage->begin(true);
    tx->insert_user({"u1", "guest", "", "", 1});
    tx->commit();
  }
  EXPECT_TRUE(storage->begin(false)->user("u1"));
  EXPECT_EQ(storage->pool_stats().reconnects, 1u);
}

TEST_F(PostgresStorageTest, AnUnreachableServerIsUnavailable) {
  try {
    PostgresStorage storage(PostgresOptions{"postgresql://nobody:secret@127.0.0.1:1/none"});
    FAIL() << "connected to nothing";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unavailable);
    EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
  }
}

// A server that accepts the TCP connection and then says nothing (a hung PostgreSQL, a proxy in
// front of a dead one) is given up on after connect_timeout: 10 s unless the URI says otherwise.
TEST_F(PostgresStorageTest, AServerThatNeverAnswersIsGivenUpOn) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 8), 0);  // never accepted: the kernel completes the handshake
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string uri =
      "postgresql://cairn@127.0.0.1:" + std::to_string(ntohs(address.sin_port)) +
      "/none?connect_timeout=1";
  const auto start = std::chrono::steady_clock::now();
  try {
    PostgresStorage storage(PostgresOptions{uri});
    FAIL() << "connected to a server that never answered";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unavailable) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  ::close(listener);
}

TEST(PostgresDescription, NeverShowsThePassword) {
  EXPECT_EQ(server::pq::describe("postgresql://cairn:hunter2@db.example:5433/prod?sslmode=require"),
            "postgresql://cairn@db.example:5433/prod");
  EXPECT_EQ(server::pq::describe("host=db user=cairn password=hunter2 dbname=prod"),
            "postgresql://cairn@db/prod");
}

}  // namespace
}  // namespace cairn::test
