#include "server/collab_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url.hpp>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <thread>
#include <vector>

#include "crdt/doc.hpp"
#include "crdt/lib0.hpp"
#include "crdt/show.hpp"
#include "foundation/base64.hpp"
#include "foundation/json_text.hpp"
#include "foundation/limits.hpp"
#include "protocol/collab.hpp"
#include "server/auth/tokens.hpp"
#include "server/http_status.hpp"

namespace cairn::server {

namespace json = boost::json;
using protocol::Code;
using protocol::Refusal;

using crdt::bytes_of;
using crdt::text_of;

namespace {

// Closes for decisions reconnecting cannot change: a malformed message, a document past its
// bound. (4401, 4403 and 4404 are protocol::kCloseCollab*.)
constexpr std::uint16_t kCloseMalformed = 4400;
constexpr std::uint16_t kCloseTooLarge = 4413;
// RFC 6455: a server error; try again later.
constexpr std::uint16_t kCloseServerError = 1011;
constexpr std::uint16_t kCloseTryAgainLater = 1013;

OutgoingFrame frame(const protocol::CollabMessage& message) {
  const crdt::Bytes bytes = protocol::encode_collab_message(message);
  OutgoingFrame out;
  out.payload = std::make_shared<const std::string>(bytes.begin(), bytes.end());
  return out;
}

// What a request names: /api/collab/<datasetId>/<docName>, the name possibly holding slashes.
struct DocumentPath {
  std::string dataset;
  std::string name;
};

DocumentPath document_path(const boost::urls::url_view& url) {
  constexpr std::string_view kPrefix = "/api/collab/";
  const std::string path = url.path();
  if (path.rfind(kPrefix, 0) != 0) throw Refusal(Code::not_found, "no route for " + path);
  const std::string rest = path.substr(kPrefix.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string::npos || slash == 0) {
    throw Refusal(Code::not_found, "a document is /api/collab/<datasetId>/<docName>");
  }
  DocumentPath named{rest.substr(0, slash), rest.substr(slash + 1)};
  if (!valid_document_name(named.name)) {
    throw Refusal(Code::invalid_request,
                  "a document name is 1 to 256 characters of A-Z a-z 0-9 _ - . : /");
  }
  return named;
}

boost::urls::url_view parse_target(const std::string& target) {
  const boost::system::result<boost::urls::url_view> url = boost::urls::parse_origin_form(target);
  if (!url) throw Refusal(Code::invalid_request, "the request target is not a valid URL path");
  return *url;
}

// The close code a refusal of the whole connection gets.
std::uint16_t close_code(Code code) {
  switch (code) {
    case Code::unauthorized:
      return protocol::kCloseCollabUnauthorized;
    case Code::forbidden:
      return protocol::kCloseCollabForbidden;
    case Code::not_found:
      return protocol::kCloseCollabNotFound;
    case Code::invalid_request:
      return kCloseMalformed;
    case Code::payload_too_large:
      return kCloseTooLarge;
    case Code::rate_limited:
    case Code::unavailable:
      return kCloseTryAgainLater;
    default:
      return kCloseServerError;
  }
}

// A connection refused after the handshake (so that y-websocket reads the close code): it hears
// nothing more.
class RefusedConnection final : public WebSocketHandler {
 public:
  void on_message(std::string) override {}
  void on_close() override {}
};

}  // namespace

// One loaded document, and who is in it.
struct Room : std::enable_shared_from_this<Room> {
  Room(std::string dataset, std::string name)
      : dataset(std::move(dataset)), name(std::move(name)) {}
  const std::string dataset;
  const std::string name;

  std::mutex mutex;                // everything below
  std::unique_ptr<crdt::Doc> doc;  // null until loaded
  std::uint64_t loads = 0;         // how many times `doc` was loaded
  std::uint64_t seq = 0;           // the last update of the log in `doc`
  std::size_t log_updates = 0;     // updates in the log
  std::size_t log_bytes = 0;       // their bytes
  std::size_t unsaved_bytes = 0;   // those of the updates on their way to the log
  // Updates applied to `doc` and queued for the log; of those, how many the committer is done
  // with (in the log, or failed). Whatever a peer or reader is given of the document waits until
  // the updates applied before it asked are settled, so that no one sees what a crash could lose.
  std::uint64_t applied = 0;
  std::uint64_t settled = 0;
  std::condition_variable settled_changed;
  struct Reply {
    std::uint64_t after;  // sent once `settled` reaches it
    std::weak_ptr<WebSocketPeer> socket;
    OutgoingFrame frame;
  };
  std::vector<Reply> replies;
  std::int64_t last_snapshot_ms = 0;  // when the latest snapshot was taken
  bool compaction_queued = false;     // the compactor will compact it
  struct Peer {
    std::weak_ptr<WebSocketPeer> socket;
    std::set<std::uint64_t> clients;  // the awareness clients it speaks for
  };
  std::map<std::string, Peer> peers;  // by connection id
  struct Awareness {
    std::uint64_t clock = 0;
    std::string state;  // JSON
    std::string connection;
  };
  std::map<std::uint64_t, Awareness> awareness;  // by Yjs client id

