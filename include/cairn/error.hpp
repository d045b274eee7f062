// cairn/error.hpp — the one error type of libcairn.
//
// Every failure that an application can meet is reported by throwing cairn::Error, which carries a
// stable ErrorCode and a message written for a human. The code's name (error_code_name) is the
// string that the CLI prints and that the server sends in `{"error": {"code": ...}}`, so it never
// changes once released. An operation that throws has had no effect: a transaction that fails is
// not written at all, and the in-memory state is unchanged.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace cairn {

enum class ErrorCode {
  invalid_argument,      // a caller passed something malformed (bad store name, bad JSON, ...)
  not_found,             // what was named does not exist: a database file (that may not be
                         // created), a backup, a dataset on the server
  invalid_key,           // a key is empty, not UTF-8, or longer than the key limit
  invalid_value,         // a value does not fit the store's policy or the requested type
  value_too_large,       // a value is larger than Limits::max_value_bytes
  quota_exceeded,        // a store would grow beyond Limits::max_store_bytes
  unknown_store,         // the store is not declared in this database
  read_only,             // the database or store was opened read-only
  schema_too_new,        // stored data was written by a newer schema than the code declares
  migration_required,    // the declared version is newer and no migration chain covers it
  migration_failed,      // a migration step failed; the store was rolled back
  not_a_cairn_database,  // the file is not a Cairn database (another SQLite file, or not SQLite)
  corrupt,               // the file is damaged
  format_too_new,        // the file was written by a newer Cairn with an unreadable format
  database_locked,       // another process has the database open for writing
  io_error,              // the operating system or SQLite failed to read or write
  transaction_closed,    // a transaction was used after commit or rollback
  unavailable,           // the sync server cannot be reached, or is busy or stopping: retry later
  unauthorized,          // the sync server does not accept the token (unknown, expired, revoked)
  forbidden,             // the sync server refuses: the user's role in the dataset is too low
  refused,               // the sync server refused the request for another reason (the message
                         // gives the server's code and why)
};

// The stable, snake_case name of a code, e.g. "quota_exceeded".
std::string_view error_code_name(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}

  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace cairn
