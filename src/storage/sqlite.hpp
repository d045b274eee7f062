// A thin RAII layer over the SQLite C API: connections, prepared statements, transactions.
//
// Every SQLite failure becomes a cairn::Error with a code chosen from the SQLite result (corrupt,
// not_a_cairn_database, database_locked, read_only, io_error) and a message naming what was being
// done. Nothing above src/storage/ includes this header's users' SQL: they call LocalFile.
//
// Not thread-safe: a Connection and its statements are used by one thread at a time (the owner
// serializes access).
#pragma once

#include <cairn/durability.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace cairn::sqlite {

// Throws the cairn::Error that fits SQLite result `rc`.
[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view context);

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, std::string_view sql);
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are numbered from 1, as in SQLite.
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind_null(int index);

  // Advances to the next row: true when a row is ready, false when done. Throws on error.
  bool step();
  // Runs a statement that returns no rows, then resets it for reuse.
  void run();
  // Resets to run again with new bindings (bindings are cleared).
  void reset();

  std::int64_t column_int(int index) const;
  std::string_view column_text(int index) const;  // valid until the next step/reset
  std::string_view column_blob(int index) const;  // valid until the next step/reset
  bool column_is_null(int index) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Connection {
 public:
  enum class Mode { read_only, read_write, read_write_create };

  Connection(const std::filesystem::path& path, Mode mode);
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  void exec(std::string_view sql);
  // A statement prepared once per connection and reused (reset before it is returned).
  Statement& cached(const std::string& sql);
  Statement prepare(std::string_view sql) { return Statement(db_, sql); }
  std::int64_t query_int(std::string_view sql);
  // Rows the last INSERT, UPDATE or DELETE changed.
  std::int64_t changes() const;
  // How hard each commit is pushed to the disk, for a connection in WAL mode: PRAGMA synchronous
  // FULL or NORMAL (see cairn/durability.hpp).
  void set_durability(Durability durability);

  sqlite3* handle() const { return db_; }

 private:
  void close() noexcept;

  sqlite3* db_ = nullptr;
  std::map<std::string, Statement, std::less<>> cache_;
};

// BEGIN ... COMMIT, rolled back by the destructor unless commit() succeeded.
class TransactionGuard {
 public:
  enum class Kind { deferred, immediate };
  TransactionGuard(Connection& connection, Kind kind);
  TransactionGuard(const TransactionGuard&) = delete;
  TransactionGuard& operator=(const TransactionGuard&) = delete;
  ~TransactionGuard();

  void commit();

 private:
  Connection& connection_;
  bool open_ = true;
};

}  // namespace cairn::sqlite
