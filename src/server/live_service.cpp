#include "server/live_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <cairn/error.hpp>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <variant>

#include "foundation/overloaded.hpp"
#include "protocol/live.hpp"
#include "server/auth/tokens.hpp"
#include "server/http_status.hpp"

namespace cairn::server {
namespace json = boost::json;
using protocol::Code;
using protocol::Refusal;
using Clock = std::chrono::steady_clock;

namespace {

template <class Message>
OutgoingFrame frame(const Message& message,
                    std::optional<Clock::time_point> committed = std::nullopt) {
  return {std::make_shared<const std::string>(protocol::encode_server_message(message)), committed};
}

DatasetRow dataset_row(const std::string& id) {
  DatasetRow row;
  row.id = id;
  return row;
}

// The token of an upgrade request: its Authorization header, or for browsers (which cannot set
// headers on a WebSocket) its `token` query parameter, as an Authorization header value.
}  // namespace

// One live connection: the application's side of a WebSocket.
class LiveConnection final : public WebSocketHandler,
                             public std::enable_shared_from_this<LiveConnection> {
 public:
  LiveConnection(LiveService::Impl& service, std::string id, Caller caller,
                 std::weak_ptr<WebSocketPeer> peer)
      : id(std::move(id)), caller(std::move(caller)), service_(service), peer_(std::move(peer)) {}

  void on_message(std::string text) override;
  void on_close() override;

  bool send(OutgoingFrame frame) const {
    const std::shared_ptr<WebSocketPeer> peer = peer_.lock();
    return peer && peer->send(std::move(frame));
  }
  template <class Message>
  bool send(const Message& message) const {
    return send(frame(message));
  }
  void close(std::uint16_t code, std::string reason) const {
    if (const std::shared_ptr<WebSocketPeer> peer = peer_.lock()) peer->close(code, reason);
  }
  std::shared_ptr<WebSocketPeer> peer() const { return peer_.lock(); }

  const std::string id;  // as peers see it in presence
  const Caller caller;

  // Touched only while handling this connection's messages (one at a time): the datasets its
  // messages subscribed to, and how many subscribes it sent.
  std::set<std::string> subscribed;
  std::uint64_t subscribes = 0;

  // Touched only on the lane: the datasets whose hubs hold this connection.
  std::set<std::string> hubs;

 private:
  LiveService::Impl& service_;
  const std::weak_ptr<WebSocketPeer> peer_;
};

class LiveService::Impl {
 public:
  Impl(Accounts& accounts, SyncService& sync, FeedSubscribers& feed, RateLimiter& limiter,
       Metrics& metrics, LiveOptions options)
      : accounts_(accounts),
        sync_(sync),
        limiter_(limiter),
        metrics_(metrics),
        options_(std::move(options)) {
    lane_thread_ = std::thread([this] { run_lane(); });
    feed_subscription_ = feed.subscribe(
        [this](std::string_view dataset, std::uint64_t position) { committed(dataset, position); });
  }

  ~Impl() {
    feed_subscription_ = {};
    {
      std::lock_guard lock(lane_mutex_);
      stopping_ = true;
    }
    lane_wake_.notify_one();
    lane_thread_.join();
  }

  WebSocketUpgrade upgrade(const HttpRequest& request, std::shared_ptr<WebSocketPeer> peer) {
    WebSocketUpgrade decision;
    try {
      const Caller caller = accounts_.authenticate(limited_authorization(request, limiter_));
      auto connection = std::make_shared<LiveConnection>(*this, "c" + random_id(9), caller, peer);
      admit(connection);
      decision.handler = std::move(connection);
    } catch (const Refusal& refusal) {
      decision.refusal = refusal_response(refusal);
    } catch (const Error& error) {
      decision.refusal = refusal_response(as_refusal(error));
    }
    return decision;
  }

  void revoke(const std::string& token_hash) {
    for (const auto& connection : connections()) {
      if (connection->caller.token_hash == token_hash) {
        connection->close(protocol::kCloseUnauthorized, "the token was revoked; sign in again");
      }
    }
  }

  void member_removed(const std::string& dataset_id, const std::string& user_id) {
    post([this, dataset_id, user_id] {
      recheck_members(dataset_id, [&](const Caller& caller) { return caller.user_id == user_id; });
    });
  }

