// Server — cairnd: routes requests to handlers over an HttpServer and owns storage, accounts and
// the sync service.
//
// GET /healthz and GET /metrics are answered here; everything under /api by Api, but the live
// channel's WebSocket (GET /api/live) by LiveService (see docs/protocol.md). Every error is
// answered as {"error": {"code": "...", "message": "..."}} with a fitting status.
#pragma once

#include <cairn/clock.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "server/change_feed.hpp"
#include "server/collab_service.hpp"
#include "server/housekeeper.hpp"
#include "server/http_server.hpp"
#include "server/live_service.hpp"
#include "server/metrics.hpp"
#include "server/storage/storage_factory.hpp"

namespace cairn::server {

struct ServerOptions {
  HttpServerOptions http;  // its `websocket` member bounds the live channel's frames and queues
  LiveOptions live;        // the live channel's connections and subscriptions
  CollabOptions collab;    // collaborative documents' bounds
  HousekeepingOptions housekeeping;  // tombstone compaction
  StorageConfig storage;
  std::shared_ptr<Clock> clock = system_clock();  // tests inject a manual one
  std::filesystem::path schema_file;              // stores, versions, policies (optional)
  std::filesystem::path profile_template;  // entries seeded into new users' datasets (optional)
  std::filesystem::path jwks_file;         // Google's signing keys (optional)
  // The demo editor's built files (scripts/build-demo.sh: index.html, editor.js), served under
  // /demo/editor; empty: the demo is not served.
  std::filesystem::path demo_dir;
  std::string google_client_id;  // the `aud` of accepted Google ID tokens
  std::chrono::seconds token_lifetime{30 * 24 * 3600};
  std::size_t max_json_depth = 64;
  std::size_t max_key_bytes = 1024;
  std::size_t max_value_bytes = 1024 * 1024;
  std::chrono::milliseconds max_clock_skew{5 * 60'000};
  double rate_limit = 200;  // requests per second per token (0: no limit)
  double rate_burst = 400;
  std::size_t page_size = 1000;
};

class Server {
 public:
  // Opens storage (open_storage: for SQLite, Error(database_locked) while another cairnd uses the
  // data directory) and binds the listening socket; throws on failure.
  explicit Server(ServerOptions options);
  ~Server();

  std::uint16_t port() const;
  // Every commit that moves a dataset's feed, once it is durable (see change_feed.hpp).
  FeedSubscribers& change_feed() { return feed_; }
  // One round of background upkeep now (see Housekeeper), beside the scheduled ones.
  HousekeepingReport housekeep();
  void run();
  void stop();

 private:
  struct Parts;
  class Relay;
  HttpResponse handle(const HttpRequest& request);
  HttpResponse health();
  HttpResponse demo(const HttpRequest& request, const std::string& path);
  WebSocketUpgrade upgrade(const HttpRequest& request, std::shared_ptr<WebSocketPeer> peer);

  ServerOptions options_;
  Metrics metrics_;
  FeedSubscribers feed_;
  std::unique_ptr<Parts> parts_;
  std::unique_ptr<HttpServer> http_;
};

// Puts a backup of cairnd.db (made with SQLite's .backup) in place under `data_dir`, for a
// cairnd started afterwards. The database it replaces is kept beside it, renamed
// cairnd.db.replaced-<ms>. Every dataset's feed moves forward by kRestoreFeedJump, past any
// position handed out before the restore, so devices that synced after the backup was taken go
// on from their cursors and receive every change made from now on. Throws Error(database_locked)
// while a cairnd runs on `data_dir`, Error(not_a_cairn_database) for a file that is not cairnd's.
struct RestoreReport {
  std::uint64_t datasets = 0;
  std::filesystem::path replaced;  // where the replaced database went; empty when there was none
};
constexpr std::uint64_t kRestoreFeedJump = std::uint64_t{1} << 32;
RestoreReport restore_data(const std::filesystem::path& data_dir,
                           const std::filesystem::path& backup);

}  // namespace cairn::server