  // Sends to every peer but `except`.
  void broadcast(const OutgoingFrame& message, const std::string& except) {
    for (const auto& [id, peer] : peers) {
      if (id == except) continue;
      if (auto socket = peer.socket.lock()) socket->send(message);
    }
  }
};

class CollabConnection final : public WebSocketHandler,
                               public std::enable_shared_from_this<CollabConnection> {
 public:
  CollabConnection(CollabService::Impl& service, std::string id, Caller caller, bool read_only,
                   std::shared_ptr<Room> room, std::weak_ptr<WebSocketPeer> peer)
      : id(std::move(id)),
        caller(std::move(caller)),
        read_only(read_only),
        room(std::move(room)),
        service_(service),
        peer_(std::move(peer)) {}

  void on_message(std::string message) override;
  void on_close() override;

  void send(const protocol::CollabMessage& message) const {
    if (auto socket = peer_.lock()) socket->send(frame(message));
  }
  void close(std::uint16_t code, std::string reason) const {
    if (auto socket = peer_.lock()) socket->close(code, std::move(reason));
  }
  std::weak_ptr<WebSocketPeer> peer() const { return peer_; }

  const std::string id;
  const Caller caller;
  const bool read_only;  // a viewer
  const std::shared_ptr<Room> room;
  json::value user;  // the "user" of its awareness state, as presence shows it (room's lock)

 private:
  CollabService::Impl& service_;
  std::weak_ptr<WebSocketPeer> peer_;
};

class CollabService::Impl {
 public:
  Impl(Accounts& accounts, Storage& storage, SyncService& sync, std::shared_ptr<Clock> clock,
       RateLimiter& limiter, CollabOptions options)
      : accounts_(accounts),
        storage_(storage),
        sync_(sync),
        clock_(std::move(clock)),
        limiter_(limiter),
        options_(options) {}
  ~Impl() {
    {
      std::lock_guard lock(commit_mutex_);
      committer_stopping_ = true;  // once what is queued is committed
    }
    commit_wake_.notify_one();
    committer_.join();
    {
      std::lock_guard lock(compact_mutex_);
      compactor_stopping_ = true;
    }
    compact_wake_.notify_one();
    compactor_.join();
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // --- the socket ---

  WebSocketUpgrade upgrade(const HttpRequest& request, std::shared_ptr<WebSocketPeer> peer) {
    WebSocketUpgrade accepted;
    accepted.binary = true;
    accepted.shutdown_code = kCloseTryAgainLater;  // editors come back to another node
    try {
      const DocumentPath named = document_path(parse_target(request.target));
      const auto [caller, role] = authorize(request, named.dataset, Role::viewer);
      {
        std::lock_guard lock(mutex_);
        if (connections_.size() >= options_.max_connections) {
          throw Refusal(Code::unavailable,
                        "the server holds as many documents' connections as "
                        "it may; retry later");
        }
      }
      auto connection =
          std::make_shared<CollabConnection>(*this, "y" + random_id(9), caller, role < Role::editor,
                                             room(named.dataset, named.name), peer);
      join(*connection);
      {
        std::lock_guard lock(mutex_);
        connections_.emplace(connection->id, connection);
      }
      accepted.handler = connection;
    } catch (const Refusal& refusal) {
      refuse(accepted, refusal);
    } catch (const Error& error) {
      const Refusal refusal = as_refusal(error);
      if (refusal.code() == Code::internal) spdlog::error("collab upgrade: {}", error.what());
      refuse(accepted, refusal);
    }
    return accepted;
  }

  static void refuse(WebSocketUpgrade& upgrade, const Refusal& refusal) {
    upgrade.handler = std::make_shared<RefusedConnection>();
    upgrade.close_code = close_code(refusal.code());
    upgrade.close_reason = refusal.what();
  }

  void on_message(CollabConnection& connection, const std::string& message) {
    if (static_cast<std::int64_t>(clock_->now_ms()) >= connection.caller.expires_ms) {
      connection.close(protocol::kCloseCollabUnauthorized, "the token expired; sign in again");
      return;
    }
    try {
      protocol::CollabMessage decoded = protocol::decode_collab_message(bytes_of(message));
      std::visit([&](auto& m) { handle(connection, m); }, decoded);
    } catch (const Refusal& refusal) {
      connection.close(close_code(refusal.code()), refusal.what());
    } catch (const Error& error) {
      const Refusal refusal = as_refusal(error);
      if (refusal.code() == Code::internal) spdlog::error("collab message: {}", error.what());
      connection.close(close_code(refusal.code()), refusal.what());
    }
  }

  void leave(CollabConnection& connection) {
    {
      std::lock_guard lock(mutex_);
      connections_.erase(connection.id);
    }
    Room& room = *connection.room;
    crdt::Bytes update;
    {
      std::lock_guard lock(room.mutex);
      const auto peer = room.peers.find(connection.id);
      if (peer == room.peers.end()) return;
      // Its awareness states leave with it, for the others (y-protocols'
      // removeAwarenessStates).
      std::vector<protocol::AwarenessEntry> gone;
      for (const std::uint64_t client : peer->second.clients) {
        const auto state = room.awareness.find(client);
        if (state == room.awareness.end()) continue;
        gone.push_back({client, state->second.clock + 1, "null"});
        room.awareness.erase(state);
      }
      room.peers.erase(peer);
      publish_presence(connection, false);
      if (gone.empty()) return;
      update = protocol::encode_awareness_update(gone);
      room.broadcast(frame(protocol::AwarenessMessage{update}), connection.id);
    }
    // Other nodes' peers hear of it too; a database write, not under the document's lock.
    storage_.relay_awareness(room.dataset, room.name, text_of(update));
  }

  void revoke(const std::string& token_hash) {
    for (const auto& connection : connections()) {
      if (connection->caller.token_hash == token_hash) {
        connection->close(protocol::kCloseCollabUnauthorized,
                          "the token was revoked; sign in again");
      }
    }
  }

  void member_removed(const std::string& dataset_id, const std::string& user_id) {
    for (const auto& connection : connections()) {
      if (connection->caller.user_id == user_id && connection->room->dataset == dataset_id) {
        connection->close(protocol::kCloseCollabNotFound,
                          "you are no longer a member of this document's dataset");
      }
    }
  }

  void document_moved(const std::string& dataset, const std::string& name, std::uint64_t seq) {
    const std::shared_ptr<Room> room = loaded(dataset, name);
    if (!room) return;
    std::lock_guard lock(room->mutex);
    if (room->doc && seq > room->seq) catch_up(*room);
  }

  void awareness_relayed(const std::string& dataset, const std::string& name,
                         const std::string& update) {
    const std::shared_ptr<Room> room = loaded(dataset, name);
    if (!room) return;
    std::vector<protocol::AwarenessEntry> entries;
    try {
      entries = protocol::decode_awareness_update(bytes_of(update));
    } catch (const Refusal&) {
      return;  // checked on the node that took it
    }
    std::lock_guard lock(room->mutex);
    std::vector<protocol::AwarenessEntry> accepted;
    for (protocol::AwarenessEntry& entry : entries) {
      const auto known = room->awareness.find(entry.client);
      // A client one of this node's connections speaks for stays theirs.
      if (known != room->awareness.end() && !known->second.connection.empty()) continue;
      if (entry.left()) {
        if (known != room->awareness.end()) room->awareness.erase(known);
      } else {
        room->awareness[entry.client] = {entry.clock, entry.state, ""};  // another node's
      }
      accepted.push_back(std::move(entry));
    }
    if (!accepted.empty()) {
      room->broadcast(
          frame(protocol::AwarenessMessage{protocol::encode_awareness_update(accepted)}), "");
    }
  }

  bool adds_to(const std::string& dataset, const std::string& name, std::string_view update) {
    const std::shared_ptr<Room> room = loaded(dataset, name);
    if (!room) return true;
    // Asked inside a storage transaction, while a room's holder may wait for storage: never
    // waits (busy, it says yes; the update is then appended, which changes nothing but the log).
    std::unique_lock lock(room->mutex, std::try_to_lock);
    if (!lock.owns_lock()) return true;
    try {
      // What the room holds and the log not yet does not count.
      return !room->doc || room->settled < room->applied ||
             room->doc->would_change_v1(bytes_of(update));
    } catch (const crdt::DecodeError&) {
      return true;  // the caller refuses it
    }
  }

  void on_presence(CollabService::PresenceListener listener) {
    presence_listener_ = std::move(listener);
  }

  void resync() {
    std::vector<std::shared_ptr<Room>> rooms;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [key, weak] : rooms_) {
        if (auto room = weak.lock()) rooms.push_back(std::move(room));
      }
    }
    for (const auto& room : rooms) {
      std::lock_guard lock(room->mutex);
      try {
        catch_up(*room);
      } catch (const Error& e) {
        spdlog::warn("document '{}' of dataset '{}' not read again: {}", room->name, room->dataset,
                     e.what());
      }
    }
  }