  void document_presence(const std::string& dataset, const protocol::PresencePeer& peer,
                         bool present) {
    post([this, dataset, peer, present] {
      auto& peers = document_peers_[dataset];
      protocol::PresenceUpdate update{dataset, {}, {}};
      if (present) {
        peers[peer.connection] = peer;
        update.peers.push_back(peer);
      } else {
        if (peers.erase(peer.connection) == 0) return;
        update.left.push_back(peer.connection);
      }
      if (peers.empty()) document_peers_.erase(dataset);
      const auto hub_it = hubs_.find(dataset);
      if (hub_it != hubs_.end()) broadcast(hub_it->second, "", update);
    });
  }

  void resync() {
    post([this] {
      for (const auto& [dataset, hub] : hubs_) {
        // Pushes up to wherever the feed ends now (push stops at its end).
        committed(dataset, std::numeric_limits<std::uint64_t>::max());
      }
      check_tokens();
    });
  }

  // A message from `connection`, on a handler thread.
  void handle(LiveConnection& connection, std::string_view text) {
    std::string dataset;  // the dataset the message named, for its error
    std::optional<std::uint64_t> patch_id;
    try {
      protocol::ClientMessage message =
          protocol::decode_client_message(text, options_.max_json_depth);
      std::visit(Overloaded{
                     [&](protocol::SubscribeMessage& m) {
                       dataset = m.dataset;
                       subscribe(connection, m);
                     },
                     [&](protocol::UnsubscribeMessage& m) {
                       dataset = m.dataset;
                       unsubscribe(connection, m);
                     },
                     [&](protocol::PresenceMessage& m) {
                       dataset = m.dataset;
                       presence(connection, m);
                     },
                     [&](protocol::PatchMessage& m) {
                       patch_id = m.id;
                       dataset = protocol::request_dataset(m.body);
                       patch(connection, m);
                     },
                 },
                 message);
    } catch (const Refusal& refusal) {
      connection.send(protocol::LiveError{refusal.code(), refusal.what(), dataset, patch_id});
    } catch (const Error& error) {
      const Refusal refusal = as_refusal(error);
      if (refusal.code() == Code::internal) {
        spdlog::error("live message error={} {}", error_code_name(error.code()), error.what());
      }
      connection.send(protocol::LiveError{refusal.code(), refusal.what(), dataset, patch_id});
    }
  }

  // The connection is gone, on a handler thread.
  void closed(const std::shared_ptr<LiveConnection>& connection) {
    {
      std::lock_guard lock(registry_mutex_);
      connections_.erase(connection->id);
      if (--per_user_[connection->caller.user_id] == 0) per_user_.erase(connection->caller.user_id);
    }
    post([this, connection] { leave_all(*connection); });
  }

 private:
  // A subscriber of a dataset, on the lane.
  struct Subscriber {
    std::shared_ptr<LiveConnection> connection;
    std::uint64_t generation = 0;          // which subscribe of the connection this is
    std::uint64_t cursor = 0;              // the feed position it has been sent up to
    bool live = false;                     // caught up: the hub's pushes go to it
    std::optional<json::object> presence;  // set by its presence messages: then it is present
    bool echo = true;                      // false: its own writes are not pushed back to it
    protocol::StoreVersions versions;      // the versions of its stores it reads entries at
    // Without echo: the feed positions, ascending, of entries whose state is this connection's
    // own doing alone (see own_writes); the latest kMaxOwnWrites of them.
    std::deque<std::uint64_t> own;

    bool is_own(std::uint64_t seq) const {
      return !echo && std::binary_search(own.begin(), own.end(), seq);
    }
  };
  static constexpr std::size_t kMaxOwnWrites = 16384;
  // The subscribers of one dataset, on the lane.
  struct Hub {
    std::uint64_t position = 0;  // the feed up to here has gone to every live subscriber
    std::map<std::string, Subscriber> subscribers;  // by connection id
  };
  // A dataset's feed moved; not yet pushed.
  struct Pending {
    std::uint64_t position = 0;
    Clock::time_point committed;  // the first such commit
  };

  // --- admission (any thread) ---

