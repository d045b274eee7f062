#include "server/storage/storage_factory.hpp"

#include <fmt/format.h>

#include <cairn/error.hpp>
#include <optional>

#include "server/storage/postgres_storage.hpp"
#include "server/storage/pq.hpp"
#include "server/storage/sqlite_storage.hpp"
#include "storage/file_lock.hpp"

namespace cairn::server {

namespace {

// SQLite storage that holds the data directory's lock for as long as it is open.
class LockedSqliteStorage final : public Storage {
 public:
  explicit LockedSqliteStorage(const StorageConfig& config)
      : lock_(take_lock(config.data_dir)),
        storage_(config.data_dir / "cairnd.db", config.durability) {}

  std::unique_ptr<StorageTransaction> begin(bool write) override { return storage_.begin(write); }

 private:
  static FileLock take_lock(const std::filesystem::path& data_dir) {
    std::filesystem::create_directories(data_dir);
    try {
      return FileLock(data_dir / "cairnd.db");
    } catch (const Error& e) {
      if (e.code() != ErrorCode::database_locked) throw;
      throw Error(ErrorCode::database_locked,
                  fmt::format("the data directory '{}' is in use by another cairnd (one process "
                              "per data directory)",
                              data_dir.string()));
    }
  }

  FileLock lock_;  // first in, last out
  SqliteStorage storage_;
};

}  // namespace

void set_database(StorageConfig& config, std::string_view database) {
  if (database.empty()) {
    config.backend = "sqlite";
  } else if (database.starts_with("postgresql://") || database.starts_with("postgres://")) {
    config.backend = "postgresql";
  } else {
    throw Error(ErrorCode::invalid_argument,
                "--database takes a PostgreSQL connection URI (postgresql://…); without it, "
                "cairnd keeps SQLite's cairnd.db under --data");
  }
  config.database = database;
}

std::string describe(const StorageConfig& config) {
  if (config.backend == "postgresql") return pq::describe(config.database);
  return (config.data_dir / "cairnd.db").string();
}

std::unique_ptr<Storage> open_storage(const StorageConfig& config) {
  if (config.backend == "sqlite") return std::make_unique<LockedSqliteStorage>(config);
  if (config.backend == "postgresql") {
    return std::make_unique<PostgresStorage>(PostgresOptions{config.database, config.pool_size});
  }
  throw Error(ErrorCode::invalid_argument,
              fmt::format("unknown storage backend '{}' (this cairnd has: sqlite, postgresql)",
                          config.backend));
}

std::string_view durability_name(Durability durability) {
  return durability == Durability::full ? "full" : "normal";
}

std::optional<Durability> durability_from_name(std::string_view name) {
  if (name == "full") return Durability::full;
  if (name == "normal") return Durability::normal;
  return std::nullopt;
}

}  // namespace cairn::server
