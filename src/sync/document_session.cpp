// DocumentSession (cairn/sync.hpp): a device as a peer of a document's y-websocket session on
// cairnd. One thread per session: it connects, exchanges state vectors (sync steps 1 and 2),
// then merges what the server relays into the database (apply_document: no outbox record) and
// sends this device's committed edits as they come (a local commit interrupts its wait), with
// the device's awareness. Its edits also wait in the outbox, which the sync client delivers
// exactly once; the server appends to the document's log only what adds something.
#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cairn/error.hpp>
#include <cairn/sync.hpp>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "crdt/doc.hpp"
#include "foundation/json_text.hpp"
#include "foundation/limits.hpp"
#include "net/websocket_client.hpp"
#include "protocol/collab.hpp"
#include "store/listeners.hpp"
#include "store/store_engine.hpp"
#include "sync/sync_engine.hpp"

namespace cairn {
namespace json = boost::json;
using crdt::bytes_of;
using crdt::text_of;

namespace {

// A refusal that reconnecting will not change (y-websocket's rule: 4400-4499).
struct Ended {
  std::string reason;
};

}  // namespace

class DocumentSession::Impl {
 public:
  Impl(Database& db, std::string store, std::string key, json::object awareness,
       SyncOptions options)
      : db_(engine_of(db)),
        store_(std::move(store)),
        key_(std::move(key)),
        options_(std::move(options)),
        client_(db_.document_client()),
        awareness_(std::move(awareness)) {
    if (db.options().read_only) {
      throw Error(ErrorCode::read_only, "a read-only database cannot join a document");
    }
    (void)db_.document(store_, key_);  // Error(invalid_argument) unless a document store
    local_ = db.subscribe(store_, key_, [this](const ChangeSet& changes) {
      if (changes.origin != Origin::local) return;
      std::lock_guard lock(mutex_);
      edited_ = true;
      if (socket_ != nullptr) socket_->interrupt();
    });
    thread_ = std::thread([this] { run(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      if (socket_ != nullptr) socket_->interrupt();
    }
    wake_.notify_all();
    thread_.join();
  }

  bool connected() const {
    std::lock_guard lock(mutex_);
    return connected_;
  }
  std::string error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }
  std::vector<DocumentPeer> peers() const {
    std::lock_guard lock(mutex_);
    std::vector<DocumentPeer> peers;
    for (const auto& [client, state] : peers_)
      peers.push_back({client, state});
    return peers;
  }
  void set_awareness(json::object state) {
    std::lock_guard lock(mutex_);
    awareness_ = std::move(state);
    awareness_changed_ = true;
    if (socket_ != nullptr) socket_->interrupt();
  }
  Subscription subscribe(std::function<void()> listener) {
    return listeners_.add(std::move(listener));
  }

 private:
  void run() {
    int failures = 0;
    std::mt19937_64 random(std::random_device{}());
    for (;;) {
      try {
        session();
        failures = 0;
      } catch (const Ended& ended) {
        {
          std::lock_guard lock(mutex_);
          error_ = ended.reason;
        }
        disconnected();
        return;
      } catch (const std::exception&) {
        // Unreachable, dropped, not synced yet: tried again after a backoff.
      }
      disconnected();
      const auto bound = std::min<std::int64_t>(
          options_.backoff_cap.count(), options_.backoff_base.count() << std::min(failures++, 20));
      const std::chrono::milliseconds delay(
          std::uniform_int_distribution<std::int64_t>(1, std::max<std::int64_t>(bound, 1))(random));
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, delay, [&] { return stopping_; })) return;
    }
  }