  void admit(const std::shared_ptr<LiveConnection>& connection) {
    std::lock_guard lock(registry_mutex_);
    if (connections_.size() >= options_.max_connections) {
      throw Refusal(Code::unavailable,
                    fmt::format("the server holds {} live connections, its limit; retry later",
                                options_.max_connections));
    }
    std::size_t& mine = per_user_[connection->caller.user_id];
    if (mine >= options_.max_connections_per_user) {
      if (mine == 0) per_user_.erase(connection->caller.user_id);
      throw Refusal(Code::rate_limited,
                    fmt::format("this user holds {} live connections, the most allowed",
                                options_.max_connections_per_user),
                    json::object{{"retryAfter", 1}});
    }
    ++mine;
    connections_.emplace(connection->id, connection);
  }

  std::vector<std::shared_ptr<LiveConnection>> connections() {
    std::vector<std::shared_ptr<LiveConnection>> all;
    std::lock_guard lock(registry_mutex_);
    all.reserve(connections_.size());
    for (const auto& [id, weak] : connections_) {
      if (auto connection = weak.lock()) all.push_back(std::move(connection));
    }
    return all;
  }

  // --- messages (handler threads, one at a time per connection) ---

  void subscribe(LiveConnection& connection, const protocol::SubscribeMessage& message) {
    const DatasetRow dataset =
        accounts_.authorize(connection.caller, message.dataset, Role::viewer);
    const std::uint64_t cursor = message.cursor.value_or(dataset.last_seq);
    check_cursor(cursor, dataset);
    if (!connection.subscribed.contains(dataset.id) &&
        connection.subscribed.size() >= options_.max_subscriptions_per_connection) {
      throw Refusal(Code::invalid_request,
                    fmt::format("a connection subscribes to at most {} datasets",
                                options_.max_subscriptions_per_connection));
    }
    connection.subscribed.insert(dataset.id);
    const std::uint64_t generation = ++connection.subscribes;
    post([this, connection = connection.shared_from_this(), dataset, cursor, generation,
          echo = message.echo, versions = message.versions]() mutable {
      join(connection, dataset, cursor, generation, echo, std::move(versions));
    });
  }

  // The dataset a message names that this connection subscribes to.
  std::string subscribed_dataset(LiveConnection& connection, const std::string& named) {
    const std::string id =
        named.empty() ? accounts_.authorize(connection.caller, "", Role::viewer).id : named;
    if (!connection.subscribed.contains(id)) {
      throw Refusal(Code::invalid_request,
                    fmt::format("this connection does not subscribe to dataset '{}'", id));
    }
    return id;
  }

  void unsubscribe(LiveConnection& connection, const protocol::UnsubscribeMessage& message) {
    const std::string dataset = subscribed_dataset(connection, message.dataset);
    connection.subscribed.erase(dataset);
    post([this, connection = connection.shared_from_this(), dataset] {
      leave(*connection, dataset);
    });
  }

  void presence(LiveConnection& connection, protocol::PresenceMessage& message) {
    const std::string dataset = subscribed_dataset(connection, message.dataset);
    post([this, connection = connection.shared_from_this(), dataset,
          state = std::move(message.state)]() mutable {
      set_presence(*connection, dataset, std::move(state));
    });
  }

  void patch(LiveConnection& connection, protocol::PatchMessage& message) {
    const SyncService::Authorizer authorizer =
        accounts_.sync_authorizer(connection.caller, message.body);
    std::string dataset;
    // What the patch wrote reaches the lane before the push of its commit does.
    const auto on_commit = [&](const std::string& id,
                               const std::vector<SyncService::Written>& written) {
      if (written.empty() || !connection.subscribed.contains(id)) return;
      post([this, id, connection_id = connection.id, written] {
        own_writes(id, connection_id, written);
      });
    };
    protocol::PatchResponse response = sync_.patch(
        connection.caller,
        [&](StorageTransaction& tx) {
          DatasetRow row = authorizer(tx);
          dataset = row.id;
          return row;
        },
        message.body, on_commit);
    if (!connection.subscribed.contains(dataset)) {
      connection.send(protocol::AckMessage{message.id, std::move(response)});
      return;
    }
    // A subscriber receives the feed by push, each change once: not in the ack too. Its ack goes
    // out through the lane, after every page the lane read before this commit: a page sent after
    // the ack was read after the commit, so the client never takes a state older than what was
    // acknowledged for newer (its changes are no longer pending to be rebased on it).
    response.page.reset();
    post([connection = connection.shared_from_this(),
          ack = frame(protocol::AckMessage{message.id, std::move(response)})] {
      connection->send(ack);
    });
  }

