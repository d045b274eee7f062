// pq — a small C++ face on libpq for PostgresStorage: one connection, statements with text
// parameters prepared once per connection, results read as text, and libpq's failures turned
// into cairn::Error. It holds no SQL of its own; PostgresStorage keeps all of it.
//
// Errors:
//  - the server cannot be reached, or the connection broke: Error(unavailable); broken() is then
//    true and the connection is of no further use;
//  - a serialization failure, a deadlock or a unique violation (the loser of a race between two
//    transactions): TransactionConflict (storage.hpp): the whole transaction may be run again;
//  - anything else: Error(io_error) with PostgreSQL's message and SQLSTATE.
//
// A Connection belongs to one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <cairn/error.hpp>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/storage/storage.hpp"

namespace cairn::server::pq {

// A connection string shown without its password (host, port, database and user), for logs and
// error messages. Accepts what PQconnectdb accepts: a postgresql:// URI or key=value pairs.
std::string describe(std::string_view conninfo);

// One statement's result. Values are text; a NULL reads as nullopt from optional_text().
class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}

  int rows() const { return PQntuples(result_.get()); }
  bool empty() const { return rows() == 0; }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string_view text(int row, int column) const {
    return {PQgetvalue(result_.get(), row, column),
            static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
  }
  std::optional<std::string> optional_text(int row, int column) const;
  std::int64_t integer(int row, int column) const;
  bool boolean(int row, int column) const { return text(row, column) == "t"; }
  // The number of rows an INSERT, UPDATE or DELETE touched.
  std::uint64_t affected() const;
  const PGresult* native() const { return result_.get(); }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

// An array parameter ($1::text[], $2::bigint[], …) in PostgreSQL's text form, built element by
// element: a whole batch of rows goes as one array per column (SELECT … FROM unnest(…)).
class Array {
 public:
  Array& add(std::string_view text);
  Array& add(const std::string& text) { return add(std::string_view(text)); }
  Array& add(std::int64_t value);
  Array& add(std::uint64_t value) { return add(static_cast<std::int64_t>(value)); }
  Array& add(const std::optional<std::string>& text);
  std::string text() const { return "{" + elements_ + "}"; }

 private:
  void separate() {
    if (!elements_.empty()) elements_ += ',';
  }
  std::string elements_;
};

// Parameters of one statement, as text (nullopt is NULL).
class Params {
 public:
  Params& add(std::string_view text) {
    values_.emplace_back(text);
    return *this;
  }
  Params& add(const std::string& text) { return add(std::string_view(text)); }
  Params& add(const char* text) { return add(std::string_view(text)); }
  Params& add(std::int64_t value) {
    values_.emplace_back(std::to_string(value));
    return *this;
  }
  Params& add(std::uint64_t value) { return add(static_cast<std::int64_t>(value)); }
  template <class B>
  requires std::same_as<B, bool> Params& add(B value) {
    return add(std::string_view(value ? "t" : "f"));
  }
  Params& add(const std::optional<std::string>& text) {
    values_.push_back(text);
    return *this;
  }
  Params& add(const Array& array) { return add(array.text()); }

 private:
  friend class Connection;
  std::vector<std::optional<std::string>> values_;
};

class Connection {
 public:
  // Connects; throws Error(unavailable) when the server cannot be reached or refuses.
  explicit Connection(const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs a statement with no parameters (several, separated by semicolons, are allowed).
  void exec(const std::string& sql);
  // Runs a parameterised statement, prepared on this connection the first time it is seen.
  Result run(const std::string& sql, const Params& params = {});

  // True once the connection has failed (it must be replaced).
  bool broken() const;
  // The connection's socket, to wait on for notifications.
  int socket() const { return PQsocket(conn_); }
  // The process id of the server's backend for this connection (unique on that server while the
  // connection lasts).
  int backend_pid() const { return PQbackendPID(conn_); }

  // Reads what the server sent (notifications among it) without blocking; Error(unavailable) when
  // the connection broke. Then each notification, oldest first, until none is left.
  void consume_input();
  struct Notification {
    std::string channel;
    std::string payload;
    int backend_pid = 0;  // of the connection that sent it
  };
  std::optional<Notification> next_notification();

 private:
  // `result`, or the Error it stands for when the statement failed.
  Result succeeded(PGresult* result, std::string_view sql);
  [[noreturn]] void fail(const PGresult* result, std::string_view what);

  PGconn* conn_ = nullptr;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
};

}  // namespace cairn::server::pq
