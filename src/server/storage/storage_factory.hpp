// open_storage — the server's Storage, built from configuration.
//
// The embedded SQLite file under the data directory is the default; a PostgreSQL connection URI
// selects PostgreSQL (several cairnd processes on one database). Nothing above Storage differs.
#pragma once

#include <cairn/durability.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "server/storage/storage.hpp"

namespace cairn::server {

struct StorageConfig {
  // "sqlite", or "postgresql" (set by set_database when it is given a postgresql:// URI).
  std::string backend = "sqlite";
  std::filesystem::path data_dir = "var";  // sqlite: the directory of cairnd.db
  // postgresql: a libpq connection URI (postgresql://user@host:port/database?…); its password,
  // if any, is never logged (prefer a PGPASSFILE or a service file: docs/operations.md).
  std::string database;
  std::size_t pool_size = 8;  // postgresql: connections per cairnd process, at most
  // sqlite: full syncs every commit to the disk before cairnd answers (an acknowledged change
  // survives power loss); normal syncs at checkpoints only (it survives cairnd being killed, and
  // may lose the last commits on power loss).
  Durability durability = Durability::full;
};

// Sets the backend from cairnd's --database: a postgresql:// (or postgres://) URI selects
// PostgreSQL, nothing keeps SQLite; anything else is Error(invalid_argument).
void set_database(StorageConfig& config, std::string_view database);

// The storage as configured, for logs: SQLite's file, or the PostgreSQL server and database
// without a password.
std::string describe(const StorageConfig& config);

// Throws Error(invalid_argument) for an unknown backend; for sqlite, Error(database_locked) while
// another cairnd uses the data directory (one process per directory), and what SqliteStorage
// and PostgresStorage throw (for PostgreSQL: Error(unavailable) when it cannot be reached).
std::unique_ptr<Storage> open_storage(const StorageConfig& config);

std::string_view durability_name(Durability durability);
std::optional<Durability> durability_from_name(std::string_view name);

}  // namespace cairn::server