  // --- the lane: hubs, backlogs, pushes, presence ---

  void post(std::function<void()> task) {
    {
      std::lock_guard lock(lane_mutex_);
      tasks_.push_back(std::move(task));
    }
    lane_wake_.notify_one();
  }

  void run_lane() {
    Clock::time_point next_check = Clock::now() + options_.token_check_interval;
    std::unique_lock lock(lane_mutex_);
    while (!stopping_) {
      lane_wake_.wait_until(lock, next_check, [&] { return stopping_ || !tasks_.empty(); });
      if (stopping_) break;
      std::deque<std::function<void()>> batch;
      batch.swap(tasks_);
      lock.unlock();
      for (auto& task : batch) {
        try {
          task();
        } catch (const std::exception& e) {
          spdlog::error("live channel error: {}", e.what());
        }
      }
      if (Clock::now() >= next_check) {
        check_tokens();
        next_check = Clock::now() + options_.token_check_interval;
      }
      lock.lock();
    }
  }

  // From the ChangeFeed, on the committing thread: noted, and pushed from the lane. Commits that
  // come in faster than the lane pushes are pushed together.
  void committed(std::string_view dataset, std::uint64_t position) {
    const Clock::time_point now = Clock::now();
    bool first = false;
    {
      std::lock_guard lock(pending_mutex_);
      auto [it, inserted] = pending_.try_emplace(std::string(dataset), Pending{position, now});
      if (!inserted) it->second.position = std::max(it->second.position, position);
      first = inserted;
    }
    if (first) post([this, dataset = std::string(dataset)] { push(dataset); });
  }

  void push(const std::string& dataset) {
    Pending pending;
    {
      std::lock_guard lock(pending_mutex_);
      auto it = pending_.find(dataset);
      pending = it->second;
      pending_.erase(it);
    }
    auto hub_it = hubs_.find(dataset);
    if (hub_it == hubs_.end()) return;  // nobody listens
    Hub& hub = hub_it->second;
    if (all_own(hub, pending.position)) {
      // Nothing to read: each live subscriber learns only that its cursor moved.
      for (auto& [id, subscriber] : hub.subscribers) {
        if (!subscriber.live || subscriber.cursor >= pending.position) continue;
        protocol::ChangesMessage moved{dataset, {}};
        moved.page.cursor = pending.position;
        subscriber.connection->send(frame(moved, pending.committed));
        subscriber.cursor = pending.position;
      }
      hub.position = pending.position;
      return;
    }
    while (hub.position < pending.position) {
      protocol::FeedPage page =
          sync_.changes(dataset_row(dataset), hub.position, sync_.settings().page_size);
      if (page.cursor <= hub.position) break;
      protocol::ChangesMessage message{dataset, std::move(page)};
      const OutgoingFrame shared = frame(message, pending.committed);
      // The page as each set of store versions reads it, translated once for all who run it.
      std::map<protocol::StoreVersions, std::optional<protocol::ChangesMessage>> served;
      for (auto& [id, subscriber] : hub.subscribers) {
        if (!subscriber.live || subscriber.cursor >= message.page.cursor) continue;
        const protocol::ChangesMessage* view = &message;
        if (!subscriber.versions.empty()) {
          auto [at, fresh] = served.try_emplace(subscriber.versions);
          if (fresh) {
            if (auto page = sync_.translated(dataset, message.page, subscriber.versions))
              at->second.emplace(protocol::ChangesMessage{dataset, std::move(*page)});
          }
          if (at->second) view = &*at->second;
        }
        if (std::optional<protocol::ChangesMessage> part = for_subscriber(subscriber, *view)) {
          subscriber.connection->send(frame(*part, pending.committed));
        } else {
          subscriber.connection->send(view == &message ? shared : frame(*view, pending.committed));
        }
        subscriber.cursor = message.page.cursor;
      }
      hub.position = message.page.cursor;
    }
  }

