#include "store/subscribers.hpp"

#include <algorithm>

namespace cairn {

Subscription Subscribers::add(Filter filter, Listener listener) {
  auto subscriber = std::make_shared<Subscriber>();
  subscriber->filter = std::move(filter);
  subscriber->listener = std::move(listener);
  {
    std::lock_guard lock(mutex_);
    subscribers_.push_back(subscriber);
  }
  std::weak_ptr<Subscribers> registry = weak_from_this();
  return Subscription([registry, subscriber] {
    {
      std::lock_guard running(subscriber->running);
      subscriber->active = false;
    }
    if (auto owner = registry.lock()) owner->remove(subscriber);
  });
}

void Subscribers::remove(const std::shared_ptr<Subscriber>& subscriber) {
  std::lock_guard lock(mutex_);
  std::erase(subscribers_, subscriber);
}

bool Subscribers::empty() const {
  std::lock_guard lock(mutex_);
  return subscribers_.empty();
}

void Subscribers::notify(const ChangeSet& change_set) {
  std::vector<std::shared_ptr<Subscriber>> snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot = subscribers_;
  }
  for (const auto& subscriber : snapshot) {
    const Filter& filter = subscriber->filter;
    ChangeSet mine{change_set.origin, {}};
    for (const Change& change : change_set.changes) {
      if (filter.store && *filter.store != change.store) continue;
      if (filter.key && *filter.key != change.key) continue;
      mine.changes.push_back(change);
    }
    if (mine.changes.empty()) continue;
    std::lock_guard running(subscriber->running);
    if (!subscriber->active) continue;
    try {
      subscriber->listener(mine);
    } catch (...) {
      // Documented: a throwing listener must not keep the others from hearing of the commit.
    }
  }
}

}  // namespace cairn