  // --- HTTP ---

  HttpResponse handle_http(const HttpRequest& request) {
    try {
      const boost::urls::url_view url = parse_target(request.target);
      const DocumentPath named = document_path(url);
      const auto param = [&](std::string_view name) -> std::optional<std::string> {
        const auto found = url.params().find(name);
        if (found == url.params().end()) return std::nullopt;
        return std::string((*found).value);
      };
      if (request.method == "GET" || request.method == "HEAD") {
        authorize(request, named.dataset, Role::viewer);
        if (param("history")) return history(named, url);
        if (const auto at = param("at")) return read_snapshot(named, snapshot_id(*at), url);
        return read(*room(named.dataset, named.name), url);
      }
      if (request.method == "POST") {
        const auto [caller, role] = authorize(request, named.dataset, Role::editor);
        const std::shared_ptr<Room> document = room(named.dataset, named.name);
        std::unique_lock lock(document->mutex);
        if (!document->doc) load(*document);
        if (const auto label = param("snapshot")) {
          wait_settled(*document, lock);
          const std::uint64_t id = snapshot(*document, caller.user_id, *label);
          return {201,
                  "application/json",
                  json_text(json::object{{"id", id}, {"seq", document->seq}}),
                  {}};
        }
        const auto restoring = param("restore");
        Applied applied = restoring ? restore(*document, snapshot_id(*restoring), caller.user_id)
                                    : apply(*document, bytes_of(request.body), caller.user_id, "");
        const std::string state_vector = state_vector_text(*document->doc);
        lock.unlock();
        if (applied.changed) applied.durable.get();  // answered once the log holds it
        return {
            200,
            "application/json",
            json_text(json::object{{"changed", applied.changed}, {"stateVector", state_vector}}),
            {}};
      }
      HttpResponse refused =
          refusal_response(Code::method_not_allowed, "use GET or POST for a document");
      refused.headers.emplace_back("Allow", "GET, HEAD, POST");
      return refused;
    } catch (const Refusal& refusal) {
      return refusal_response(refusal);
    } catch (const Error& error) {
      const Refusal refusal = as_refusal(error);
      if (refusal.code() == Code::internal) {
        spdlog::error("collab request target={} error={}", loggable_target(request.target),
                      error.what());
      }
      return refusal_response(refusal);
    }
  }

 private:
  // The caller and their role in the dataset, when it is at least `needed`.
  std::pair<Caller, Role> authorize(const HttpRequest& request, const std::string& dataset,
                                    Role needed) {
    const Caller caller = accounts_.authenticate(limited_authorization(request, limiter_));
    auto tx = storage_.begin(false);
    accounts_.authorize(*tx, caller, dataset, needed);  // not_found for strangers
    return {caller, tx->role(dataset, caller.user_id).value_or(Role::viewer)};
  }

  // The loaded document `name` of `dataset`: the one peers hold, or loaded from its log.
  std::shared_ptr<Room> room(const std::string& dataset, const std::string& name) {
    std::shared_ptr<Room> found;
    {
      std::lock_guard lock(mutex_);
      std::weak_ptr<Room>& slot = rooms_[dataset + '/' + name];
      found = slot.lock();
      if (!found) {
        found = std::make_shared<Room>(dataset, name);
        slot = found;
      }
      // Rooms no one holds any more go (unloaded).
      if (rooms_.size() > 2 * live_rooms_ + 16) {
        std::erase_if(rooms_, [](const auto& entry) { return entry.second.expired(); });
        live_rooms_ = rooms_.size();
      }
    }
    std::lock_guard lock(found->mutex);
    if (!found->doc) load(*found);
    return found;
  }

  void load(Room& room) {
    auto doc = std::make_unique<crdt::Doc>(random_client_id());
    auto tx = storage_.begin(false);
    std::uint64_t seq = 0;
    std::size_t bytes = 0;
    const std::vector<DocumentUpdateRow> log = tx->document_updates(room.dataset, room.name, 0);
    for (const DocumentUpdateRow& row : log) {
      try {
        doc->apply_update_v1(bytes_of(row.data));
      } catch (const crdt::DecodeError& e) {
        throw Error(ErrorCode::corrupt,
                    fmt::format("update {} of document '{}' of dataset '{}' does not decode: {}",
                                row.seq, room.name, room.dataset, e.what()));
      }
      seq = row.seq;
      bytes += row.data.size();
    }
    const std::vector<DocumentSnapshotRow> snapshots =
        tx->document_snapshots(room.dataset, room.name);
    room.doc = std::move(doc);
    room.loads += 1;
    room.seq = seq;
    room.log_updates = log.size();
    room.log_bytes = bytes;
    room.last_snapshot_ms = snapshots.empty() ? 0 : snapshots.back().server_ms;
  }

