#include "server/storage/storage_factory.hpp"

#include <fmt/format.h>

#include <cairn/error.hpp>
#include <optional>

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

std::unique_ptr<Storage> open_storage(const StorageConfig& config) {
  if (config.backend == "sqlite") return std::make_unique<LockedSqliteStorage>(config);
  throw Error(
      ErrorCode::invalid_argument,
      fmt::format("unknown storage backend '{}' (this cairnd has: sqlite)", config.backend));
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