  // Whether the feed from the hub's position through `position` is, for every live subscriber,
  // its own writes (which it does not want back): then the push need not read them. Every
  // position there was given to a write, so a run of own positions that fills it leaves nothing
  // else.
  static bool all_own(const Hub& hub, std::uint64_t position) {
    return std::all_of(hub.subscribers.begin(), hub.subscribers.end(), [&](const auto& entry) {
      const Subscriber& subscriber = entry.second;
      if (!subscriber.live) return true;
      if (subscriber.echo) return false;
      const auto first =
          std::upper_bound(subscriber.own.begin(), subscriber.own.end(), hub.position);
      const auto last = std::upper_bound(first, subscriber.own.end(), position);
      return static_cast<std::uint64_t>(last - first) == position - hub.position;
    });
  }

  // What of `message` goes to `subscriber` when not all of it does: only the items after its
  // cursor (it caught up past the hub: its backlog read a commit whose push had not come yet),
  // and without its own writes when it asked for no echo. nullopt: all of it. A message left
  // with no items still goes, to move the subscriber's cursor.
  static std::optional<protocol::ChangesMessage> for_subscriber(
      const Subscriber& subscriber, const protocol::ChangesMessage& message) {
    const auto wanted = [&](const protocol::FeedItem& item) {
      return item.seq > subscriber.cursor && !subscriber.is_own(item.seq);
    };
    if (std::all_of(message.page.changes.begin(), message.page.changes.end(), wanted))
      return std::nullopt;
    protocol::ChangesMessage part{message.dataset, {}};
    part.page.cursor = message.page.cursor;
    part.page.held_back = message.page.held_back;
    for (const protocol::FeedItem& item : message.page.changes) {
      // The copies' stamps point into message.page.replicas, which outlives this encoding.
      if (wanted(item)) part.page.changes.push_back(item);
    }
    return part;
  }

  // What a patch of `connection_id` wrote to `dataset`, which it subscribes to. Without echo, an
  // entry's state is the connection's own doing alone when its patch created the entry, or wrote
  // over such a state of its own, with its own clock: the connection computed that state itself
  // when it wrote (the server merges by the same rules), so pushing it back would tell it
  // nothing. Any other writer's change to the entry gives it a new position, which is pushed.
  void own_writes(const std::string& dataset, const std::string& connection_id,
                  const std::vector<SyncService::Written>& written) {
    auto hub_it = hubs_.find(dataset);
    if (hub_it == hubs_.end()) return;
    auto subscriber_it = hub_it->second.subscribers.find(connection_id);
    if (subscriber_it == hub_it->second.subscribers.end()) return;
    Subscriber& subscriber = subscriber_it->second;
    if (subscriber.echo) return;
    for (const SyncService::Written& entry : written) {  // ascending
      const bool own = entry.as_sent && (entry.before == 0 || subscriber.is_own(entry.before));
      if (own && (subscriber.own.empty() || subscriber.own.back() < entry.seq))
        subscriber.own.push_back(entry.seq);
    }
    while (subscriber.own.size() > kMaxOwnWrites)
      subscriber.own.pop_front();
  }

  void join(const std::shared_ptr<LiveConnection>& connection, const DatasetRow& dataset,
            std::uint64_t cursor, std::uint64_t generation, bool echo,
            protocol::StoreVersions versions) {
    auto [hub_it, created] = hubs_.try_emplace(dataset.id);
    Hub& hub = hub_it->second;
    if (created) hub.position = dataset.last_seq;
    auto [subscriber_it, fresh] = hub.subscribers.try_emplace(connection->id);
    Subscriber& subscriber = subscriber_it->second;
    subscriber.connection = connection;
    subscriber.generation = generation;
    subscriber.cursor = cursor;
    subscriber.live = false;
    subscriber.echo = echo;
    subscriber.versions = std::move(versions);
    if (fresh) {
      connection->hubs.insert(dataset.id);
      metrics_.live_subscriptions(+1);
    }
    connection->send(protocol::SubscribedMessage{dataset.id, cursor, connection->id});
    // Those present: the subscribers that set a presence state. A subscriber that sets none is
    // not shown (so that many silent subscribers cost no presence traffic).
    protocol::PresenceUpdate present{dataset.id, {}, {}};
    for (const auto& [id, other] : hub.subscribers) {
      if (id != connection->id && other.presence) present.peers.push_back(peer(other));
    }
    if (const auto documents = document_peers_.find(dataset.id);
        documents != document_peers_.end()) {
      for (const auto& [id, other] : documents->second)
        present.peers.push_back(other);
    }
    connection->send(present);
    catch_up(dataset.id, connection->id, generation, false);
  }