  static std::uint64_t random_client_id() {
    std::uint64_t id = 0;
    const std::string bytes = random_id(4);  // 32 random bits, as Yjs draws client ids
    for (const char c : bytes)
      id = id * 16 + static_cast<std::uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
    return id;
  }

  // An update applied to a loaded document, on its way to the log: committed with the others
  // that queued meanwhile (for any document), then relayed.
  struct Pending {
    std::shared_ptr<Room> room;
    std::uint64_t load = 0;  // the room's `loads` when applied
    std::string data;        // as the log keeps it
    crdt::Bytes relay;       // what the document's other peers get (empty: nothing)
    std::string user_id;
    std::string from;  // the connection that sent it; empty for HTTP
    std::int64_t server_ms = 0;
    std::promise<void> durable;
  };

  struct Applied {
    bool changed = false;
    std::future<void> durable;  // when changed: ready once the log holds the update
  };

  // Applies `update` (v1) from `user_id` to the loaded document and queues it for the log; the
  // committer then relays it to the room's peers but `from`, once durable. Runs under the room's
  // lock; whoever answers for the update waits for `durable` after releasing it.
  Applied apply(Room& room, std::span<const std::uint8_t> update, const std::string& user_id,
                const std::string& from) {
    if (room.log_bytes + room.unsaved_bytes + update.size() > options_.max_document_bytes) {
      try {
        if (!room.doc->would_change_v1(update)) return {};
      } catch (const crdt::DecodeError& e) {
        throw Refusal(Code::invalid_request,
                      std::string("the update does not decode: ") + e.what());
      }
      compact(room);
      if (room.log_bytes + room.unsaved_bytes + update.size() > options_.max_document_bytes) {
        throw Refusal(Code::payload_too_large,
                      fmt::format("document '{}' would grow past {} bytes, its limit", room.name,
                                  options_.max_document_bytes));
      }
    }
    Pending pending;
    const std::uint64_t handler =
        room.doc->on_update([&](std::span<const std::uint8_t> bytes, const void*) {
          pending.relay.insert(pending.relay.end(), bytes.begin(), bytes.end());
        });
    bool changed = false;
    try {
      changed = room.doc->apply_changes_v1(update);
    } catch (const crdt::DecodeError& e) {
      room.doc->off(handler);
      throw Refusal(Code::invalid_request, std::string("the update does not decode: ") + e.what());
    }
    room.doc->off(handler);
    if (!changed) return {};
    // What waits for missing dependencies is kept too: the update as it came.
    pending.data = std::string(text_of(room.doc->has_pending() || pending.relay.empty()
                                           ? update
                                           : std::span<const std::uint8_t>(pending.relay)));
    pending.room = room.shared_from_this();
    pending.load = room.loads;
    pending.user_id = user_id;
    pending.from = from;
    pending.server_ms = static_cast<std::int64_t>(clock_->now_ms());
    room.unsaved_bytes += pending.data.size();
    room.applied += 1;
    Applied applied{true, pending.durable.get_future()};
    {
      std::lock_guard lock(commit_mutex_);
      commit_queue_.push_back(std::move(pending));
    }
    commit_wake_.notify_one();
    return applied;
  }

  // The committer's thread: the updates that queued up while it committed the last ones go to
  // the log together, in one transaction (group commit), and are then relayed, in the order they
  // were applied. It stops once the queue is empty.
  void run_committer() {
    std::unique_lock lock(commit_mutex_);
    for (;;) {
      commit_wake_.wait(lock, [&] { return committer_stopping_ || !commit_queue_.empty(); });
      if (commit_queue_.empty()) return;
      std::vector<Pending> batch;
      while (!commit_queue_.empty() && batch.size() < kMaxCommitBatch) {
        batch.push_back(std::move(commit_queue_.front()));
        commit_queue_.pop_front();
      }
      lock.unlock();
      commit(batch);
      lock.lock();
    }
  }

  // One document's part of a batch.
  struct RoomBatch {
    std::shared_ptr<Room> room;
    std::vector<Pending*> updates;
    std::uint64_t after = 0;                // the room's seq before the batch
    std::vector<DocumentUpdateRow> theirs;  // what other nodes appended since
    std::uint64_t last_seq = 0;
    std::uint64_t position = 0;  // the document's entry in the dataset's feed, if it has one
  };

  // Appends a batch to the logs, each update with its audit record (who, when, from which
  // connection), in one transaction; then relays each document's updates to its peers.
  void commit(std::vector<Pending>& batch) {
    std::vector<RoomBatch> rooms;
    for (Pending& pending : batch) {
      auto found = std::find_if(rooms.begin(), rooms.end(),
                                [&](const RoomBatch& b) { return b.room == pending.room; });
      if (found == rooms.end()) {
        found = rooms.emplace(rooms.end());
        found->room = pending.room;
      }
      found->updates.push_back(&pending);
    }
    for (RoomBatch& part : rooms) {
      std::lock_guard lock(part.room->mutex);
      part.after = part.room->seq;
    }
    try {
      retry_conflicts([&] {
        auto tx = storage_.begin(true);
        for (RoomBatch& part : rooms) {
          const Room& room = *part.room;
          part.theirs = tx->document_updates(room.dataset, room.name, part.after);
          for (const Pending* pending : part.updates) {
            part.last_seq = tx->append_document_update(
                room.dataset, room.name, {0, pending->data, pending->user_id, pending->server_ms});
            tx->append_history({0, room.dataset, "", room.name, part.last_seq, pending->user_id,
                                pending->from.empty() ? "http" : pending->from, 0, Timestamp(), "",
                                pending->server_ms, "update",
                                json_text(json::object{{"bytes", pending->data.size()}}), "applied",
                                ""});
          }
          part.position = sync_.mark_document(*tx, room.dataset, room.name, part.last_seq);
        }
        tx->commit();
      });
    } catch (...) {
      const std::exception_ptr failure = std::current_exception();
      for (RoomBatch& part : rooms) {
        // The loaded document holds what the log does not: unloaded, so that the next peer loads
        // the log; its peers reconnect and send what it lacks again.
        std::lock_guard lock(part.room->mutex);
        part.room->doc.reset();
        for (const auto& [id, peer] : part.room->peers) {
          if (auto socket = peer.socket.lock()) {
            socket->close(kCloseServerError, "the document could not be saved; reconnect");
          }
        }
        part.room->replies.clear();  // their connections are closing
        settle(*part.room, part.updates);
      }
      for (Pending& pending : batch)
        pending.durable.set_exception(failure);
      return;
    }
    for (const RoomBatch& part : rooms) {
      if (part.position != 0) sync_.announce(part.room->dataset, part.position);
    }
    for (RoomBatch& part : rooms) {
      try {
        relay(part);
      } catch (const std::exception& e) {  // the updates are in the log: peers catch up on rejoin
        spdlog::error("document '{}' of dataset '{}' not relayed: {}", part.room->name,
                      part.room->dataset, e.what());
      }
    }
    for (Pending& pending : batch)
      pending.durable.set_value();
  }

