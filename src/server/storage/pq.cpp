#include "server/storage/pq.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

namespace cairn::server::pq {

namespace {

// SQLSTATEs whose transaction may simply be run again: serialization_failure, deadlock_detected,
// unique_violation (two transactions inserted the same key; the retry finds the winner's row).
bool is_conflict(std::string_view state) {
  return state == "40001" || state == "40P01" || state == "23505";
}

// Connection exceptions (class 08), and the server shutting down or not yet accepting
// connections (57P01..57P03).
bool is_unreachable(std::string_view state) {
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

std::string trimmed(const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text;
}

// What PostgreSQL says outside a result (notices, and why it ended a connection) goes to the log,
// not to stderr.
void log_notice(void*, const char* message) {
  spdlog::info("PostgreSQL: {}", trimmed(message));
}

}  // namespace

std::string describe(std::string_view conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(std::string(conninfo).c_str(), &error);
  if (!options) {
    PQfreemem(error);
    return "(an unreadable connection string)";
  }
  std::string host, port, dbname, user;
  for (PQconninfoOption* option = options; option->keyword; ++option) {
    if (!option->val) continue;
    const std::string_view keyword = option->keyword;
    if (keyword == "host" || keyword == "hostaddr") host = option->val;
    if (keyword == "port") port = option->val;
    if (keyword == "dbname") dbname = option->val;
    if (keyword == "user") user = option->val;
  }
  PQconninfoFree(options);
  return fmt::format("postgresql://{}{}{}{}/{}", user, user.empty() ? "" : "@",
                     host.empty() ? "localhost" : host, port.empty() ? "" : ":" + port, dbname);
}

std::optional<std::string> Result::optional_text(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return std::string(text(row, column));
}

std::int64_t Result::integer(int row, int column) const {
  const std::string_view value = text(row, column);
  std::int64_t number = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (ec != std::errc() || end != value.data() + value.size()) {
    throw Error(ErrorCode::corrupt, fmt::format("PostgreSQL returned '{}' for a number", value));
  }
  return number;
}

std::uint64_t Result::affected() const {
  const char* count = PQcmdTuples(result_.get());
  return count && *count ? std::stoull(count) : 0;
}

Array& Array::add(std::string_view text) {
  separate();
  elements_ += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') elements_ += '\\';
    elements_ += c;
  }
  elements_ += '"';
  return *this;
}

Array& Array::add(std::int64_t value) {
  separate();
  elements_ += std::to_string(value);
  return *this;
}

Array& Array::add(const std::optional<std::string>& text) {
  if (text) return add(std::string_view(*text));
  separate();
  elements_ += "NULL";
  return *this;
}

namespace {

// A server that does not answer is given up on after this long (libpq waits forever otherwise);
// a connect_timeout in the connection string wins.
constexpr const char* kConnectTimeoutSeconds = "10";

PGconn* connect(const std::string& conninfo) {
  // Later keywords win: the connection string (expanded from "dbname") overrides the default.
  const char* const keywords[] = {"connect_timeout", "dbname", nullptr};
  const char* const values[] = {kConnectTimeoutSeconds, conninfo.c_str(), nullptr};
  return PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
}

}  // namespace

Connection::Connection(const std::string& conninfo) : conn_(connect(conninfo)) {
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    const std::string why = conn_ ? trimmed(PQerrorMessage(conn_)) : "out of memory";
    PQfinish(conn_);
    conn_ = nullptr;
    throw Error(ErrorCode::unavailable,
                fmt::format("cannot connect to PostgreSQL at {}: {}", describe(conninfo), why));
  }
  PQsetNoticeProcessor(conn_, log_notice, nullptr);
}

Connection::~Connection() {
  PQfinish(conn_);
}

bool Connection::broken() const {
  return PQstatus(conn_) != CONNECTION_OK;
}

void Connection::fail(const PGresult* result, std::string_view what) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view sqlstate = state ? state : "";
  const std::string message =
      trimmed(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (broken() || is_unreachable(sqlstate)) {
    throw Error(ErrorCode::unavailable,
                fmt::format("the connection to PostgreSQL failed: {}", message));
  }
  if (is_conflict(sqlstate)) throw TransactionConflict(message);
  throw Error(ErrorCode::io_error, fmt::format("PostgreSQL refused {} (SQLSTATE {}): {}", what,
                                               sqlstate.empty() ? "none" : sqlstate, message));
}

Result Connection::succeeded(PGresult* result, std::string_view sql) {
  Result checked(result);
  const ExecStatusType status = PQresultStatus(checked.native());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(checked.native(), sql);
  return checked;
}

void Connection::exec(const std::string& sql) {
  succeeded(PQexec(conn_, sql.c_str()), sql);
}

Result Connection::run(const std::string& sql, const Params& params) {
  auto found = prepared_.find(sql);
  if (found == prepared_.end()) {
    const std::string name = "s" + std::to_string(prepared_.size());
    succeeded(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr), sql);
    found = prepared_.emplace(sql, name).first;
  }
  std::vector<const char*> values;
  values.reserve(params.values_.size());
  for (const auto& value : params.values_)
    values.push_back(value ? value->c_str() : nullptr);
  return succeeded(PQexecPrepared(conn_, found->second.c_str(), static_cast<int>(values.size()),
                                  values.data(), nullptr, nullptr, 0),
                   sql);
}

void Connection::consume_input() {
  if (PQconsumeInput(conn_) == 0) {
    throw Error(ErrorCode::unavailable, fmt::format("the connection to PostgreSQL failed: {}",
                                                    trimmed(PQerrorMessage(conn_))));
  }
}

std::optional<Connection::Notification> Connection::next_notification() {
  PGnotify* notify = PQnotifies(conn_);
  if (!notify) return std::nullopt;
  Notification notification{notify->relname, notify->extra ? notify->extra : "", notify->be_pid};
  PQfreemem(notify);
  return notification;
}

}  // namespace cairn::server::pq
