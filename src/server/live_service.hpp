// LiveService — the live channel, GET /api/live (docs/protocol.md, "Live channel"): subscriptions
// to datasets' change feeds (the backlog after a cursor, then every change as it commits),
// presence, and patches over the socket.
//
// Authorisation is the HTTP API's: the upgrade needs a valid token (Authorization: Bearer, or
// ?token= for browsers) and is refused with 401 otherwise; subscribing needs viewer, a patch that
// writes needs editor, and a dataset the caller may not see is not_found. A token revoked on this
// node (logout), or on another node sharing the storage (relayed by it), closes its connections at
// once, with kCloseUnauthorized; expiry is checked every `token_check_interval`.
//
// Threads. A connection's messages are handled on the server's handler pool, one at a time; the
// authorisation and patches happen there. Who subscribes to what — backlogs, pushes, presence —
// lives on the service's own thread (the lane), so that a dataset's pushes and the backlog of a
// subscriber catching up are never interleaved: each subscriber receives its dataset's feed in
// order, without gap or duplicate. When a commit moves a dataset's feed (the ChangeFeed), the lane
// reads the new changes once, encodes them once, and queues the same frame on every subscriber
// that has caught up. A subscriber catching up gets its backlog a page at a time, each page once
// its send queue has room, so that a large backlog is never mistaken for a slow consumer.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "protocol/live.hpp"
#include "server/accounts.hpp"
#include "server/change_feed.hpp"
#include "server/http.hpp"
#include "server/metrics.hpp"
#include "server/rate_limiter.hpp"
#include "server/sync_service.hpp"

namespace cairn::server {

struct LiveOptions {
  std::size_t max_connections = 10'000;        // live connections in all
  std::size_t max_connections_per_user = 100;  // live connections of one user
  std::size_t max_subscriptions_per_connection = 100;
  std::chrono::milliseconds token_check_interval{60'000};
  std::size_t max_json_depth = 64;
};

class LiveService {
 public:
  LiveService(Accounts& accounts, SyncService& sync, FeedSubscribers& feed, RateLimiter& limiter,
              Metrics& metrics, LiveOptions options);
  ~LiveService();
  LiveService(const LiveService&) = delete;
  LiveService& operator=(const LiveService&) = delete;

  // GET /api/live: authenticates the request and accepts the connection, or refuses it (401 for a
  // bad token, 429 over the per-user limit, 503 over the total).
  WebSocketUpgrade upgrade(const HttpRequest& request, std::shared_ptr<WebSocketPeer> peer);
  // Closes every connection that authenticated with the token (its hash), at once.
  void revoke(const std::string& token_hash);
  // Ends `user_id`'s subscriptions to a dataset they are no longer a member of (at once on this
  // node; the token check also rechecks every subscription's membership).
  void member_removed(const std::string& dataset_id, const std::string& user_id);
  // A peer of one of the dataset's collaborative documents joined or changed (`present`), or left:
  // shown to the dataset's subscribers in presence, as a peer whose state names the document.
  void document_presence(const std::string& dataset_id, const protocol::PresencePeer& peer,
                         bool present);
  // Commits, revocations or membership changes may have gone unnoticed (another node's, while
  // the storage's relay was down): pushes whatever the subscribed datasets' feeds hold beyond
  // what was sent, and checks every connection's token and membership now.
  void resync();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::server
