// CollabService — collaborative documents on cairnd (docs/protocol.md, "Collaborative
// documents"): the y-websocket protocol on GET /api/collab/<datasetId>/<docName>, so that Yjs
// editors join unmodified, and the same documents over plain HTTP (GET the state, POST an update).
//
// A document belongs to a dataset and is kept as a log of Yjs updates (Storage's
// document_updates), compacted into one update from time to time by the service's own thread. It is
// loaded when a peer or a request needs it and unloaded when none holds it any more.
//
// Authorisation is the HTTP API's: members of the dataset only (anyone else gets not_found,
// whether or not the document exists); viewers receive the document, its updates and awareness,
// and an update they send that would change the document is answered with y-websocket's
// permission-denied message. On the socket, permanent denials close with 4401/4404 (y-websocket
// stops reconnecting on 4400-4499), overload and rate limits with 1013, so editors come back. A
// token revoked, or a member removed, closes that user's connections at once.
//
// Durable before relayed: an update is applied to the loaded document and queued for the
// service's committer thread, which appends the updates that queued up meanwhile (for any
// document) to their logs in one transaction (group commit), and only once that is committed
// sends each document's updates to its other peers — in the order they were applied, which is the
// log's, each peer one message with what it did not send itself. An update over HTTP is answered
// once committed. Awareness (who is here, their cursors) is relayed
// among a document's peers and not stored; a connection's awareness states are removed for the
// others when it closes.
//
// A document named "<store>/<key>" is also an entry of that store in the dataset's change feed
// (SyncService::mark_document), moved in the transaction of each update, so that devices syncing
// the store learn that it changed and fetch what they lack (GET ?stateVector=).
//
// Several nodes sharing PostgreSQL serve every document: a node that commits an update tells the
// others (Storage notifications), which read the log from where their loaded copy ends and relay
// what it adds to their own peers; awareness travels the same way, unstored.
//
// Thread-safe: connections' messages arrive on the server's handler pool, one at a time per
// connection; each document has its own lock.
#pragma once

#include <cairn/clock.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "protocol/live.hpp"
#include "server/accounts.hpp"
#include "server/http.hpp"
#include "server/rate_limiter.hpp"
#include "server/storage/storage.hpp"
#include "server/sync_service.hpp"

namespace cairn::server {

struct CollabOptions {
  // The most a document's log may hold (bytes of updates since its last compaction, and its
  // compacted state): an update that would take it past is refused (413 document too large,
  // close 4413 on the socket).
  std::size_t max_document_bytes = 64 * 1024 * 1024;
  // A document's log is compacted into one update once it holds this many.
  std::size_t compact_after_updates = 256;
  // While a document changes, a snapshot of it is kept at most this often (others on request).
  std::chrono::milliseconds snapshot_interval{3'600'000};
  std::size_t max_connections = 10'000;
  // Awareness states (Yjs clients) one connection may speak for.
  std::size_t max_awareness_clients_per_connection = 16;
};

class CollabService {
 public:
  CollabService(Accounts& accounts, Storage& storage, SyncService& sync,
                std::shared_ptr<Clock> clock, RateLimiter& limiter, CollabOptions options);
  ~CollabService();
  CollabService(const CollabService&) = delete;
  CollabService& operator=(const CollabService&) = delete;

  // A WebSocket upgrade of /api/collab/<datasetId>/<docName>: always accepted (binary frames),
  // then closed with a close code when the caller may not have the document, so that y-websocket
  // learns why.
  WebSocketUpgrade upgrade(const HttpRequest& request, std::shared_ptr<WebSocketPeer> peer);
  // GET (the document) and POST (an update) on /api/collab/<datasetId>/<docName>.
  HttpResponse handle(const HttpRequest& request);
  // Closes the connections that authenticated with the token (its hash).
  void revoke(const std::string& token_hash);
  // Closes `user_id`'s connections to documents of the dataset.
  void member_removed(const std::string& dataset_id, const std::string& user_id);
  // From another node sharing the storage (StorageEvents): a document's log grew; awareness one of
  // its peers sent; events may have been missed (every loaded document reads its log again).
  void document_moved(const std::string& dataset_id, const std::string& name, std::uint64_t seq);
  void awareness_relayed(const std::string& dataset_id, const std::string& name,
                         const std::string& update);
  void resync();
  // Whether `update` would add something to document `name` as this node has it loaded (true
  // when it is not loaded, busy, or does not decode): a sync change that an editor's session
  // already brought (a device sends its edits both ways) is not appended to the log again. Never
  // waits for the document's lock (callers hold a storage transaction).
  bool adds_to(const std::string& dataset_id, const std::string& name, std::string_view update);
  // Told (under a document's lock: it must not block) when a peer joins a document (`present`,
  // its state {"document": name, "user": the "user" of its awareness state, once it has one}),
  // changes its "user", or leaves: the live channel shows it in the dataset's presence. Set
  // before serving.
  using PresenceListener = std::function<void(const std::string& dataset_id,
                                              const protocol::PresencePeer& peer, bool present)>;
  void on_presence(PresenceListener listener);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::server
