// ChangeFeed — told of every commit that moves a dataset's change feed, once it is durable.
//
// The sync service calls committed(dataset, position) after each commit that changed a dataset
// (a sync request that applied something, a new user's seeded profile), on the thread that
// committed, after the storage transaction is durable and no storage lock is held. The live
// channel subscribes here to push changes; with several cairnd processes the PostgreSQL backend
// relays the same calls between them.
//
// FeedSubscribers is the ChangeFeed the server owns: it passes each commit to every subscriber.
// Listeners must not block (they run on request threads); a subscription ends when its handle is
// destroyed, and no call to its listener is running after that.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string_view>

#include "foundation/mutex.hpp"

namespace cairn::server {

class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;
  // `position` is the dataset's feed position after the commit (DatasetRow::last_seq).
  virtual void committed(std::string_view dataset_id, std::uint64_t position) = 0;
};

class FeedSubscribers final : public ChangeFeed {
 public:
  using Listener = std::function<void(std::string_view dataset_id, std::uint64_t position)>;

  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept;
    Subscription& operator=(Subscription&& other) noexcept;
    ~Subscription();

   private:
    friend class FeedSubscribers;
    Subscription(FeedSubscribers* owner, std::uint64_t id) : owner_(owner), id_(id) {}
    FeedSubscribers* owner_ = nullptr;
    std::uint64_t id_ = 0;
  };

  [[nodiscard]] Subscription subscribe(Listener listener);
  void committed(std::string_view dataset_id, std::uint64_t position) override;

 private:
  void unsubscribe(std::uint64_t id);

  // Held while listeners run, so that unsubscribing waits for a call in progress.
  SharedMutex mutex_;
  std::map<std::uint64_t, Listener> listeners_ GUARDED_BY(mutex_);
  std::uint64_t next_id_ GUARDED_BY(mutex_) = 1;
};

}  // namespace cairn::server