  // A document's part of a committed batch: what other nodes appended meanwhile goes into the
  // loaded document; a snapshot is kept when the last is older than the schedule's interval (before
  // any peer hears of the updates, so that one that does finds it); the updates go to the peers
  // (each peer one message: those it did not send, merged); the log is compacted once it has
  // grown.
  void relay(RoomBatch& part) {
    Room& room = *part.room;
    std::lock_guard lock(room.mutex);
    settle(room, part.updates);
    if (!room.doc) return;  // unloaded after a failure: the next peer loads the log
    try {
      if (part.updates.front()->load != room.loads) {
        catch_up(room);  // loaded again meanwhile, perhaps without these
        send_replies(room);
        return;
      }
      std::erase_if(part.theirs, [&](const DocumentUpdateRow& row) { return row.seq <= room.seq; });
      absorb(room, part.theirs);
    } catch (const std::exception& e) {
      spdlog::warn("document '{}' of dataset '{}' not read again: {}", room.name, room.dataset,
                   e.what());
    }
    room.seq = std::max(room.seq, part.last_seq);
    for (const Pending* pending : part.updates) {
      room.log_updates += 1;
      room.log_bytes += pending->data.size();
    }
    // By when the last update came (its peers may hear of it before the clock is read again).
    if (part.updates.back()->server_ms - room.last_snapshot_ms >=
        options_.snapshot_interval.count()) {
      try {
        snapshot(room, "", "");
      } catch (const std::exception& e) {
        spdlog::warn("document '{}' of dataset '{}': no scheduled snapshot: {}", room.name,
                     room.dataset, e.what());
      }
    }
    broadcast(room, part.updates);
    send_replies(room);
    if (room.log_updates >= options_.compact_after_updates && !room.compaction_queued) {
      room.compaction_queued = true;
      {
        std::lock_guard lock(compact_mutex_);
        compact_queue_.push_back(room.weak_from_this());
      }
      compact_wake_.notify_one();
    }
  }

  // Sends the sync step 2 answers that waited for updates now settled (under the room's lock).
  static void send_replies(Room& room) {
    std::erase_if(room.replies, [&](Room::Reply& reply) {
      if (reply.after > room.settled) return false;
      if (auto socket = reply.socket.lock()) socket->send(std::move(reply.frame));
      return true;
    });
  }

  // The committer is done with `updates` of the room (under its lock).
  static void settle(Room& room, const std::vector<Pending*>& updates) {
    for (const Pending* pending : updates)
      room.unsaved_bytes -= pending->data.size();
    room.settled += updates.size();
    room.settled_changed.notify_all();
  }

  // Waits (the room's lock released meanwhile) until the updates applied to the room so far are
  // settled, and loads the document again if they failed: what the caller reads of it is then
  // in the log.
  void wait_settled(Room& room, std::unique_lock<std::mutex>& lock) {
    const std::uint64_t target = room.applied;
    room.settled_changed.wait(lock, [&] { return room.settled >= target; });
    if (!room.doc) load(room);
  }

  // Sends each of the room's peers the updates it did not send itself, as one message. Under the
  // room's lock.
  static void broadcast(Room& room, const std::vector<Pending*>& updates) {
    if (updates.size() == 1) {
      if (!updates.front()->relay.empty()) {
        room.broadcast(
            frame(protocol::SyncMessage{protocol::SyncStep::update, updates.front()->relay}),
            updates.front()->from);
      }
      return;
    }
    std::map<std::vector<bool>, OutgoingFrame> merged;  // by which updates a peer gets
    for (const auto& [id, peer] : room.peers) {
      const std::shared_ptr<WebSocketPeer> socket = peer.socket.lock();
      if (!socket) continue;
      std::vector<bool> gets;
      std::vector<std::span<const std::uint8_t>> parts;
      for (const Pending* pending : updates) {
        const bool its = pending->from != id && !pending->relay.empty();
        gets.push_back(its);
        if (its) parts.emplace_back(pending->relay);
      }
      if (parts.empty()) continue;
      auto [found, added] = merged.try_emplace(gets);
      if (added) {
        found->second = frame(protocol::SyncMessage{
            protocol::SyncStep::update,
            parts.size() == 1 ? crdt::Bytes(parts.front().begin(), parts.front().end())
                              : crdt::merge_updates_v1(parts)});
      }
      socket->send(found->second);
    }
  }

  // Keeps the document's state now as a snapshot; its id.
  std::uint64_t snapshot(Room& room, const std::string& user_id, const std::string& label) {
    const auto now = static_cast<std::int64_t>(clock_->now_ms());
    const crdt::Bytes state = room.doc->encode_state_as_update_v1();
    std::uint64_t id = 0;
    retry_conflicts([&] {
      auto tx = storage_.begin(true);
      id = tx->add_document_snapshot(
          room.dataset, room.name, {0, room.seq, now, user_id, label, std::string(text_of(state))});
      tx->commit();
    });
    room.last_snapshot_ms = now;
    return id;
  }

  // Applies what other nodes appended to the log (`rows`, after room.seq) and relays it to the
  // room's peers. Under the room's lock.
  void absorb(Room& room, const std::vector<DocumentUpdateRow>& rows) {
    for (const DocumentUpdateRow& row : rows) {
      crdt::Bytes integrated;
      const std::uint64_t handler =
          room.doc->on_update([&](std::span<const std::uint8_t> bytes, const void*) {
            integrated.insert(integrated.end(), bytes.begin(), bytes.end());
          });
      try {
        room.doc->apply_update_v1(bytes_of(row.data));
      } catch (const crdt::DecodeError& e) {
        room.doc->off(handler);
        throw Error(ErrorCode::corrupt,
                    fmt::format("update {} of document '{}' of dataset '{}' does not decode: {}",
                                row.seq, room.name, room.dataset, e.what()));
      }
      room.doc->off(handler);
      if (!integrated.empty()) {
        room.broadcast(frame(protocol::SyncMessage{protocol::SyncStep::update, integrated}), "");
      }
      room.seq = row.seq;
      room.log_updates += 1;
      room.log_bytes += row.data.size();
    }
  }

