#include "sync/sync_engine.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <chrono>

#include "protocol/wire.hpp"

namespace cairn {
namespace json = boost::json;

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A failure from an HTTP answer: what the server said, and whether trying again may help.
SyncFailure failure_of(const net::HttpResult& result, std::string_view what) {
  if (result.status == 0) return {true, fmt::format("{}: {}", what, result.error), 0};
  std::string message = fmt::format("{}: HTTP {}", what, result.status);
  std::error_code error;
  const json::value body = json::parse(result.body, error);
  if (!error && body.is_object() && body.as_object().contains("error")) {
    const json::value& e = body.at("error");
    if (e.is_object() && e.as_object().contains("code") && e.as_object().contains("message")) {
      message = fmt::format("{}: {} ({})", what, std::string_view(e.at("message").as_string()),
                            std::string_view(e.at("code").as_string()));
    }
  }
  int retry_after = 0;
  if (auto it = result.headers.find("retry-after"); it != result.headers.end()) {
    retry_after = std::atoi(it->second.c_str());
  }
  const bool retryable = result.status == 429 || result.status >= 500;
  return {retryable, message, retry_after};
}

json::value parse_body(const net::HttpResult& result, std::string_view what) {
  std::error_code error;
  json::value body = json::parse(result.body, error);
  if (error || !body.is_object()) {
    throw SyncFailure{true, fmt::format("{}: the server's answer is not JSON", what), 0};
  }
  return body;
}

}  // namespace

SyncEngine::SyncEngine(StoreEngine& db, SyncOptions options)
    : db_(db), options_(std::move(options)) {}

void SyncEngine::abort() {
  if (http_) http_->abort();
}

net::HttpResult SyncEngine::call(const std::string& method, const std::string& path,
                                 const std::string& body, const std::string& token) {
  std::map<std::string, std::string> headers;
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  return http_->request(method, base_path_ + path, body, headers);
}

// Settles which server, token and dataset this sync uses, and keeps them in the database. A
// different server or dataset than last time starts the change feed from the beginning.
void SyncEngine::configure(LocalFile::SyncState& state, SyncReport& report) {
  const std::string server = options_.server.empty() ? state.server : options_.server;
  if (server.empty()) {
    throw SyncFailure{false, "no server is configured: pass SyncOptions::server", 0};
  }
  if (server != configured_server_) {
    const auto url = boost::urls::parse_uri(server);
    if (!url || url->scheme() != "http" || url->host().empty()) {
      throw SyncFailure{false, fmt::format("'{}' is not an http:// server URL", server), 0};
    }
    host_ = url->host();
    port_ = url->has_port() ? static_cast<std::uint16_t>(url->port_number()) : 80;
    base_path_ = url->path();
    while (!base_path_.empty() && base_path_.back() == '/')
      base_path_.pop_back();
    http_.emplace(host_, port_, options_.request_timeout);
    configured_server_ = server;
  }
  const bool moved = !state.server.empty() && state.server != server;
  if (moved || (!options_.token.empty() && options_.token != state.token) ||
      (!options_.dataset.empty() && options_.dataset != state.dataset)) {
    state.cursor.clear();  // another feed: start it from the beginning
    if (moved && options_.token.empty()) state.token.clear();
    state.user_id.clear();
  }
  state.server = server;
  if (!options_.token.empty()) state.token = options_.token;
  if (!options_.dataset.empty()) state.dataset = options_.dataset;

  if (state.token.empty()) {
    if (!options_.create_guest) {
      throw SyncFailure{false, "no token: pass SyncOptions::token or allow create_guest", 0};
    }
    const net::HttpResult guest = call("POST", "/api/auth/guest", "", "");
    if (guest.status != 201) throw failure_of(guest, "creating a guest");
    const json::value session = parse_body(guest, "creating a guest");
    state.token = session.at("token").as_string();
    state.user_id = session.at("userId").as_string();
    if (state.dataset.empty()) state.dataset = session.at("datasetId").as_string();
  }
  if (state.user_id.empty() || state.dataset.empty()) {
    const net::HttpResult me = call("GET", "/api/me", "", state.token);
    if (me.status != 200) throw failure_of(me, "identifying the user");
    const json::value user = parse_body(me, "identifying the user");
    state.user_id = user.at("userId").as_string();
    if (state.dataset.empty()) state.dataset = user.at("datasetId").as_string();
  }
  report.full = state.cursor.empty();
  db_.save_sync_state(state);
}

// A 409 for the changes `request` sent. "sequence_gap": the server expects another number next.
// Higher than this request's first: it has applied those before (an acknowledgement was lost), so
// they are acknowledged here. Lower: the server was restored from a backup and lost changes it had
// acknowledged (follow_restored_server).
// "sequence_reused": the server applied other changes under this replica's numbers (this database
// was restored or copied); the true resends are acknowledged and the rest go out as a new replica.
void SyncEngine::handle_refused_numbers(const net::HttpResult& result, const json::object& request,
                                        LocalFile::SyncState& state, SyncReport& report) {
  const json::value body = parse_body(result, "sending changes");
  const json::object* error = body.at("error").if_object();
  const json::value* code = error ? error->if_contains("code") : nullptr;
  const json::array& sent = request.at("changes").as_array();
  const auto number = [&](std::string_view name) -> std::optional<std::uint64_t> {
    const json::value* member = error ? error->if_contains(name) : nullptr;
    if (member == nullptr || !member->is_number()) return std::nullopt;
    return member->to_number<std::uint64_t>();
  };
  if (sent.empty() || code == nullptr || !code->is_string()) throw failure_of(result, "syncing");
  const std::uint64_t first = sent[0].at("seq").to_number<std::uint64_t>();
  if (code->get_string() == "sequence_reused") {
    const std::optional<std::uint64_t> matched = number("matchedThrough");
    if (!matched) throw failure_of(result, "syncing");
    if (*matched >= first) report.acknowledged += db_.apply_sync(*matched, {}, state).acknowledged;
    db_.become_new_replica();
    report.new_replica = true;
    return;
  }
  const std::optional<std::uint64_t> expected = number("expected");
  if (code->get_string() != "sequence_gap" || !expected || *expected == 0 || *expected == first) {
    throw failure_of(result, "syncing");
  }
  if (*expected > first) {
    report.acknowledged += db_.apply_sync(*expected - 1, {}, state).acknowledged;
  } else {
    follow_restored_server(*expected, report);
  }
}