  // Sends a subscriber the next page of its backlog, one page each time its send queue has
  // drained (`room`), so that a large backlog is paced rather than taken for a slow consumer.
  // Once it has caught up with the hub and its queue has room, the hub's pushes take over.
  void catch_up(const std::string& dataset, const std::string& connection_id,
                std::uint64_t generation, bool room) {
    auto hub_it = hubs_.find(dataset);
    if (hub_it == hubs_.end()) return;
    Hub& hub = hub_it->second;
    auto subscriber_it = hub.subscribers.find(connection_id);
    if (subscriber_it == hub.subscribers.end()) return;
    Subscriber& subscriber = subscriber_it->second;
    if (subscriber.generation != generation) return;  // subscribed again since
    if (subscriber.cursor >= hub.position && room) {
      subscriber.live = true;
      return;
    }
    if (subscriber.cursor < hub.position) {
      protocol::ChangesMessage message{
          dataset, sync_.changes(dataset_row(dataset), subscriber.cursor,
                                 sync_.settings().page_size, subscriber.versions)};
      if (!message.page.changes.empty() || !message.page.held_back.empty()) {
        std::optional<protocol::ChangesMessage> part = for_subscriber(subscriber, message);
        OutgoingFrame paced = frame(part ? *part : message);
        paced.paced = true;
        subscriber.connection->send(std::move(paced));
      }
      subscriber.cursor = std::max(subscriber.cursor, message.page.cursor);
    }
    const std::shared_ptr<WebSocketPeer> socket = subscriber.connection->peer();
    if (!socket) return;
    socket->when_drained([this, dataset, connection_id, generation] {
      post([this, dataset, connection_id, generation] {
        catch_up(dataset, connection_id, generation, true);
      });
    });
  }

  void set_presence(LiveConnection& connection, const std::string& dataset, json::object state) {
    auto hub_it = hubs_.find(dataset);
    if (hub_it == hubs_.end()) return;
    auto subscriber_it = hub_it->second.subscribers.find(connection.id);
    if (subscriber_it == hub_it->second.subscribers.end()) return;
    subscriber_it->second.presence = std::move(state);
    broadcast(hub_it->second, connection.id,
              protocol::PresenceUpdate{dataset, {peer(subscriber_it->second)}, {}});
  }

  void leave(LiveConnection& connection, const std::string& dataset) {
    auto hub_it = hubs_.find(dataset);
    if (hub_it == hubs_.end()) return;
    auto subscriber_it = hub_it->second.subscribers.find(connection.id);
    if (subscriber_it == hub_it->second.subscribers.end()) return;
    const bool was_present = subscriber_it->second.presence.has_value();
    hub_it->second.subscribers.erase(subscriber_it);
    connection.hubs.erase(dataset);
    metrics_.live_subscriptions(-1);
    if (hub_it->second.subscribers.empty()) {
      hubs_.erase(hub_it);
      return;
    }
    if (was_present) {
      broadcast(hub_it->second, connection.id,
                protocol::PresenceUpdate{dataset, {}, {connection.id}});
    }
  }

  void leave_all(LiveConnection& connection) {
    const std::set<std::string> datasets = connection.hubs;
    for (const std::string& dataset : datasets)
      leave(connection, dataset);
  }

  static protocol::PresencePeer peer(const Subscriber& subscriber) {
    return {subscriber.connection->id, subscriber.connection->caller.user_id,
            subscriber.presence.value_or(json::object())};
  }

  static void broadcast(const Hub& hub, const std::string& except,
                        const protocol::PresenceUpdate& update) {
    const OutgoingFrame shared = frame(update);
    for (const auto& [id, subscriber] : hub.subscribers) {
      if (id != except) subscriber.connection->send(shared);
    }
  }

