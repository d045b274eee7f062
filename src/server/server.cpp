#include "server/server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>
#include <cairn/schema.hpp>
#include <cairn/version.hpp>
#include <chrono>
#include <fstream>
#include <sstream>

#include "foundation/json_text.hpp"
#include "server/accounts.hpp"
#include "server/api.hpp"
#include "server/http_status.hpp"
#include "server/rate_limiter.hpp"
#include "server/storage/sqlite_storage.hpp"
#include "server/storage/storage_factory.hpp"
#include "server/sync_service.hpp"
#include "storage/file_lock.hpp"

namespace cairn::server {
namespace json = boost::json;

namespace {

// Seeded into every new user's dataset when no profile template is configured.
constexpr const char* kDefaultProfile = R"({"stores": {
  "userInformation": {"profile": {"displayName": "Guest"}},
  "aiConfig": {"assistant": {"model": "small", "temperature": 0.3}}
}})";

json::object load_profile_template(const std::filesystem::path& file) {
  std::string text = kDefaultProfile;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error("cannot read profile template '" + file.string() + "'");
    std::stringstream contents;
    contents << in.rdbuf();
    text = contents.str();
  }
  std::error_code error;
  json::value value = json::parse(text, error);
  const json::object* root = value.if_object();
  const json::value* stores = root ? root->if_contains("stores") : nullptr;
  if (error || stores == nullptr || !stores->is_object()) {
    throw std::runtime_error("the profile template must be {\"stores\": {store: {key: value}}}");
  }
  for (const auto& [store, entries] : stores->get_object()) {
    if (!entries.is_object()) {
      throw std::runtime_error("profile template: store '" + std::string(store) +
                               "' must be an object of key -> value");
    }
  }
  return stores->get_object();
}

}  // namespace

namespace {

// Renames a SQLite database with its -wal and -shm files, the main file last.
void rename_database(const std::filesystem::path& from, const std::filesystem::path& to) {
  for (const char* suffix : {"-wal", "-shm", ""}) {
    if (std::filesystem::exists(from.string() + suffix)) {
      std::filesystem::rename(from.string() + suffix, to.string() + suffix);
    }
  }
}

}  // namespace

RestoreReport restore_data(const std::filesystem::path& data_dir,
                           const std::filesystem::path& backup) {
  namespace fs = std::filesystem;
  const fs::path live = data_dir / "cairnd.db";
  fs::create_directories(data_dir);
  const FileLock lock(live);  // no cairnd may run on it meanwhile
  if (!fs::is_regular_file(backup)) {
    throw Error(ErrorCode::not_found, fmt::format("there is no backup at '{}'", backup.string()));
  }
  // Prepared beside the live database, then swapped in: a failure leaves the live one as it was.
  const fs::path incoming = data_dir / "cairnd.db.restoring";
  const auto remove_incoming = [&] {
    for (const char* suffix : {"", "-wal", "-shm"})
      fs::remove(incoming.string() + suffix);
  };
  remove_incoming();
  RestoreReport report;
  try {
    fs::copy_file(backup, incoming);
    SqliteStorage storage(incoming);  // refuses a file that is not cairnd's
    auto tx = storage.begin(true);
    report.datasets = tx->advance_feeds(kRestoreFeedJump);
    tx->commit();
  } catch (...) {
    remove_incoming();
    throw;
  }
  if (fs::exists(live)) {
    report.replaced = data_dir / fmt::format("cairnd.db.replaced-{}", system_clock()->now_ms());
    rename_database(live, report.replaced);
  }
  rename_database(incoming, live);
  return report;
}

// What other nodes sharing the storage commit, passed on here as this node's own commits are.
class Server::Relay final : public StorageEvents {
 public:
  Relay(FeedSubscribers& feed, Accounts& accounts, LiveService& live, CollabService& collab)
      : feed_(feed), accounts_(accounts), live_(live), collab_(collab) {}

  void feed_moved(std::string_view dataset_id, std::uint64_t position) override {
    feed_.committed(dataset_id, position);
  }
  void token_revoked(std::string_view token_hash) override { accounts_.token_revoked(token_hash); }
  void member_removed(std::string_view dataset_id, std::string_view user_id) override {
    live_.member_removed(std::string(dataset_id), std::string(user_id));
    collab_.member_removed(std::string(dataset_id), std::string(user_id));
  }
  void document_moved(std::string_view dataset_id, std::string_view name,
                      std::uint64_t seq) override {
    collab_.document_moved(std::string(dataset_id), std::string(name), seq);
  }
  void awareness_relayed(std::string_view dataset_id, std::string_view name,
                         std::string_view update) override {
    collab_.awareness_relayed(std::string(dataset_id), std::string(name), std::string(update));
  }
  void missed_events() override {
    accounts_.forget_tokens();
    live_.resync();
    collab_.resync();
  }

