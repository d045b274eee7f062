// The PostgreSQL server the tests use, and the storage backend under test.
//
// scripts/test.sh starts a throwaway cluster (scripts/postgres-test-cluster.sh) and exports its
// connection URI, without a database, as CAIRN_TEST_POSTGRES. ctest runs the server's test
// programs twice: as they are (SQLite) and, with CAIRN_TEST_BACKEND=postgresql, on PostgreSQL
// (their tests are then named "postgresql/…"). Without CAIRN_TEST_POSTGRES the PostgreSQL runs
// are skipped, with a message saying how to run them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/storage/storage_factory.hpp"

// In a test of what only SQLite storage does (its file, its data directory): skips the
// PostgreSQL run of the test, saying why.
#define SKIP_ON_POSTGRES(why) \
  if (::cairn::test::testing_postgres()) GTEST_SKIP() << "SQLite storage only: " << (why)

// In a test that needs a PostgreSQL server whatever the run's backend (several nodes, copying
// into PostgreSQL): skips it, saying how to run it, when there is none.
#define SKIP_WITHOUT_POSTGRES(what)                                              \
  if (!::cairn::test::postgres_server())                                         \
  GTEST_SKIP() << (what)                                                         \
               << " needs PostgreSQL: set CAIRN_TEST_POSTGRES (scripts/test.sh " \
                  "starts a cluster)"

namespace cairn::test {

// CAIRN_TEST_POSTGRES, when set.
std::optional<std::string> postgres_server();

// True when this run's servers store on PostgreSQL (CAIRN_TEST_BACKEND=postgresql).
bool testing_postgres();

// A new, empty database on the test server; returns its URI. Requires postgres_server().
std::string new_postgres_database();

// Points `config` at this run's backend: for PostgreSQL, the database that stands for
// config.data_dir (a new one the first time a data directory is seen, so that a server restarted
// on the same directory finds its data).
void use_test_backend(server::StorageConfig& config);

// The storage configuration of a server of this run on `data_dir` (use_test_backend applied).
server::StorageConfig test_storage_config(const std::filesystem::path& data_dir);

// cairnd's arguments for this run's backend, for a server on `data_dir`: {"--database", <its
// database>} or nothing.
std::vector<std::string> test_backend_args(const std::filesystem::path& data_dir);

// Runs SQL on a storage's database (the SQL the tests use reads the same on SQLite and
// PostgreSQL) and returns the rows, each column as text ("" for NULL). For a test that looks
// under the server, as an operator could.
std::vector<std::vector<std::string>> query_storage(const server::StorageConfig& config,
                                                    const std::string& sql);

}  // namespace cairn::test