// The server was restored from a backup and expects `next` as this replica's next number: the
// outbox is numbered from there, and this database's own writes go out again.
void SyncEngine::follow_restored_server(std::uint64_t next, SyncReport& report) {
  db_.renumber_outbox(next);
  report.renumbered = true;
  resend_own_writes(report);
}

// The server lost what it had of this database's writes (it was restored from a backup): they go
// out again, once per sync.
void SyncEngine::resend_own_writes(SyncReport& report) {
  if (report.resent > 0) return;
  report.resent = db_.requeue_own_writes();
}

SyncReport SyncEngine::run(bool full) {
  SyncReport report;
  LocalFile::SyncState state = db_.sync_state();
  if (full) state.cursor.clear();
  try {
    configure(state, report);
    while (true) {
      const std::string replica =
          db_.replica_id();  // changes when the database becomes a new replica
      // The next batch of the outbox, bounded by count and bytes.
      json::array changes;
      std::size_t bytes = 0;
      for (const OutboxRecord& record : db_.outbox(0, options_.batch_changes)) {
        json::object change{{"seq", record.seq},
                            {"store", record.store},
                            {"key", record.key},
                            {"op", record.op},
                            {"hlc", protocol::hlc_to_wire(record.hlc)},
                            {"schemaVersion", record.schema_version}};
        if (const json::object* payload = record.payload.if_object()) {
          for (const auto& [name, value] : *payload)
            change[name] = value;
        }
        bytes += json::serialize(change).size();
        if (!changes.empty() && bytes > options_.batch_bytes) break;
        changes.push_back(std::move(change));
      }
      const std::size_t sending = changes.size();
      json::object request{{"clientId", replica},
                           {"dataset", state.dataset},
                           {"cursor", state.cursor.empty() ? "0" : state.cursor},
                           {"changes", std::move(changes)}};
      const net::HttpResult result =
          call("POST", "/api/sync/patch", json::serialize(request), state.token);

      if (result.status == 409) {  // the server wants these changes under other numbers
        handle_refused_numbers(result, request, state, report);
        continue;
      }
      if (result.status == 410) {  // the server does not know the cursor: it was restored
        state.cursor.clear();
        report.full = true;
        db_.save_sync_state(state);
        resend_own_writes(report);
        continue;
      }
      if (result.status != 200) throw failure_of(result, "syncing");

      const json::value body = parse_body(result, "syncing");
      std::vector<StoreEngine::RemoteEntry> entries;
      protocol::ReplicaInterner replicas;
      for (const auto& item : body.at("changes").as_array()) {
        const json::object& change = item.as_object();
        StoreEngine::RemoteEntry entry{std::string(change.at("store").as_string()),
                                       std::string(change.at("key").as_string()),
                                       {}};
        protocol::entry_meta_from_json(change.at("meta"), entry.entry, replicas);
        if (const json::value* value = change.if_contains("value")) {
          entry.entry.value = *value;
          entry.entry.deleted = false;
        } else {
          entry.entry.deleted = true;
        }
        entries.push_back(std::move(entry));
      }
      const bool acks = body.as_object().contains("ack");
      const std::uint64_t ack = acks ? body.at("ack").to_number<std::uint64_t>() : 0;
      const std::uint64_t acked_before = db_.acknowledged_through();
      state.cursor = body.at("cursor").as_string();
      const std::size_t received = entries.size();
      const auto applied = db_.apply_sync(ack, std::move(entries), state);
      state = db_.sync_state();
      report.sent += sending;
      report.acknowledged += applied.acknowledged;
      report.received += received;
      report.applied += applied.applied;
      report.held_back += applied.held;
      report.skipped += applied.skipped;
      report.conflicts += body.at("conflictResolutions").as_array().size();
      if (sending > 0 && applied.acknowledged == 0) {
        throw SyncFailure{true, "the server did not acknowledge the changes sent", 0};
      }
      if (acks && ack < acked_before) {
        // The server has fewer of this replica's changes than it acknowledged: it was restored
        // from a backup.
        follow_restored_server(ack + 1, report);
        continue;
      }
      const bool more = body.at("hasMore").as_bool();

      if (!more && (sending == 0 || db_.pending_count() == 0)) break;
    }
    state = db_.sync_state();
    state.last_success_ms = wall_ms();
    state.last_error.clear();
    db_.save_sync_state(state);
    return report;
  } catch (const SyncFailure& failure) {
    state = db_.sync_state();
    state.last_error_ms = wall_ms();
    state.last_error = failure.message;
    db_.save_sync_state(state);
    throw;
  } catch (const std::exception& e) {  // a malformed answer: the server is not one we know
    state = db_.sync_state();
    state.last_error_ms = wall_ms();
    state.last_error = std::string("the server's answer could not be used: ") + e.what();
    db_.save_sync_state(state);
    throw SyncFailure{true, state.last_error, 0};
  }
}

}  // namespace cairn