 private:
  FeedSubscribers& feed_;
  Accounts& accounts_;
  LiveService& live_;
  CollabService& collab_;
};

struct Server::Parts {
  std::unique_ptr<Storage> storage;
  std::unique_ptr<SyncService> sync;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<RateLimiter> limiter;
  std::unique_ptr<Manifests> manifests;
  std::unique_ptr<Api> api;
  std::unique_ptr<LiveService> live;
  std::unique_ptr<CollabService> collab;
  std::unique_ptr<Relay> relay;
  std::unique_ptr<StorageWatch> watch;  // relays to `relay`
  std::unique_ptr<Housekeeper> housekeeper;
};

Server::Server(ServerOptions options)
    : options_(std::move(options)), parts_(std::make_unique<Parts>()) {
  parts_->storage = open_storage(options_.storage);

  SyncSettings settings;
  settings.limits.max_key_bytes = options_.max_key_bytes;
  settings.limits.max_value_bytes = options_.max_value_bytes;
  settings.max_clock_skew = options_.max_clock_skew;
  settings.page_size = options_.page_size;
  settings.profile_template = load_profile_template(options_.profile_template);
  settings.max_update_bytes = options_.collab.max_document_bytes;
  std::vector<StoreSchema> schema;
  if (!options_.schema_file.empty()) schema = load_schema_file(options_.schema_file);
  parts_->sync = std::make_unique<SyncService>(*parts_->storage, metrics_, feed_, options_.clock,
                                               std::move(schema), std::move(settings));

  std::unique_ptr<GoogleIdTokenVerifier> google;
  if (!options_.jwks_file.empty() || !options_.google_client_id.empty()) {
    if (options_.jwks_file.empty() || options_.google_client_id.empty()) {
      throw std::runtime_error("Google sign-in needs both a JWKS file and a client id");
    }
    google = std::make_unique<GoogleIdTokenVerifier>(
        GoogleIdTokenVerifier::from_file(options_.jwks_file, options_.google_client_id));
  }
  parts_->accounts = std::make_unique<Accounts>(*parts_->storage, *parts_->sync,
                                                options_.token_lifetime, std::move(google));
  parts_->limiter = std::make_unique<RateLimiter>(options_.rate_limit, options_.rate_burst);
  parts_->manifests = std::make_unique<Manifests>(*parts_->storage);
  parts_->api = std::make_unique<Api>(*parts_->accounts, *parts_->sync, *parts_->manifests,
                                      *parts_->limiter, options_.max_json_depth);
  LiveOptions live = options_.live;
  live.max_json_depth = options_.max_json_depth;
  parts_->live = std::make_unique<LiveService>(*parts_->accounts, *parts_->sync, feed_,
                                               *parts_->limiter, metrics_, live);
  parts_->collab =
      std::make_unique<CollabService>(*parts_->accounts, *parts_->storage, *parts_->sync,
                                      options_.clock, *parts_->limiter, options_.collab);
  parts_->sync->on_document_moved([collab = parts_->collab.get()](const std::string& dataset_id,
                                                                  const std::string& name,
                                                                  std::uint64_t log_seq) {
    collab->document_moved(dataset_id, name, log_seq);
  });
  parts_->sync->on_document_update([collab = parts_->collab.get()](const std::string& dataset_id,
                                                                   const std::string& name,
                                                                   std::string_view update) {
    return collab->adds_to(dataset_id, name, update);
  });
  parts_->collab->on_presence([live = parts_->live.get()](const std::string& dataset_id,
                                                          const protocol::PresencePeer& peer,
                                                          bool present) {
    live->document_presence(dataset_id, peer, present);
  });
  parts_->accounts->on_revoke(
      [live = parts_->live.get(), collab = parts_->collab.get()](const std::string& token_hash) {
        live->revoke(token_hash);
        collab->revoke(token_hash);
      });
  parts_->accounts->on_member_removed(
      [live = parts_->live.get(), collab = parts_->collab.get()](const std::string& dataset_id,
                                                                 const std::string& user_id) {
        live->member_removed(dataset_id, user_id);
        collab->member_removed(dataset_id, user_id);
      });
  parts_->relay = std::make_unique<Relay>(feed_, *parts_->accounts, *parts_->live, *parts_->collab);
  parts_->watch = parts_->storage->watch(*parts_->relay);
  parts_->housekeeper = std::make_unique<Housekeeper>(*parts_->storage, *parts_->sync, metrics_,
                                                      options_.housekeeping);

  HttpObserver observer;
  observer.connections = [this](int delta) {
    delta > 0 ? metrics_.connection_opened() : metrics_.connection_closed();
  };
  observer.websockets = [this](int delta) { metrics_.live_connections(delta); };
  observer.frame_sent = [this](const OutgoingFrame& frame) {
    std::optional<std::chrono::nanoseconds> latency;
    if (frame.committed) latency = std::chrono::steady_clock::now() - *frame.committed;
    metrics_.live_frame_sent(frame.payload->size(), latency);
  };
  observer.slow_consumer = [this] { metrics_.live_slow_consumer(); };
  http_ = std::make_unique<HttpServer>(
      options_.http, [this](const HttpRequest& request) { return handle(request); },
      [this](const HttpRequest& request, std::shared_ptr<WebSocketPeer> peer) {
        return upgrade(request, std::move(peer));
      },
      std::move(observer));
}

