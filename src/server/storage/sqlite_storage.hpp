// SqliteStorage — the embedded default implementation of Storage (see sqlite_storage.cpp for its
// schema and all its SQL).
#pragma once

#include <cairn/durability.hpp>
#include <filesystem>
#include <memory>

#include "server/storage/storage.hpp"

namespace cairn::server {

class SqliteStorage final : public Storage {
 public:
  // Opens or creates the database file; throws cairn::Error. With Durability::full every commit
  // is synced to the disk before it returns (SQLite's synchronous=FULL), with normal only at
  // checkpoints (synchronous=NORMAL).
  explicit SqliteStorage(const std::filesystem::path& file,
                         Durability durability = Durability::full);
  ~SqliteStorage() override;

  std::unique_ptr<StorageTransaction> begin(bool write) override;

 private:
  struct Pool;
  std::unique_ptr<Pool> pool_;
};

}  // namespace cairn::server