  // Reads the log past what the loaded room holds (another node appended to it).
  void catch_up(Room& room) {
    if (!room.doc) return;
    std::vector<DocumentUpdateRow> rows;
    {
      auto tx = storage_.begin(false);
      rows = tx->document_updates(room.dataset, room.name, room.seq);
    }
    absorb(room, rows);
  }

  // The loaded room of a document, if any.
  std::shared_ptr<Room> loaded(const std::string& dataset, const std::string& name) {
    std::lock_guard lock(mutex_);
    const auto found = rooms_.find(dataset + '/' + name);
    return found == rooms_.end() ? nullptr : found->second.lock();
  }

  // The compactor's thread: documents whose log grew past compact_after_updates are compacted
  // here, so that no peer waits for it.
  void run_compactor() {
    std::unique_lock lock(compact_mutex_);
    for (;;) {
      compact_wake_.wait(lock, [&] { return compactor_stopping_ || !compact_queue_.empty(); });
      if (compactor_stopping_) return;
      const std::shared_ptr<Room> room = compact_queue_.front().lock();
      compact_queue_.pop_front();
      if (!room) continue;  // unloaded meanwhile: its log is compacted when next it grows
      lock.unlock();
      {
        std::lock_guard room_lock(room->mutex);
        room->compaction_queued = false;
        try {
          if (room->doc) compact(*room);
        } catch (const std::exception& e) {
          spdlog::warn("document '{}' of dataset '{}' not compacted: {}", room->name, room->dataset,
                       e.what());
        }
      }
      lock.lock();
    }
  }

  // Replaces the log with the document's state, as one update (not while some of it waits for
  // missing dependencies: the state would leave those out). Under the room's lock.
  void compact(Room& room) {
    if (room.doc->has_pending() || room.log_updates <= 1) return;
    const crdt::Bytes state = room.doc->encode_state_as_update_v1();
    retry_conflicts([&] {
      auto tx = storage_.begin(true);
      tx->compact_document(room.dataset, room.name, room.seq, text_of(state));
      tx->commit();
    });
    room.log_updates = 1;
    room.log_bytes = state.size();
  }

  // --- messages ---

  void join(CollabConnection& connection) {
    Room& room = *connection.room;
    std::lock_guard lock(room.mutex);
    if (!room.doc) load(room);
    room.peers[connection.id].socket = connection.peer();
    publish_presence(connection, true);
    // As y-websocket's server: our state vector first (the peer answers with what we lack), and
    // who is here.
    connection.send(protocol::SyncMessage{
        protocol::SyncStep::step1, crdt::Doc::encode_state_vector(room.doc->state_vector())});
    if (!room.awareness.empty()) connection.send(awareness_of(room));
  }

  void handle(CollabConnection& connection, protocol::SyncMessage& message) {
    Room& room = *connection.room;
    std::lock_guard lock(room.mutex);
    if (!room.doc) {  // unloaded after a failure: the connection is closing
      connection.close(kCloseServerError, "the document could not be saved; reconnect");
      return;
    }
    if (message.step == protocol::SyncStep::step1) {
      crdt::StateVector since;
      try {
        since = crdt::Doc::decode_state_vector(message.payload);
      } catch (const crdt::DecodeError& e) {
        throw Refusal(Code::invalid_request, std::string("a bad state vector: ") + e.what());
      }
      OutgoingFrame reply = frame(protocol::SyncMessage{
          protocol::SyncStep::step2, room.doc->encode_state_as_update_v1(since)});
      if (room.settled >= room.applied) {
        if (auto socket = connection.peer().lock()) socket->send(std::move(reply));
      } else {
        room.replies.push_back({room.applied, connection.peer(), std::move(reply)});
      }
      return;
    }
    if (connection.read_only) {
      bool changes = false;
      try {
        changes = room.doc->would_change_v1(message.payload);
      } catch (const crdt::DecodeError& e) {
        throw Refusal(Code::invalid_request,
                      std::string("the update does not decode: ") + e.what());
      }
      if (changes) {
        connection.send(protocol::PermissionDeniedMessage{
            "you are a viewer of this document's dataset: your changes are not kept"});
      }
      return;
    }
    apply(room, message.payload, connection.caller.user_id, connection.id);
  }

  void handle(CollabConnection& connection, protocol::AwarenessMessage& message) {
    Room& room = *connection.room;
    const crdt::Bytes update = accept_awareness(connection, message);
    // Other nodes' peers hear of it too; a database write, not under the document's lock.
    if (!update.empty()) storage_.relay_awareness(room.dataset, room.name, text_of(update));
  }

  // Keeps the entries of an awareness message the connection may speak for and relays them to
  // the document's other peers here; what it kept, encoded (empty: nothing).
  crdt::Bytes accept_awareness(CollabConnection& connection,
                               const protocol::AwarenessMessage& message) {
    Room& room = *connection.room;
    std::lock_guard lock(room.mutex);
    Room::Peer& peer = room.peers[connection.id];
    std::vector<protocol::AwarenessEntry> accepted;
    for (protocol::AwarenessEntry& entry : protocol::decode_awareness_update(message.update)) {
      auto known = room.awareness.find(entry.client);
      // A client another connection speaks for is theirs: not overwritten from here.
      if (known != room.awareness.end() && known->second.connection != connection.id) continue;
      if (entry.left()) {
        if (known != room.awareness.end()) room.awareness.erase(known);
        peer.clients.erase(entry.client);
      } else {
        if (known == room.awareness.end() &&
            peer.clients.size() >= options_.max_awareness_clients_per_connection) {
          continue;
        }
        room.awareness[entry.client] = {entry.clock, entry.state, connection.id};
        peer.clients.insert(entry.client);
        note_user(connection, entry.state);
      }
      accepted.push_back(std::move(entry));
    }
    if (accepted.empty()) return {};
    crdt::Bytes update = protocol::encode_awareness_update(accepted);
    room.broadcast(frame(protocol::AwarenessMessage{update}), connection.id);
    return update;
  }

