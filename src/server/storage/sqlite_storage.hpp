// SqliteStorage — the embedded default implementation of Storage (see sqlite_storage.cpp for its
// schema and all its SQL).
#pragma once

#include <filesystem>
#include <memory>

#include "server/storage/storage.hpp"

namespace cairn::server {

class SqliteStorage final : public Storage {
 public:
  // Opens or creates the database file; throws cairn::Error.
  explicit SqliteStorage(const std::filesystem::path& file);
  ~SqliteStorage() override;

  std::unique_ptr<StorageTransaction> begin(bool write) override;

 private:
  struct Pool;
  std::unique_ptr<Pool> pool_;
};

}  // namespace cairn::server
