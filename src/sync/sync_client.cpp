// SyncClient: the background thread that decides when to sync (see cairn/sync.hpp).
#include <atomic>
#include <boost/json.hpp>
#include <cairn/sync.hpp>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "foundation/json_text.hpp"
#include "store/listeners.hpp"
#include "store/store_engine.hpp"
#include "sync/live_link.hpp"
#include "sync/sync_engine.hpp"

namespace cairn {
namespace json = boost::json;

std::string_view sync_state_name(SyncState state) noexcept {
  switch (state) {
    case SyncState::idle:
      return "idle";
    case SyncState::syncing:
      return "syncing";
    case SyncState::offline:
      return "offline";
    case SyncState::error:
      return "error";
  }
  return "unknown";
}

namespace {

// Syncing writes what it keeps (server, token, cursor) into the database.
void require_writable(Database& db) {
  if (db.options().read_only) throw Error(ErrorCode::read_only, "a read-only database cannot sync");
}

SyncStatus status_from(StoreEngine& db, SyncState state, bool live = false) {
  const LocalFile::SyncState stored = db.sync_state();
  return {state,
          db.pending_count(),
          stored.last_success_ms,
          stored.last_error_ms,
          stored.last_error,
          stored.user_id,
          stored.dataset,
          stored.held_back,
          live,
          db.held_back()};
}

}  // namespace

class SyncClient::Impl {
 public:
  using Clock = std::chrono::steady_clock;

  Impl(Database& db, StoreEngine& store, SyncOptions options)
      : store_(store), options_(options), engine_(store, std::move(options)) {
    random_.seed(options_.jitter_seed != 0 ? options_.jitter_seed : std::random_device{}());
    status_ = status_from(store_, SyncState::idle);
    next_run_ = Clock::now();
    // Local commits bring the next sync forward (debounced), unless the server is unreachable,
    // in which case the backoff decides.
    local_ = db.subscribe([this](const ChangeSet& changes) {
      if (changes.origin != Origin::local) return;
      std::lock_guard lock(mutex_);
      if (link_ != nullptr) return link_->interrupt();  // goes out over the live connection now
      if (status_.state == SyncState::offline) return;
      next_run_ = std::min(next_run_, Clock::now() + options_.debounce);
      wake_.notify_all();
    });
    thread_ = std::thread([this] { loop(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      wake_.notify_all();
      if (link_ != nullptr) link_->interrupt();
    }
    engine_.abort();
    thread_.join();
    local_.reset();
  }

  void sync_now(bool full = false) {
    std::lock_guard lock(mutex_);
    full_requested_ = full_requested_ || full;
    next_run_ = Clock::now();
    wake_.notify_all();
    if (link_ != nullptr) link_->interrupt();
  }

  bool wait_until_synced(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lock(mutex_);
    const std::uint64_t seen = successes_;
    next_run_ = Clock::now();
    wake_.notify_all();
    if (link_ != nullptr) link_->interrupt();
    return done_.wait_until(lock, deadline, [&] {
      return successes_ > seen && store_.pending_count() == 0 && !running_;
    });
  }

  SyncStatus status() const {
    std::lock_guard lock(mutex_);
    SyncStatus status = status_;
    status.pending = store_.pending_count();
    return status;
  }

  void set_presence(json::object state) {
    std::lock_guard lock(mutex_);
    presence_ = std::move(state);
    presence_dirty_ = true;
    if (link_ != nullptr) link_->interrupt();
  }

  std::vector<Peer> peers() const {
    std::lock_guard lock(mutex_);
    return peers_;
  }

  Subscription subscribe_presence(std::function<void(const std::vector<Peer>&)> listener) {
    return presence_listeners_.add(std::move(listener));
  }

  Subscription subscribe(std::function<void(const SyncStatus&)> listener) {
    return listeners_.add(std::move(listener));
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (link_ != nullptr && !full_requested_) {
        lock.unlock();
        serve_live();
        lock.lock();
        continue;
      }
      if (link_ != nullptr) close_link(lock);  // a full sync goes over HTTP
      wake_.wait_until(lock, next_run_, [&] { return stopping_ || Clock::now() >= next_run_; });
      if (stopping_) break;
      if (Clock::now() < next_run_) continue;
      next_run_ = Clock::time_point::max();
      running_ = true;
      const bool full = std::exchange(full_requested_, false);
      // When the live connection comes next, the outbox goes out over it, batches in flight.
      const bool live_next = options_.live && Clock::now() >= next_link_attempt_;
      lock.unlock();
      publish(SyncState::syncing);
      SyncState outcome = SyncState::idle;
      Clock::duration delay = options_.interval;
      try {
        engine_.run(full, /*send=*/!live_next);
        failures_ = 0;
      } catch (const SyncFailure& failure) {
        if (full) {
          std::lock_guard again(mutex_);
          full_requested_ = true;  // still owed
        }
        if (failure.retryable) {
          outcome = SyncState::offline;
          delay = backoff(failures_);
          if (failure.retry_after_seconds > 0) {
            delay =
                std::max<Clock::duration>(delay, std::chrono::seconds(failure.retry_after_seconds));
          }
        } else {
          outcome = SyncState::error;
        }
      }
      if (outcome == SyncState::idle && live_next && !open_link()) {
        delay = Clock::duration::zero();  // polling it is: the outbox goes out over HTTP now
      }
      publish(outcome);
      lock.lock();
      running_ = false;
      if (outcome == SyncState::idle) ++successes_;
      next_run_ = std::min(next_run_, Clock::now() + delay);
      // Changes committed while this sync ran (after it read the outbox) go out soon.
      if (outcome == SyncState::idle && store_.pending_count() > 0) {
        next_run_ = std::min(next_run_, Clock::now() + options_.debounce);
      }
      done_.notify_all();
    }
    if (link_ != nullptr) close_link(lock);
  }

  // Full jitter: anywhere up to the exponential bound, so that many clients coming back at once
  // do not stampede the server.
  Clock::duration backoff(int& failures) {
    const auto bound = std::min<std::int64_t>(
        options_.backoff_cap.count(), options_.backoff_base.count() << std::min(failures++, 20));
    return std::chrono::milliseconds(
        std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(bound, 1))(random_));
  }

