// PostgresStorage — Storage on a PostgreSQL database that several cairnd processes share (see
// postgres_storage.cpp for the schema, all the SQL, and why it is correct across processes).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "server/storage/storage.hpp"

namespace cairn::server {

struct PostgresPool;

struct PostgresOptions {
  std::string conninfo;       // a libpq connection string: postgresql://… or key=value pairs
  std::size_t pool_size = 8;  // connections this process opens, at most
  // How long begin() waits for a free connection before Error(unavailable).
  std::chrono::milliseconds acquire_timeout{10'000};
};

// Figures for /metrics.
struct PoolStats {
  std::size_t size = 0;          // the configured bound
  std::size_t open = 0;          // connections made (a broken one is replaced in its place)
  std::size_t in_use = 0;        // of which lent to a transaction
  std::uint64_t waits = 0;       // begin() calls that found every connection in use
  std::uint64_t timeouts = 0;    // of which gave up (Error(unavailable))
  std::uint64_t reconnects = 0;  // connections found broken and replaced
};

class PostgresStorage final : public Storage {
 public:
  // The schema version this binary writes, and the oldest it can use.
  static constexpr int kSchemaVersion = 4;

  // Connects and creates or upgrades the schema (under an advisory lock, so that nodes starting
  // together do it once). Throws Error(unavailable) when PostgreSQL cannot be reached, and
  // Error(format_too_new) when the database needs a newer cairnd than this one.
  explicit PostgresStorage(PostgresOptions options);
  ~PostgresStorage() override;

  // Write transactions run at READ COMMITTED and lock the rows of the datasets they read (see
  // postgres_storage.cpp); read transactions are REPEATABLE READ, READ ONLY: one snapshot.
  // Error(unavailable) when no connection can be had (PostgreSQL down, or the pool exhausted for
  // acquire_timeout).
  std::unique_ptr<StorageTransaction> begin(bool write) override;
  // LISTENs on a connection of its own (see postgres_storage.cpp).
  std::unique_ptr<StorageWatch> watch(StorageEvents& events) override;
  void relay_awareness(std::string_view dataset_id, std::string_view name,
                       std::string_view update) override;
  std::vector<StorageFigure> figures() const override;

  PoolStats pool_stats() const;

 private:
  std::unique_ptr<PostgresPool> pool_;
};

}  // namespace cairn::server