  void handle(CollabConnection& connection, protocol::QueryAwarenessMessage&) {
    Room& room = *connection.room;
    std::lock_guard lock(room.mutex);
    connection.send(awareness_of(room));
  }

  void handle(CollabConnection&, protocol::PermissionDeniedMessage&) {
    // Only the server denies: a client's is ignored, as y-websocket's server does.
  }

  void publish_presence(const CollabConnection& connection, bool present) {
    if (!presence_listener_) return;
    json::object state{{"document", connection.room->name}};
    if (!connection.user.is_null()) state["user"] = connection.user;
    presence_listener_(connection.room->dataset,
                       {connection.id, connection.caller.user_id, std::move(state)}, present);
  }

  // An awareness state of the connection's: presence shows its "user" (name, colour… as the
  // editor's binding sets them) once it has one or it changes.
  void note_user(CollabConnection& connection, const std::string& state) {
    boost::system::error_code ec;
    const json::value parsed = json::parse(state, ec);
    if (ec || !parsed.is_object()) return;
    const json::value* user = parsed.as_object().if_contains("user");
    if (user == nullptr || *user == connection.user) return;
    connection.user = *user;
    publish_presence(connection, true);
  }

  static protocol::AwarenessMessage awareness_of(const Room& room) {
    std::vector<protocol::AwarenessEntry> entries;
    for (const auto& [client, state] : room.awareness)
      entries.push_back({client, state.clock, state.state});
    return {protocol::encode_awareness_update(entries)};
  }

  // POST ?restore=<id>: edits that bring the document back to a snapshot's content, applied and
  // relayed like any update (so every peer converges to it; the history keeps what came before).
  // Under the room's lock.
  Applied restore(Room& room, std::uint64_t id, const std::string& user_id) {
    std::optional<DocumentSnapshotRow> row;
    {
      auto tx = storage_.begin(false);
      row = tx->document_snapshot(room.dataset, room.name, id);
    }
    if (!row) {
      throw Refusal(Code::not_found,
                    fmt::format("document '{}' has no snapshot {}", room.name, id));
    }
    crdt::Doc past(random_client_id());
    past.apply_update_v1(bytes_of(row->data));
    crdt::Doc now(random_client_id());
    now.apply_update_v1(room.doc->encode_state_as_update_v1());
    // Updates do not say what kind each root is: both are inferred (the snapshot's first), and
    // a document that already shows what the snapshot holds is left as it is.
    crdt::ShowOptions exact;
    exact.delta = true;  // formats count
    if (crdt::to_json(crdt::show_document(past, exact)) ==
        crdt::to_json(crdt::show_document(now, exact))) {
      return {};
    }
    std::map<std::string, crdt::TypeKind> kinds;
    for (const auto& [name, type] : now.roots())
      kinds[name] = type->kind;
    for (const auto& [name, type] : past.roots()) {
      if (type->kind != crdt::TypeKind::unknown) kinds[name] = type->kind;
    }
    crdt::Bytes update;
    now.on_update([&](std::span<const std::uint8_t> bytes, const void*) {
      update.insert(update.end(), bytes.begin(), bytes.end());
    });
    try {
      now.transact([&](crdt::Transaction&) {
        for (const auto& [name, kind] : kinds) {
          if (kind == crdt::TypeKind::unknown) continue;
          now.assign(now.get(name, kind), past.get(name, kind));
        }
      });
    } catch (const std::invalid_argument& e) {
      throw Refusal(Code::invalid_request,
                    std::string("the document cannot go back to that snapshot: ") + e.what());
    }
    if (update.empty()) return {};
    return apply(room, update, user_id, "");
  }

  // --- reading over HTTP ---