  // After a successful HTTP sync, on the sync thread: opens the live connection. When it cannot,
  // it is tried again after a backoff, and syncing polls meanwhile; false then.
  bool open_link() {
    std::unique_ptr<LiveLink> link;
    try {
      link = engine_.open_live();
    } catch (const SyncFailure&) {
      next_link_attempt_ = Clock::now() + backoff(link_failures_);
      return false;
    }
    std::lock_guard lock(mutex_);
    link_ = std::move(link);
    presence_dirty_ = presence_.has_value();
    live_ = true;
    return true;
  }

  // Drops the live connection: peers are gone until it is back.
  void close_link(std::unique_lock<std::mutex>& lock) {
    std::unique_ptr<LiveLink> link = std::move(link_);
    live_ = false;
    const bool had_peers = !peers_.empty();
    peers_.clear();
    lock.unlock();
    link.reset();
    if (had_peers) publish_peers({});
    lock.lock();
  }

  // One turn of the live connection, on the sync thread.
  void serve_live() {
    std::optional<json::object> presence;
    {
      std::lock_guard lock(mutex_);
      if (presence_dirty_) presence = presence_;
      presence_dirty_ = false;
    }
    if (presence) link_->set_presence(*presence);
    SyncReport report;
    try {
      link_->pump(std::chrono::seconds(1), report);
    } catch (const SyncFailure& failure) {
      {
        std::unique_lock lock(mutex_);
        close_link(lock);
        // Polling takes over at once (it settles what the link could not), and the link is
        // tried again after a backoff.
        next_run_ = Clock::now();
        next_link_attempt_ = Clock::now() + backoff(link_failures_);
      }
      publish(failure.retryable ? SyncState::syncing : SyncState::error);
      return;
    }
    link_failures_ = 0;
    try {
      engine_.fetch_documents(report);  // what the pushes said changed
    } catch (const SyncFailure&) {
      // Noted still: fetched after the next push, or by the next HTTP sync.
    }
    try {
      engine_.refresh_manifests(report);  // those past their TTL
    } catch (const SyncFailure&) {
      // Tried again on the next turn.
    }
    if (link_->take_peers_changed()) publish_peers(link_->peers());
    if (report.acknowledged > 0 || report.applied > 0 || report.sent > 0 || report.documents > 0) {
      publish(SyncState::idle);
    }
    if (link_->settled()) {
      std::lock_guard lock(mutex_);
      ++successes_;
      done_.notify_all();
    }
  }