  // Subscribers of `dataset` (those `which` picks) that may no longer see it: each still a
  // member stays; the others are dropped with the error a dataset they cannot see gets
  // (not_found, as if it did not exist). Their connections go on.
  void recheck_members(const std::string& dataset,
                       const std::function<bool(const Caller&)>& which) {
    auto hub_it = hubs_.find(dataset);
    if (hub_it == hubs_.end()) return;
    std::vector<std::pair<std::shared_ptr<LiveConnection>, Refusal>> dropped;
    std::map<std::string, std::optional<Refusal>> verdicts;  // user id -> why not
    for (const auto& [id, subscriber] : hub_it->second.subscribers) {
      const Caller& caller = subscriber.connection->caller;
      if (!which(caller)) continue;
      auto [verdict, unchecked] = verdicts.try_emplace(caller.user_id);
      if (unchecked) {
        try {
          accounts_.authorize(caller, dataset, Role::viewer);
        } catch (const Refusal& refusal) {
          verdict->second = refusal;
        }
      }
      if (verdict->second) dropped.emplace_back(subscriber.connection, *verdict->second);
    }
    for (auto& [connection, refusal] : dropped) {
      leave(*connection, dataset);
      connection->send(protocol::LiveError{refusal.code(), refusal.what(), dataset, std::nullopt});
    }
  }

  // Every token-check interval: connections whose token expired, or was revoked on another node,
  // are closed, and subscriptions whose user is no longer a member of the dataset are dropped.
  void check_tokens() {
    std::map<std::string, std::optional<std::string>> verdicts;  // token hash -> why not valid
    for (const auto& connection : connections()) {
      auto [verdict, unchecked] = verdicts.try_emplace(connection->caller.token_hash);
      if (unchecked) {
        try {
          accounts_.recheck(connection->caller);
        } catch (const Refusal& refusal) {
          verdict->second = refusal.what();
        }
      }
      if (verdict->second) {
        connection->close(protocol::kCloseUnauthorized, *verdict->second + "; sign in again");
      }
    }
    std::vector<std::string> datasets;
    for (const auto& [dataset, hub] : hubs_)
      datasets.push_back(dataset);
    for (const std::string& dataset : datasets)
      recheck_members(dataset, [](const Caller&) { return true; });
  }

  Accounts& accounts_;
  SyncService& sync_;
  RateLimiter& limiter_;
  Metrics& metrics_;
  const LiveOptions options_;

  std::mutex registry_mutex_;
  std::map<std::string, std::weak_ptr<LiveConnection>> connections_;  // by id
  std::map<std::string, std::size_t> per_user_;                       // open connections

  std::mutex pending_mutex_;
  std::map<std::string, Pending, std::less<>> pending_;

  std::map<std::string, Hub, std::less<>> hubs_;  // lane only
  // Who is in the datasets' collaborative documents (CollabService), by dataset and connection:
  // shown in presence beside the subscribers. Lane only.
  std::map<std::string, std::map<std::string, protocol::PresencePeer>> document_peers_;

  std::mutex lane_mutex_;
  std::condition_variable lane_wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread lane_thread_;
  FeedSubscribers::Subscription feed_subscription_;
};

void LiveConnection::on_message(std::string text) {
  service_.handle(*this, text);
}

void LiveConnection::on_close() {
  service_.closed(shared_from_this());
}

LiveService::LiveService(Accounts& accounts, SyncService& sync, FeedSubscribers& feed,
                         RateLimiter& limiter, Metrics& metrics, LiveOptions options)
    : impl_(std::make_unique<Impl>(accounts, sync, feed, limiter, metrics, std::move(options))) {}

LiveService::~LiveService() = default;

WebSocketUpgrade LiveService::upgrade(const HttpRequest& request,
                                      std::shared_ptr<WebSocketPeer> peer) {
  return impl_->upgrade(request, std::move(peer));
}

void LiveService::revoke(const std::string& token_hash) {
  impl_->revoke(token_hash);
}

void LiveService::member_removed(const std::string& dataset_id, const std::string& user_id) {
  impl_->member_removed(dataset_id, user_id);
}

void LiveService::document_presence(const std::string& dataset_id,
                                    const protocol::PresencePeer& peer, bool present) {
  impl_->document_presence(dataset_id, peer, present);
}

void LiveService::resync() {
  impl_->resync();
}

}  // namespace cairn::server