  static std::uint64_t snapshot_id(const std::string& text) {
    std::uint64_t id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id == 0) {
      throw Refusal(Code::invalid_request, "?at= takes a snapshot's id (?history lists them)");
    }
    return id;
  }

  // ?history: the snapshots kept and the updates the audit log holds, oldest first.
  HttpResponse history(const DocumentPath& named, const boost::urls::url_view& url) {
    std::size_t limit = 1000;
    if (const auto found = url.params().find("limit"); found != url.params().end()) {
      const std::string text = (*found).value;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
      if (ec != std::errc() || end != text.data() + text.size() || limit == 0) {
        throw Refusal(Code::invalid_request, "?limit= takes a positive number");
      }
    }
    auto tx = storage_.begin(false);
    json::array snapshots;
    for (const DocumentSnapshotRow& row : tx->document_snapshots(named.dataset, named.name)) {
      json::object snapshot{{"id", row.id}, {"seq", row.seq}, {"serverTime", row.server_ms}};
      if (!row.user_id.empty()) snapshot["userId"] = row.user_id;
      if (!row.label.empty()) snapshot["label"] = row.label;
      snapshots.push_back(std::move(snapshot));
    }
    json::array updates;
    for (const HistoryRow& row : tx->history(named.dataset, "", named.name, limit)) {
      updates.push_back(json::object{{"seq", row.seq},
                                     {"userId", row.user_id},
                                     {"clientId", row.client_id},
                                     {"serverTime", row.server_ms},
                                     {"bytes", json::parse(row.payload).at("bytes")}});
    }
    return {200,
            "application/json",
            json_text(json::object{{"name", named.name},
                                   {"snapshots", std::move(snapshots)},
                                   {"updates", std::move(updates)}}),
            {}};
  }

  // ?at=<id>: the document as a snapshot holds it, in the forms GET gives the document now.
  HttpResponse read_snapshot(const DocumentPath& named, std::uint64_t id,
                             const boost::urls::url_view& url) {
    std::optional<DocumentSnapshotRow> row;
    {
      auto tx = storage_.begin(false);
      row = tx->document_snapshot(named.dataset, named.name, id);
    }
    if (!row) {
      throw Refusal(Code::not_found,
                    fmt::format("document '{}' has no snapshot {}", named.name, id));
    }
    crdt::Doc doc(random_client_id());
    doc.apply_update_v1(bytes_of(row->data));
    HttpResponse response = render(named.name, doc, url);
    if (response.content_type == "application/json") {
      json::object body = json::parse(response.body).as_object();
      body["snapshot"] =
          json::object{{"id", row->id}, {"seq", row->seq}, {"serverTime", row->server_ms}};
      response.body = json_text(body);
    }
    return response;
  }

  HttpResponse read(Room& room, const boost::urls::url_view& url) {
    std::unique_lock lock(room.mutex);
    if (!room.doc) load(room);
    wait_settled(room, lock);
    return render(room.name, *room.doc, url);
  }

  // A document as GET gives it: JSON with its state vector, its state and its content rendered,
  // or (?format=update) its state's bytes.
  HttpResponse render(const std::string& name, const crdt::Doc& doc,
                      const boost::urls::url_view& url) {
    const crdt::StateVector known = since(url);
    const crdt::Bytes state = doc.encode_state_as_update_v1(known);
    const auto format = url.params().find("format");
    if (format != url.params().end() && (*format).value == "update") {
      return {200, "application/octet-stream", std::string(text_of(state)), {}};
    }
    // The JSON rendering, on a copy: inferring the roots' kinds fixes them in the document.
    crdt::Doc copy(random_client_id());
    copy.apply_update_v1(known.empty() ? state : doc.encode_state_as_update_v1());
    crdt::ShowOptions options;
    for (const auto& param : url.params()) {
      if (param.key != "type") continue;
      const std::string value = param.value;
      const std::size_t colon = value.rfind(':');
      const std::optional<crdt::TypeKind> kind =
          colon == std::string::npos ? std::nullopt
                                     : crdt::root_kind_named(value.substr(colon + 1));
      if (!kind) {
        throw Refusal(Code::invalid_request,
                      "?type= takes NAME:text, NAME:map, NAME:array or NAME:xml");
      }
      options.kinds[value.substr(0, colon)] = *kind;
    }
    json::value rendered;
    try {
      rendered = json::parse(crdt::to_json(crdt::show_document(copy, options)));
    } catch (const std::invalid_argument& e) {
      throw Refusal(Code::invalid_request, e.what());
    }
    return {200,
            "application/json",
            json_text(json::object{{"name", name},
                                   {"stateVector", state_vector_text(doc)},
                                   {"update", base64_encode(text_of(state))},
                                   {"json", std::move(rendered)}}),
            {}};
  }

  // ?stateVector=<base64 or base64url of a Yjs state vector>: what a copy at that state lacks
  // (Yjs's encodeStateAsUpdate(doc, stateVector)); empty (the whole state) without it.
  static crdt::StateVector since(const boost::urls::url_view& url) {
    const auto param = url.params().find("stateVector");
    if (param == url.params().end()) return {};
    const std::string text = (*param).value;
    std::optional<std::string> bytes = base64_decode(text);
    if (!bytes) {
      bytes.emplace();
      if (!base64url_decode(text, *bytes)) bytes.reset();
    }
    try {
      if (bytes) return crdt::Doc::decode_state_vector(bytes_of(*bytes));
    } catch (const crdt::DecodeError&) {
    }
    throw Refusal(Code::invalid_request, "?stateVector= takes a Yjs state vector in base64");
  }

  static std::string state_vector_text(const crdt::Doc& doc) {
    return base64_encode(text_of(crdt::Doc::encode_state_vector(doc.state_vector())));
  }

  std::vector<std::shared_ptr<CollabConnection>> connections() {
    std::vector<std::shared_ptr<CollabConnection>> all;
    std::lock_guard lock(mutex_);
    for (const auto& [id, weak] : connections_) {
      if (auto connection = weak.lock()) all.push_back(std::move(connection));
    }
    return all;
  }

  Accounts& accounts_;
  Storage& storage_;
  SyncService& sync_;
  std::shared_ptr<Clock> clock_;
  RateLimiter& limiter_;
  const CollabOptions options_;

  CollabService::PresenceListener presence_listener_;  // set before serving
  std::mutex mutex_;                                   // the two maps
  std::map<std::string, std::weak_ptr<Room>> rooms_;   // by dataset/name; loaded while held
  std::size_t live_rooms_ = 0;
  std::map<std::string, std::weak_ptr<CollabConnection>> connections_;

  static constexpr std::size_t kMaxCommitBatch = 1024;
  std::mutex commit_mutex_;  // the committer's queue
  std::condition_variable commit_wake_;
  std::deque<Pending> commit_queue_;
  bool committer_stopping_ = false;

  std::mutex compact_mutex_;  // the compactor's queue
  std::condition_variable compact_wake_;
  std::deque<std::weak_ptr<Room>> compact_queue_;
  bool compactor_stopping_ = false;
  std::thread compactor_{[this] { run_compactor(); }};  // last: start once the rest exists
  std::thread committer_{[this] { run_committer(); }};
};

void CollabConnection::on_message(std::string message) {
  service_.on_message(*this, message);
}

void CollabConnection::on_close() {
  service_.leave(*this);
}

CollabService::CollabService(Accounts& accounts, Storage& storage, SyncService& sync,
                             std::shared_ptr<Clock> clock, RateLimiter& limiter,
                             CollabOptions options)
    : impl_(std::make_unique<Impl>(accounts, storage, sync, std::move(clock), limiter, options)) {}

CollabService::~CollabService() = default;

WebSocketUpgrade CollabService::upgrade(const HttpRequest& request,
                                        std::shared_ptr<WebSocketPeer> peer) {
  return impl_->upgrade(request, std::move(peer));
}

HttpResponse CollabService::handle(const HttpRequest& request) {
  return impl_->handle_http(request);
}

void CollabService::revoke(const std::string& token_hash) {
  impl_->revoke(token_hash);
}

void CollabService::member_removed(const std::string& dataset_id, const std::string& user_id) {
  impl_->member_removed(dataset_id, user_id);
}

void CollabService::document_moved(const std::string& dataset_id, const std::string& name,
                                   std::uint64_t seq) {
  impl_->document_moved(dataset_id, name, seq);
}

void CollabService::awareness_relayed(const std::string& dataset_id, const std::string& name,
                                      const std::string& update) {
  impl_->awareness_relayed(dataset_id, name, update);
}

void CollabService::resync() {
  impl_->resync();
}

bool CollabService::adds_to(const std::string& dataset_id, const std::string& name,
                            std::string_view update) {
  return impl_->adds_to(dataset_id, name, update);
}

void CollabService::on_presence(PresenceListener listener) {
  impl_->on_presence(std::move(listener));
}

}  // namespace cairn::server
