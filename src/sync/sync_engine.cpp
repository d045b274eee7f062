#include "sync/sync_engine.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <chrono>
#include <iterator>
#include <set>

#include "crdt/doc.hpp"
#include "foundation/base64.hpp"
#include "foundation/limits.hpp"
#include "protocol/errors.hpp"
#include "protocol/manifest.hpp"
#include "protocol/session.hpp"
#include "protocol/sync_response.hpp"
#include "sync/live_link.hpp"

namespace cairn {
namespace json = boost::json;

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A failure from an HTTP answer: what the server said, whether trying again may help, and the
// error code the application is told.
SyncFailure failure_of(const net::HttpResult& result, std::string_view what) {
  if (result.certificate_rejected) {  // never accepted; trying again will not help
    return {false, fmt::format("{}: {}", what, result.error), 0, ErrorCode::refused};
  }
  if (result.status == 0) {
    return {true, fmt::format("{}: {}", what, result.error), 0, ErrorCode::unavailable};
  }
  SyncFailure failure{result.status == 429 || result.status >= 500,
                      fmt::format("{}: HTTP {}", what, result.status), 0, ErrorCode::refused};
  if (const auto error = protocol::decode_error_body(result.body)) {
    failure.message = fmt::format("{}: {} ({})", what, error->message, error->code);
  }
  if (failure.retryable) {
    failure.code = ErrorCode::unavailable;
  } else if (result.status == 401) {
    failure.code = ErrorCode::unauthorized;
  } else if (result.status == 403) {
    failure.code = ErrorCode::forbidden;
  } else if (result.status == 404) {
    failure.code = ErrorCode::not_found;
  }
  if (auto it = result.headers.find("retry-after"); it != result.headers.end()) {
    failure.retry_after_seconds = std::atoi(it->second.c_str());
  }
  return failure;
}

// The code of the error a refusal's body carries, if it carries one this build knows.
std::optional<protocol::Code> refusal_code(const net::HttpResult& result) {
  const auto error = protocol::decode_error_body(result.body);
  if (!error) return std::nullopt;
  return protocol::code_from_name(error->code);
}

}  // namespace

OutboxBatch outbox_batch(StoreEngine& db, const SyncOptions& options, std::uint64_t after_seq,
                         const std::string& dataset, const std::string& cursor) {
  protocol::PatchRequestWriter writer(db.replica_id(), dataset, cursor, db.declared_versions(),
                                      db.manifest_store_names());
  OutboxBatch batch;
  bool full = false;
  db.for_each_outbox_row(after_seq, options.batch_changes,
                         [&](const LocalFile::OutboxRow& row, std::string_view store) {
                           if (full) return;
                           full = !writer.add({row.seq, store, row.key, row.op, row.payload,
                                               row.hlc, row.schema_version},
                                              options.batch_bytes);
                           if (full) return;
                           if (batch.first_seq == 0) batch.first_seq = row.seq;
                           batch.last_seq = row.seq;
                         });
  batch.changes = writer.changes();
  batch.body = std::move(writer).finish();
  return batch;
}

ServerAddress server_address(const std::string& server, const std::string& ca_file) {
  const auto url = boost::urls::parse_uri(server);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
    throw SyncFailure{false, fmt::format("'{}' is not an http:// or https:// server URL", server),
                      0, ErrorCode::invalid_argument};
  }
  ServerAddress address;
  address.tls = {url->scheme() == "https", ca_file};
  address.host = url->host_address();
  address.port = url->has_port() ? static_cast<std::uint16_t>(url->port_number())
                                 : (address.tls.enabled ? 443 : 80);
  address.base_path = url->path();
  while (!address.base_path.empty() && address.base_path.back() == '/')
    address.base_path.pop_back();
  return address;
}

SyncEngine::SyncEngine(StoreEngine& db, SyncOptions options)
    : db_(db), options_(std::move(options)) {}

void SyncEngine::abort() {
  if (http_) http_->abort();
}

net::HttpResult SyncEngine::call(const std::string& method, const std::string& path,
                                 const std::string& body, const std::string& token,
                                 std::map<std::string, std::string> headers) {
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  return http_->request(method, address_.base_path + path, body, headers);
}