  // One connection, until it fails or the session stops.
  void session() {
    const LocalFile::SyncState kept = db_.sync_state();
    const std::string server = options_.server.empty() ? kept.server : options_.server;
    const std::string token = options_.token.empty() ? kept.token : options_.token;
    const std::string dataset = options_.dataset.empty() ? kept.dataset : options_.dataset;
    if (server.empty() || token.empty() || dataset.empty()) {
      throw std::runtime_error("no server, token or dataset yet (a first sync keeps them)");
    }
    ServerAddress address;
    try {
      address = server_address(server, options_.ca_file);
    } catch (const SyncFailure& failure) {
      throw Ended{failure.message};
    }
    std::unique_ptr<net::WebSocketClient> socket;
    try {
      socket = std::make_unique<net::WebSocketClient>(
          address.host, address.port,
          fmt::format("{}/api/collab/{}/{}", address.base_path, dataset,
                      document_name(store_, key_)),
          std::map<std::string, std::string>{{"Authorization", "Bearer " + token}},
          options_.request_timeout, address.tls);
    } catch (const net::WebSocketRefused& refused) {
      if (refused.status() >= 400 && refused.status() < 500) throw Ended{refused.what()};
      throw;
    }
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      socket_ = socket.get();
      awareness_changed_ = true;
    }
    try {
      converse(*socket);
    } catch (const net::WebSocketClosed& closed) {
      forget(socket);
      if (closed.code() >= 4400 && closed.code() < 4500) {
        throw Ended{
            fmt::format("the server closed the document ({}): {}", closed.code(), closed.what())};
      }
      throw;
    } catch (...) {
      forget(socket);
      throw;
    }
    forget(socket);
  }

  void forget(std::unique_ptr<net::WebSocketClient>& socket) {
    {
      std::lock_guard lock(mutex_);
      socket_ = nullptr;
    }
    socket.reset();
  }

  void send(net::WebSocketClient& socket, const protocol::CollabMessage& message) {
    socket.send_binary(std::string(text_of(protocol::encode_collab_message(message))));
  }

  // What of this device's document the server lacks beyond `theirs` (its state vector), as one
  // update; theirs then covers it all.
  crdt::Bytes missing(std::optional<crdt::StateVector>& theirs) {
    const std::string state = db_.document(store_, key_);
    if (state.empty()) return {0, 0};  // Yjs's empty update
    crdt::Bytes update = crdt::diff_update_v1(bytes_of(state), *theirs);
    for (const auto& [client, clock] : merge::document_state_vector(state)) {
      std::uint64_t& known = (*theirs)[client];
      known = std::max(known, clock);
    }
    return update;
  }

  // The y-websocket exchange: each side sends its state vector (step 1) and answers the other's
  // with what it lacks (step 2); then updates both ways, and awareness.
  void converse(net::WebSocketClient& socket) {
    send(socket, protocol::SyncMessage{protocol::SyncStep::step1,
                                       crdt::Doc::encode_state_vector(merge::document_state_vector(
                                           db_.document(store_, key_)))});
    std::optional<crdt::StateVector> theirs;  // once the server sent its step 1
    bool received = false;                    // the server's step 2 came
    for (;;) {
      bool edited = false;
      std::optional<json::object> awareness;
      {
        std::lock_guard lock(mutex_);
        if (stopping_) break;
        if (theirs) edited = std::exchange(edited_, false);
        if (std::exchange(awareness_changed_, false)) awareness = awareness_;
      }
      if (edited) send(socket, protocol::SyncMessage{protocol::SyncStep::update, missing(theirs)});
      if (awareness) {
        send(socket, protocol::AwarenessMessage{protocol::encode_awareness_update(
                         {{client_, ++awareness_clock_, json_text(*awareness)}})});
      }
      const std::optional<std::string> message = socket.receive(std::chrono::seconds(5));
      if (!message) continue;  // interrupted (an edit, new awareness, stopping) or quiet
      protocol::CollabMessage decoded = protocol::decode_collab_message(bytes_of(*message));
      if (auto* sync = std::get_if<protocol::SyncMessage>(&decoded)) {
        if (sync->step == protocol::SyncStep::step1) {
          theirs = crdt::Doc::decode_state_vector(sync->payload);
          send(socket, protocol::SyncMessage{protocol::SyncStep::step2, missing(theirs)});
        } else {
          db_.apply_document(store_, key_, text_of(sync->payload));
          if (sync->step == protocol::SyncStep::step2) received = true;
        }
        if (theirs && received) connected_now();  // each holds what the other held
      } else if (auto* awareness = std::get_if<protocol::AwarenessMessage>(&decoded)) {
        heard(protocol::decode_awareness_update(awareness->update));
      }
      // Permission denied (a viewer): its edits stay in its outbox, which the server refuses
      // too; query-awareness is the server's to answer.
    }
    // Leaving: the others see this device go.
    send(socket, protocol::AwarenessMessage{
                     protocol::encode_awareness_update({{client_, ++awareness_clock_, "null"}})});
    socket.close();
  }

  void heard(const std::vector<protocol::AwarenessEntry>& entries) {
    {
      std::lock_guard lock(mutex_);
      for (const protocol::AwarenessEntry& entry : entries) {
        if (entry.client == client_) continue;
        if (entry.left()) {
          peers_.erase(entry.client);
        } else {
          std::error_code error;
          json::value state = json::parse(entry.state, error);
          if (!error) peers_[entry.client] = std::move(state);
        }
      }
    }
    tell();
  }

  void connected_now() {
    {
      std::lock_guard lock(mutex_);
      if (connected_) return;
      connected_ = true;
    }
    tell();
  }

  void disconnected() {
    {
      std::lock_guard lock(mutex_);
      connected_ = false;
      peers_.clear();
    }
    tell();
  }

  void tell() { listeners_.notify(); }

  StoreEngine& db_;
  const std::string store_;
  const std::string key_;
  const SyncOptions options_;
  const std::uint64_t client_;  // this replica's Yjs client id: its edits' and its awareness'
  std::uint64_t awareness_clock_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool connected_ = false;
  bool edited_ = true;  // what was edited before the session began goes out once it connects
  json::object awareness_;
  bool awareness_changed_ = true;
  std::string error_;
  std::map<std::uint64_t, json::value> peers_;
  net::WebSocketClient* socket_ = nullptr;  // the connection, for interrupting its wait
  Listeners<> listeners_;
  Subscription local_;
  std::thread thread_;
};

DocumentSession::DocumentSession(Database& db, std::string store, std::string key,
                                 json::object awareness, SyncOptions options)
    : impl_(std::make_unique<Impl>(db, std::move(store), std::move(key), std::move(awareness),
                                   std::move(options))) {}

DocumentSession::~DocumentSession() = default;

bool DocumentSession::connected() const {
  return impl_->connected();
}

std::string DocumentSession::error() const {
  return impl_->error();
}

std::vector<DocumentPeer> DocumentSession::peers() const {
  return impl_->peers();
}

void DocumentSession::set_awareness(json::object state) {
  impl_->set_awareness(std::move(state));
}

Subscription DocumentSession::subscribe(std::function<void()> listener) {
  return impl_->subscribe(std::move(listener));
}

}  // namespace cairn
