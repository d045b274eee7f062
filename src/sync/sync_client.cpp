// SyncClient: the background thread that decides when to sync (see cairn/sync.hpp).
#include <cairn/sync.hpp>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "store/store_engine.hpp"
#include "sync/sync_engine.hpp"

namespace cairn {

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

SyncStatus status_from(StoreEngine& db, SyncState state) {
  const LocalFile::SyncState stored = db.sync_state();
  return {state,
          db.pending_count(),
          stored.last_success_ms,
          stored.last_error_ms,
          stored.last_error,
          stored.user_id,
          stored.dataset,
          stored.held_back};
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
  }

  bool wait_until_synced(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lock(mutex_);
    const std::uint64_t seen = successes_;
    next_run_ = Clock::now();
    wake_.notify_all();
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

  Subscription subscribe(std::function<void(const SyncStatus&)> listener) {
    std::lock_guard lock(mutex_);
    const std::uint64_t id = ++next_listener_;
    listeners_.emplace_back(id, std::move(listener));
    return Subscription([this, id] {
      std::lock_guard lock(mutex_);
      std::erase_if(listeners_, [&](const auto& l) { return l.first == id; });
    });
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_until(lock, next_run_, [&] { return stopping_ || Clock::now() >= next_run_; });
      if (stopping_) break;
      if (Clock::now() < next_run_) continue;
      next_run_ = Clock::time_point::max();
      running_ = true;
      const bool full = std::exchange(full_requested_, false);
      lock.unlock();
      publish(SyncState::syncing);
      SyncState outcome = SyncState::idle;
      Clock::duration delay = options_.interval;
      try {
        engine_.run(full);
        failures_ = 0;
      } catch (const SyncFailure& failure) {
        if (full) {
          std::lock_guard again(mutex_);
          full_requested_ = true;  // still owed
        }
        if (failure.retryable) {
          outcome = SyncState::offline;
          // Full jitter: anywhere up to the exponential bound, so that many clients coming back
          // at once do not stampede the server.
          const auto bound =
              std::min<std::int64_t>(options_.backoff_cap.count(),
                                     options_.backoff_base.count() << std::min(failures_++, 20));
          delay = std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(
              0, std::max<std::int64_t>(bound, 1))(random_));
          if (failure.retry_after_seconds > 0) {
            delay =
                std::max<Clock::duration>(delay, std::chrono::seconds(failure.retry_after_seconds));
          }
        } else {
          outcome = SyncState::error;
        }
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
  }

  void publish(SyncState state) {
    SyncStatus status = status_from(store_, state);
    std::vector<std::function<void(const SyncStatus&)>> listeners;
    {
      std::lock_guard lock(mutex_);
      status_ = status;
      for (const auto& [id, listener] : listeners_)
        listeners.push_back(listener);
    }
    for (const auto& listener : listeners) {
      try {
        listener(status);
      } catch (...) {
        // A listener's failure must not stop syncing.
      }
    }
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
  std::uint64_t successes_ = 0;
  SyncStatus status_;
  std::uint64_t next_listener_ = 0;
  std::vector<std::pair<std::uint64_t, std::function<void(const SyncStatus&)>>> listeners_;
  Subscription local_;
  std::thread thread_;
};

SyncClient::SyncClient(Database& db, SyncOptions options) {
  if (db.options().read_only) throw Error(ErrorCode::read_only, "a read-only database cannot sync");
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

SyncReport SyncClient::sync_once(Database& db, const SyncOptions& options, bool full) {
  if (db.options().read_only) throw Error(ErrorCode::read_only, "a read-only database cannot sync");
  SyncEngine engine(engine_of(db), options);
  try {
    return engine.run(full);
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