// The storage's relay stops first (it calls into the live service), then the live service (its
// thread pushes to connections of the HTTP server).
Server::~Server() {
  parts_->housekeeper.reset();
  parts_->watch.reset();
  parts_->live.reset();
  parts_->collab.reset();
}

std::uint16_t Server::port() const {
  return http_->port();
}
void Server::run() {
  http_->run();
}
HousekeepingReport Server::housekeep() {
  return parts_->housekeeper->pass();
}
void Server::stop() {
  http_->stop();
}

WebSocketUpgrade Server::upgrade(const HttpRequest& request, std::shared_ptr<WebSocketPeer> peer) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  WebSocketUpgrade decision;
  std::string route = path;
  if (path == "/api/live") {
    decision = parts_->live->upgrade(request, std::move(peer));
  } else if (path.rfind("/api/collab/", 0) == 0) {
    route = "/api/collab";
    decision = parts_->collab->upgrade(request, std::move(peer));
  } else {
    decision.refusal =
        refusal_response(protocol::Code::not_found, "no WebSocket route for " + path);
  }
  if (!decision.handler) metrics_.record_request(route, decision.refusal.status, {});
  spdlog::debug("upgrade route={} accepted={} remote={}", path, decision.handler != nullptr,
                request.remote);
  return decision;
}

// 200 {"status": "ok", …} while the database answers; 503 {"status": "unavailable", …}, with
// Retry-After, while it does not (a load balancer sends clients to other nodes meanwhile).
HttpResponse Server::health() {
  HttpResponse response;
  json::object body{{"status", "ok"}, {"version", kVersion}, {"database", "ok"}};
  try {
    parts_->storage->check();
  } catch (const Error& error) {
    response = refusal_response(as_refusal(error));
    body["status"] = "unavailable";
    body["database"] = error.what();
  }
  response.body = json_text(body);
  return response;
}

// The demo editor (docs/collaboration.md), from where scripts/build-demo.sh built it.
HttpResponse Server::demo(const HttpRequest& request, const std::string& path) {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse refused = refusal_response(protocol::Code::method_not_allowed, "use GET");
    refused.headers.emplace_back("Allow", "GET, HEAD");
    return refused;
  }
  const bool page = path == "/demo/editor";
  const std::filesystem::path file = options_.demo_dir / (page ? "index.html" : "editor.js");
  std::ifstream in(file, std::ios::binary);
  if (options_.demo_dir.empty() || !in) {
    return refusal_response(protocol::Code::not_found,
                            "the demo editor is not built for this cairnd: run "
                            "scripts/build-demo.sh, then start cairnd with --demo-dir "
                            "build/demo/dist");
  }
  HttpResponse response;
  response.content_type = page ? "text/html; charset=utf-8" : "text/javascript; charset=utf-8";
  response.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  response.headers.emplace_back("Cache-Control", "no-cache");
  return response;
}

HttpResponse Server::handle(const HttpRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  const std::string path = request.target.substr(0, request.target.find('?'));
  std::string route = path;
  HttpResponse response;
  if (path == "/demo/editor" || path == "/demo/editor.js") {
    route = path;
    response = demo(request, path);
  } else if (path == "/healthz" || path == "/metrics") {
    if (request.method != "GET" && request.method != "HEAD") {
      response = refusal_response(protocol::Code::method_not_allowed, "use GET for " + path);
      response.headers.emplace_back("Allow", "GET, HEAD");
    } else if (path == "/healthz") {
      response = health();
    } else {
      response.content_type = "text/plain; version=0.0.4";
      response.body = metrics_.render(parts_->storage->figures());
    }
  } else if (path.rfind("/api/collab/", 0) == 0) {
    route = "/api/collab";
    response = parts_->collab->handle(request);
  } else if (path.rfind("/api/", 0) == 0) {
    response = parts_->api->handle(request, route);
  } else {
    route = "unknown";
    response = refusal_response(protocol::Code::not_found, "no route for " + path);
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  metrics_.record_request(route, response.status, elapsed);
  spdlog::debug("request method={} route={} status={} remote={} us={}", request.method, route,
                response.status, request.remote,
                std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  return response;
}

}  // namespace cairn::server
