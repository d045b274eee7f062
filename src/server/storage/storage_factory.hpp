// open_storage — the server's Storage, built from configuration.
//
// The embedded SQLite file is the default and today's only backend; PostgreSQL (for several
// cairnd processes on one database) is added here, and nothing above Storage changes.
#pragma once

#include <cairn/durability.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "server/storage/storage.hpp"

namespace cairn::server {

struct StorageConfig {
  std::string backend = "sqlite";
  std::filesystem::path data_dir = "var";  // sqlite: the directory of cairnd.db
  // sqlite: full syncs every commit to the disk before cairnd answers (an acknowledged change
  // survives power loss); normal syncs at checkpoints only (it survives cairnd being killed, and
  // may lose the last commits on power loss).
  Durability durability = Durability::full;
};

// Throws Error(invalid_argument) for an unknown backend; for sqlite, Error(database_locked) while
// another cairnd uses the data directory (one process per directory), and what SqliteStorage
// throws.
std::unique_ptr<Storage> open_storage(const StorageConfig& config);

std::string_view durability_name(Durability durability);
std::optional<Durability> durability_from_name(std::string_view name);

}  // namespace cairn::server
