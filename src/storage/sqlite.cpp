#include "storage/sqlite.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cairn/error.hpp>
#include <utility>

namespace cairn::sqlite {

void throw_error(sqlite3* db, int rc, std::string_view context) {
  const char* detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int extended = db ? sqlite3_extended_errcode(db) : rc;
  const std::string message = fmt::format("{}: {} (SQLite error {})", context, detail, extended);
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
      throw Error(ErrorCode::corrupt, message + " (the database file is damaged)");
    case SQLITE_NOTADB:
      throw Error(ErrorCode::not_a_cairn_database,
                  message + " (the file is not a SQLite database, or its header is damaged)");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      throw Error(ErrorCode::database_locked, message);
    case SQLITE_READONLY:
      throw Error(ErrorCode::read_only, message);
    default:
      throw Error(ErrorCode::io_error, message);
  }
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) throw_error(db, rc, fmt::format("preparing '{}'", sql));
}

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) throw_error(db_, rc, "binding an integer");
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  const int rc =
      sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK) throw_error(db_, rc, "binding text");
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
  const int rc =
      sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK) throw_error(db_, rc, "binding a blob");
  return *this;
}

Statement& Statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) throw_error(db_, rc, "binding null");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
  sqlite3_reset(stmt_);
  throw_error(db_, rc, fmt::format("running '{}'", sql));
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::column_int(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

std::string_view Statement::column_text(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  if (text == nullptr) return {};
  return {text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index))};
}

std::string_view Statement::column_blob(int index) const {
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt_, index));
  if (bytes == nullptr) return {};
  return {bytes, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index))};
}

bool Statement::column_is_null(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

Connection::Connection(const std::filesystem::path& path, Mode mode) {
  int flags = SQLITE_OPEN_NOMUTEX;  // the owner serializes access
  switch (mode) {
    case Mode::read_only:
      flags |= SQLITE_OPEN_READONLY;
      break;
    case Mode::read_write:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Mode::read_write_create:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
  }
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    close();
    throw Error(ErrorCode::io_error, fmt::format("cannot open '{}': {}", path.string(), detail));
  }
  sqlite3_extended_result_codes(db_, 1);
}

Connection::Connection(Connection&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), cache_(std::move(other.cache_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

Connection::~Connection() {
  close();
}

void Connection::close() noexcept {
  cache_.clear();  // statements must be finalized before the connection closes
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

void Connection::exec(std::string_view sql) {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    const std::string detail = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw_error(db_, rc, fmt::format("running '{}' ({})", text.substr(0, 60), detail));
  }
}

Statement& Connection::cached(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) it = cache_.emplace(sql, Statement(db_, sql)).first;
  it->second.reset();
  return it->second;
}

std::int64_t Connection::query_int(std::string_view sql) {
  Statement statement(db_, sql);
  return statement.step() ? statement.column_int(0) : 0;
}

std::int64_t Connection::changes() const {
  return sqlite3_changes64(db_);
}

void Connection::set_durability(Durability durability) {
  exec(durability == Durability::full ? "PRAGMA synchronous = FULL"
                                      : "PRAGMA synchronous = NORMAL");
}

TransactionGuard::TransactionGuard(Connection& connection, Kind kind) : connection_(connection) {
  connection_.exec(kind == Kind::immediate ? "BEGIN IMMEDIATE" : "BEGIN");
}

TransactionGuard::~TransactionGuard() {
  if (!open_) return;
  // A failed rollback leaves SQLite to roll back on close; nothing more can be done here.
  sqlite3_exec(connection_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void TransactionGuard::commit() {
  connection_.exec("COMMIT");
  open_ = false;
}

}  // namespace cairn::sqlite
