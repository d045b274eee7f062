// SyncEngine — one sync with cairnd, start to finish (see cairn/sync.hpp for the behaviour):
// make sure of a token, then send the outbox in batches and pull the change feed until both are
// exhausted, applying every answer in one local transaction. Used by SyncClient's background
// thread and by SyncClient::sync_once.
//
// Not thread-safe: one thread runs an engine.
#pragma once

#include <cairn/sync.hpp>
#include <memory>
#include <optional>
#include <string>

#include "net/http_client.hpp"
#include "protocol/datasets.hpp"
#include "protocol/sync_request.hpp"
#include "store/store_engine.hpp"

namespace cairn {

// Why a sync stopped. `retryable`: the network or the server's load (back off and try again);
// otherwise the server refused and retrying as is will not help.
struct SyncFailure {
  bool retryable = true;
  std::string message;
  int retry_after_seconds = 0;
  ErrorCode code = ErrorCode::unavailable;  // what the application is told (SyncClient::sync_once)
};

// The next batch of the outbox after `after_seq`, bounded by SyncOptions' count and bytes, as
// the text of a patch request from this replica (its id changes when the database becomes a new
// replica). `cursor` empty: none (the live channel).
struct OutboxBatch {
  std::string body;
  std::size_t changes = 0;
  std::uint64_t first_seq = 0, last_seq = 0;  // 0 when empty
};
OutboxBatch outbox_batch(StoreEngine& db, const SyncOptions& options, std::uint64_t after_seq,
                         const std::string& dataset, const std::string& cursor);

// Where a server URL ("http://host:port/base" or "https://…") points. Throws
// SyncFailure(invalid_argument) for anything else, or a CA file that cannot be read.
struct ServerAddress {
  std::string host;
  std::uint16_t port = 0;
  std::string base_path;  // without a trailing slash
  net::TlsOptions tls;
};
ServerAddress server_address(const std::string& server, const std::string& ca_file);

class LiveLink;

class SyncEngine {
 public:
  SyncEngine(StoreEngine& db, SyncOptions options);

  // Throws SyncFailure. With `full`, the change feed is read again from the beginning. Without
  // `send`, the outbox stays (the live channel sends it next) and the feed is pulled.
  SyncReport run(bool full = false, bool send = true);
  // Breaks off a request in flight from another thread (for a prompt shutdown).
  void abort();
  // Fetches, for each document the server's feed said changed, what this replica lacks of it
  // (GET /api/collab/<dataset>/<store>/<key>?stateVector=…) and merges it. Needs a run() before.
  // Throws SyncFailure, leaving the documents not fetched yet noted for the next time.
  void fetch_documents(SyncReport& report);
  // Refreshes the stores hydrated by manifest (docs/sync.md, "Large stores: manifests") whose
  // copy is older than their TTL (all of them, with `force`). Needs a run() before; run() calls
  // it, and the live channel's turns do. Throws SyncFailure.
  void refresh_manifests(SyncReport& report, bool force = false);
  // Opens the live channel to the server and dataset of the last successful run(), subscribed
  // from its cursor. Throws SyncFailure.
  std::unique_ptr<LiveLink> open_live();
  // The dataset's schema (GET /api/datasets/<dataset>/schema), or with `publish` (a schema file's
  // JSON text) its next revision (PUT). Throws SyncFailure.
  protocol::DatasetSchemaMessage dataset_schema(const std::optional<std::string>& publish);

 private:
  void configure(LocalFile::SyncState& state, SyncReport& report);
  void follow_restored_server(std::uint64_t next, SyncReport& report);
  void resend_own_writes(SyncReport& report);
  void handle_refused_numbers(const net::HttpResult& result, const OutboxBatch& batch,
                              LocalFile::SyncState& state, SyncReport& report);
  void refresh_manifest(const LocalFile::SyncState& state, const StoreEngine::ManifestStore& store,
                        SyncReport& report);
  net::HttpResult call(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& token, std::map<std::string, std::string> headers = {});

  StoreEngine& db_;
  SyncOptions options_;
  ServerAddress address_;
  std::string configured_server_;
  std::optional<net::HttpClient> http_;
};

}  // namespace cairn