// Settles which server, token and dataset this sync uses, and keeps them in the database. A
// different server or dataset than last time starts the change feed from the beginning.
void SyncEngine::configure(LocalFile::SyncState& state, SyncReport& report) {
  const LocalFile::SyncState kept = state;
  const std::string server = options_.server.empty() ? state.server : options_.server;
  if (server.empty()) {
    throw SyncFailure{false, "no server is configured: pass SyncOptions::server", 0,
                      ErrorCode::invalid_argument};
  }
  if (server != configured_server_) {
    address_ = server_address(server, options_.ca_file);
    try {
      http_.emplace(address_.host, address_.port, options_.request_timeout, address_.tls);
    } catch (const std::runtime_error& e) {  // the CA file
      throw SyncFailure{false, e.what(), 0, ErrorCode::invalid_argument};
    }
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
  // A token given for a server is kept before anything is asked of it: when the server cannot be
  // reached now, the next sync (given no token) goes on as the same user, not as a new guest.
  if (!state.token.empty() &&
      (state.token != kept.token || state.server != kept.server || state.dataset != kept.dataset)) {
    db_.save_sync_state(state);
  }

  if (state.token.empty()) {
    if (!options_.create_guest) {
      throw SyncFailure{false, "no token: pass SyncOptions::token or allow create_guest", 0,
                        ErrorCode::invalid_argument};
    }
    const net::HttpResult guest = call("POST", "/api/auth/guest", "", "");
    if (guest.status != 201) throw failure_of(guest, "creating a guest");
    const protocol::SessionMessage session = protocol::decode_session(guest.body);
    state.token = session.token;
    state.user_id = session.user_id;
    if (state.dataset.empty()) state.dataset = session.dataset_id;
  }
  if (state.user_id.empty() || state.dataset.empty()) {
    const net::HttpResult me = call("GET", "/api/me", "", state.token);
    if (me.status != 200) throw failure_of(me, "identifying the user");
    const protocol::UserMessage user = protocol::decode_user(me.body);
    state.user_id = user.user_id;
    if (state.dataset.empty()) state.dataset = user.dataset_id;
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
void SyncEngine::handle_refused_numbers(const net::HttpResult& result, const OutboxBatch& batch,
                                        LocalFile::SyncState& state, SyncReport& report) {
  const std::optional<protocol::ErrorBody> error = protocol::decode_error_body(result.body);
  if (batch.changes == 0 || !error) throw failure_of(result, "syncing");
  const auto number = [&](std::string_view name) -> std::optional<std::uint64_t> {
    const json::value* member = error->details.if_contains(name);
    return member ? protocol::exact_integer<std::uint64_t>(*member) : std::nullopt;
  };
  const std::uint64_t first = batch.first_seq;
  if (error->code == "sequence_reused") {
    const std::optional<std::uint64_t> matched = number("matchedThrough");
    if (!matched) throw failure_of(result, "syncing");
    if (*matched >= first) report.acknowledged += db_.apply_sync(*matched, {}, state).acknowledged;
    db_.become_new_replica();
    report.new_replica = true;
    return;
  }
  const std::optional<std::uint64_t> expected = number("expected");
  if (error->code != "sequence_gap" || !expected || *expected == 0 || *expected == first) {
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

void SyncEngine::fetch_documents(SyncReport& report) {
  std::vector<StoreEngine::DocumentKey> stale = db_.take_stale_documents();
  if (stale.empty()) return;
  const LocalFile::SyncState state = db_.sync_state();
  for (std::size_t i = 0; i < stale.size(); ++i) {
    const auto& [store, key] = stale[i];
    try {
      const crdt::Bytes vector =
          crdt::Doc::encode_state_vector(merge::document_state_vector(db_.document(store, key)));
      const net::HttpResult result =
          call("GET",
               fmt::format("/api/collab/{}/{}?format=update&stateVector={}", state.dataset,
                           document_name(store, key), base64url_encode(crdt::text_of(vector))),
               "", state.token);
      if (result.status != 200) throw failure_of(result, "fetching a document");
      if (db_.apply_document(store, key, result.body)) ++report.documents;
    } catch (...) {
      for (std::size_t j = i; j < stale.size(); ++j)
        db_.note_stale_document(stale[j]);
      try {
        throw;
      } catch (const Error& e) {  // a state or an answer that does not decode
        throw SyncFailure{false, fmt::format("document {}/{}: {}", store, key, e.what()), 0,
                          e.code()};
      }
    }
  }
}

void SyncEngine::refresh_manifests(SyncReport& report, bool force) {
  const LocalFile::SyncState state = db_.sync_state();
  for (const StoreEngine::ManifestStore& store : db_.manifest_stores()) {
    const auto age =
        std::chrono::milliseconds(db_.now_ms() - (store.held ? store.held->fetched_ms : 0));
    if (!force && store.held && store.held->span == store.hydration.chunk_entries &&
        age < store.hydration.ttl) {
      continue;
    }
    refresh_manifest(state, store, report);
  }
}

// Fetches the store's manifest (conditionally, when this copy holds one of the same span), then
// the chunks this copy lacks, each checked against its name, and applies them in one transaction.
// A chunk the server no longer has (the store changed meanwhile) sends it back for the manifest;
// the chunks fetched before are kept, so that each attempt fetches only what changed since.
void SyncEngine::refresh_manifest(const LocalFile::SyncState& state,
                                  const StoreEngine::ManifestStore& store, SyncReport& report) {
  const std::uint32_t span = store.hydration.chunk_entries;
  const std::string path = fmt::format("/api/manifest/{}/{}", state.dataset, store.store);
  const bool whole = !store.held || store.held->span != span;  // its chunks tell nothing now
  const std::set<std::string> held =
      whole ? std::set<std::string>() : db_.manifest_chunk_names(store.store);
  bool conditional = !whole;
  protocol::ReplicaInterner replicas;  // the stamps of the entries point into it
  struct Fetched {
    LocalFile::ManifestChunk chunk;
    std::vector<StoreEngine::RemoteEntry> entries;
  };
  std::map<std::string, Fetched, std::less<>> fetched;  // by name, across attempts
  for (int attempt = 0;; ++attempt) {
    if (attempt == 5) {
      throw SyncFailure{
          true, fmt::format("store {} kept changing while its manifest was read", store.store), 0};
    }
    std::map<std::string, std::string> headers;
    if (conditional) headers["If-None-Match"] = fmt::format("\"{}\"", store.held->etag);
    const net::HttpResult result =
        call("GET", fmt::format("{}?span={}", path, span), "", state.token, std::move(headers));
    report.manifest_bytes += result.body.size();
    if (result.status == 304) {
      db_.touch_manifest(store.store, {store.held->etag, span, db_.now_ms()});
      ++report.manifests;
      return;
    }
    if (result.status != 200) throw failure_of(result, "fetching a manifest");
    const protocol::ManifestMessage manifest = protocol::decode_manifest(result.body);

    // The manifest's chunks: a delta applies to the manifest held.
    std::set<std::string> target;
    if (manifest.base) {
      if (!conditional || *manifest.base != store.held->etag) {
        throw SyncFailure{true, "the server sent a manifest's changes against another one", 0};
      }
      target = held;
      for (const auto& name : manifest.removed)
        target.erase(name);
    }
    target.insert(manifest.chunks.begin(), manifest.chunks.end());
    if (protocol::manifest_etag(span, {target.begin(), target.end()}) != manifest.etag) {
      if (!conditional) throw SyncFailure{true, "a manifest does not match its ETag", 0};
      conditional = false;  // ask for it whole
      continue;
    }

    std::vector<std::string> wanted;  // in key order, as the manifest lists them
    for (const auto& name : manifest.chunks) {
      if (!held.contains(name) && !fetched.contains(name)) wanted.push_back(name);
    }
    // In batches, in key order; what an answer left out (it stops at about 16 MiB) is asked
    // for again first.
    bool stale = false;
    std::vector<std::string> retry;
    for (std::size_t next = 0; !stale && (next < wanted.size() || !retry.empty());) {
      protocol::ChunkRequest request{span, std::move(retry)};
      while (next < wanted.size() && request.chunks.size() < protocol::kMaxChunksPerRequest)
        request.chunks.push_back(std::move(wanted[next++]));
      const net::HttpResult chunks =
          call("POST", path + "/chunks", protocol::encode_chunk_request(request), state.token);
      if (chunks.status != 200) throw failure_of(chunks, "fetching chunks");
      report.manifest_bytes += chunks.body.size();
      const std::set<std::string_view> asked(request.chunks.begin(), request.chunks.end());
      std::set<std::string_view> arrived;
      for (const auto& [name, bytes] : protocol::split_chunks(chunks.body)) {
        std::vector<protocol::FeedItem> items = protocol::decode_chunk(bytes, replicas);
        if (items.empty() || !asked.contains(name) || !arrived.insert(name).second) {
          throw SyncFailure{true,
                            fmt::format("chunk {} is empty, not asked for or sent twice", name), 0};
        }
        Fetched& chunk = fetched[std::string(name)];
        chunk.chunk = {std::string(name), items.front().key, items.back().key};
        for (protocol::FeedItem& item : items) {
          if (item.store != store.store) {
            throw SyncFailure{true, fmt::format("chunk {} holds another store's entry", name), 0};
          }
          chunk.entries.push_back(
              {std::move(item.store), std::move(item.key), std::move(item.entry)});
        }
      }
      stale = arrived.empty();  // none of those asked for: the store changed since
      retry.clear();
      for (std::string& name : request.chunks) {
        if (!arrived.contains(name)) retry.push_back(std::move(name));
      }
    }
    if (stale) continue;

    // The manifest's chunks this copy lacked, all fetched now; those it held and the manifest
    // no longer has go.
    StoreEngine::ManifestRefresh refresh{
        store.store, {manifest.etag, span, db_.now_ms()}, {}, {}, {}, whole};
    for (const auto& name : held) {
      if (!target.contains(name)) refresh.removed.push_back(name);
    }
    for (const auto& name : target) {
      if (held.contains(name)) continue;
      Fetched& chunk = fetched.at(name);
      refresh.added.push_back(std::move(chunk.chunk));
      std::move(chunk.entries.begin(), chunk.entries.end(), std::back_inserter(refresh.entries));
    }
    report.received += refresh.entries.size();
    report.chunks += refresh.added.size();
    const auto applied = db_.apply_manifest(std::move(refresh));
    ++report.manifests;
    report.applied += applied.applied;
    report.held_back += applied.held;
    report.forgotten += applied.forgotten;
    return;
  }
}

protocol::DatasetSchemaMessage SyncEngine::dataset_schema(
    const std::optional<std::string>& publish) {
  LocalFile::SyncState state = db_.sync_state();
  SyncReport ignored;
  configure(state, ignored);
  const net::HttpResult result =
      call(publish ? "PUT" : "GET", fmt::format("/api/datasets/{}/schema", state.dataset),
           publish.value_or(""), state.token);
  if (result.status != 200) {
    throw failure_of(result, publish ? "publishing the schema" : "reading the schema");
  }
  try {
    return protocol::decode_dataset_schema(result.body);
  } catch (const Error& e) {
    throw SyncFailure{false, e.what(), 0, e.code()};
  }
}

std::unique_ptr<LiveLink> SyncEngine::open_live() {
  const LocalFile::SyncState state = db_.sync_state();
  try {
    auto socket = std::make_unique<net::WebSocketClient>(
        address_.host, address_.port, address_.base_path + "/api/live",
        std::map<std::string, std::string>{{"Authorization", "Bearer " + state.token}},
        options_.request_timeout, address_.tls);
    return std::make_unique<LiveLink>(db_, options_, std::move(socket), state.dataset,
                                      state.cursor);
  } catch (const net::WebSocketRefused& refused) {
    net::HttpResult result{refused.status(), refused.what(), refused.body(), {}};
    throw failure_of(result, "opening the live channel");
  }
}

SyncReport SyncEngine::run(bool full, bool send) {
  SyncReport report;
  LocalFile::SyncState state = db_.sync_state();
  try {
    configure(state, report);
    if (full) {  // the whole dataset again: what the server no longer has goes here too
      state.cursor.clear();
      report.full = true;
      db_.begin_resync(state);
    }
    while (true) {
      // The next batch of the outbox, bounded by count and bytes. The replica id changes when the
      // database becomes a new replica.
      const std::string cursor = state.cursor.empty() ? "0" : state.cursor;
      const OutboxBatch batch =
          send ? outbox_batch(db_, options_, 0, state.dataset, cursor)
               : OutboxBatch{protocol::encode_patch_request({db_.replica_id(),
                                                             state.dataset,
                                                             cursor,
                                                             {},
                                                             db_.declared_versions(),
                                                             db_.manifest_store_names()}),
                             0, 0, 0};
      const std::size_t sending = batch.changes;
      const net::HttpResult result = call("POST", "/api/sync/patch", batch.body, state.token);

      if (result.status == 409) {  // the server wants these changes under other numbers
        handle_refused_numbers(result, batch, state, report);
        continue;
      }
      if (result.status == 410 && refusal_code(result) == protocol::Code::cursor_compacted) {
        // Deletes after the cursor were compacted away: the whole dataset again, and what the
        // server no longer has goes here too.
        state.cursor.clear();
        report.full = true;
        db_.begin_resync(state);
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

      protocol::PatchResponse response = protocol::decode_patch_response(result.body);
      if (!response.page) throw Error(ErrorCode::invalid_value, "the answer has no \"changes\"");
      std::vector<StoreEngine::RemoteEntry> entries;
      const std::size_t received = response.page->changes.size();
      take_page(*response.page, entries);
      const std::uint64_t acked_before = db_.acknowledged_through();
      state.cursor = std::to_string(response.cursor);
      const auto applied = db_.apply_sync(response.ack.value_or(0), std::move(entries), state);
      state = db_.sync_state();
      report.sent += sending;
      report.acknowledged += applied.acknowledged;
      report.received += received;
      report.applied += applied.applied;
      report.held_back += applied.held;
      report.skipped += applied.skipped;
      report.conflicts += response.conflicts.size();
      if (sending > 0 && applied.acknowledged == 0) {
        throw SyncFailure{true, "the server did not acknowledge the changes sent", 0};
      }
      if (response.ack && *response.ack < acked_before) {
        // The server has fewer of this replica's changes than it acknowledged: it was restored
        // from a backup.
        follow_restored_server(*response.ack + 1, report);
        continue;
      }
      if (!response.page->has_more && (sending == 0 || db_.pending_count() == 0)) break;
    }
    report.forgotten = db_.finish_resync();
    report.tombstones_dropped = db_.drop_tombstones(options_.tombstone_retention);
    refresh_manifests(report, full);
    fetch_documents(report);
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