  void publish_peers(const std::vector<Peer>& peers) {
    {
      std::lock_guard lock(mutex_);
      peers_ = peers;
    }
    presence_listeners_.notify(peers);
  }

  void publish(SyncState state) {
    const SyncStatus status = status_from(store_, state, live_);
    {
      std::lock_guard lock(mutex_);
      status_ = status;
    }
    listeners_.notify(status);
  }

  StoreEngine& store_;
  SyncOptions options_;
  SyncEngine engine_;
  std::mt19937_64 random_;
  mutable std::mutex mutex_;
  std::condition_variable wake_, done_;
  Clock::time_point next_run_;
  bool stopping_ = false;
  bool running_ = false;
  bool full_requested_ = false;
  int failures_ = 0;
  int link_failures_ = 0;
  Clock::time_point next_link_attempt_;
  std::uint64_t successes_ = 0;
  SyncStatus status_;
  Listeners<const SyncStatus&> listeners_;
  // The live connection: replaced only by the sync thread, under mutex_ (other threads interrupt
  // it under mutex_); used by the sync thread alone.
  std::unique_ptr<LiveLink> link_;
  std::atomic<bool> live_{false};
  std::optional<json::object> presence_;  // this device's, as the application set it
  bool presence_dirty_ = false;
  std::vector<Peer> peers_;
  Listeners<const std::vector<Peer>&> presence_listeners_;
  Subscription local_;
  std::thread thread_;
};

SyncClient::SyncClient(Database& db, SyncOptions options) {
  require_writable(db);
  if (options.server.empty() && engine_of(db).sync_state().server.empty()) {
    throw Error(ErrorCode::invalid_argument, "no server: set SyncOptions::server");
  }
  impl_ = std::make_unique<Impl>(db, engine_of(db), std::move(options));
}

SyncClient::~SyncClient() = default;

void SyncClient::resync() {
  impl_->sync_now(/*full=*/true);
}

void SyncClient::sync_now() {
  impl_->sync_now();
}

bool SyncClient::wait_until_synced(std::chrono::milliseconds timeout) {
  return impl_->wait_until_synced(timeout);
}

SyncStatus SyncClient::status() const {
  return impl_->status();
}

Subscription SyncClient::subscribe(std::function<void(const SyncStatus&)> listener) {
  return impl_->subscribe(std::move(listener));
}

void SyncClient::set_presence(boost::json::object state) {
  impl_->set_presence(std::move(state));
}

std::vector<Peer> SyncClient::peers() const {
  return impl_->peers();
}

Subscription SyncClient::subscribe_presence(
    std::function<void(const std::vector<Peer>&)> listener) {
  return impl_->subscribe_presence(std::move(listener));
}

namespace {

DatasetSchemaInfo schema_info(const protocol::DatasetSchemaMessage& message) {
  return {message.revision, schema_from_json(message.schema), message.updated_by,
          message.updated_ms};
}

}  // namespace

SyncReport SyncClient::sync_once(Database& db, const SyncOptions& options, bool full) {
  require_writable(db);
  SyncEngine engine(engine_of(db), options);
  try {
    return engine.run(full);
  } catch (const SyncFailure& failure) {
    throw Error(failure.code, failure.message);
  }
}

DatasetSchemaInfo SyncClient::pull_schema(Database& db, const SyncOptions& options) {
  require_writable(db);
  SyncEngine engine(engine_of(db), options);
  try {
    return schema_info(engine.dataset_schema(std::nullopt));
  } catch (const SyncFailure& failure) {
    throw Error(failure.code, failure.message);
  }
}

DatasetSchemaInfo SyncClient::push_schema(Database& db, const SyncOptions& options,
                                          const std::vector<StoreSchema>& stores) {
  require_writable(db);
  const std::string text = json_text(schema_to_json(stores));  // invalid_argument: a custom step
  SyncEngine engine(engine_of(db), options);
  try {
    return schema_info(engine.dataset_schema(text));
  } catch (const SyncFailure& failure) {
    throw Error(failure.code, failure.message);
  }
}

SyncStatus SyncClient::stored_status(Database& db) {
  return status_from(engine_of(db), SyncState::idle);
}

std::string SyncClient::stored_token(Database& db) {
  return engine_of(db).sync_state().token;
}

}  // namespace cairn
