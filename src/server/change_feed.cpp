#include "server/change_feed.hpp"

#include <utility>

namespace cairn::server {

FeedSubscribers::Subscription::Subscription(Subscription&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), id_(other.id_) {}

FeedSubscribers::Subscription& FeedSubscribers::Subscription::operator=(
    Subscription&& other) noexcept {
  if (this != &other) {
    if (owner_ != nullptr) owner_->unsubscribe(id_);
    owner_ = std::exchange(other.owner_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

FeedSubscribers::Subscription::~Subscription() {
  if (owner_ != nullptr) owner_->unsubscribe(id_);
}

FeedSubscribers::Subscription FeedSubscribers::subscribe(Listener listener) {
  WriterLock lock(mutex_);
  const std::uint64_t id = next_id_++;
  listeners_.emplace(id, std::move(listener));
  return Subscription(this, id);
}

void FeedSubscribers::unsubscribe(std::uint64_t id) {
  WriterLock lock(mutex_);
  listeners_.erase(id);
}

void FeedSubscribers::committed(std::string_view dataset_id, std::uint64_t position) {
  ReaderLock lock(mutex_);
  for (const auto& [id, listener] : listeners_)
    listener(dataset_id, position);
}

}  // namespace cairn::server
