// Listeners — the application's callbacks for one kind of news (the sync client's status and
// presence, a document session's), each added with a Subscription that removes it. notify()
// calls them outside the list's lock, so a listener may subscribe or unsubscribe; one that throws
// does not stop the others, nor the thread that tells them.
#pragma once

#include <cairn/change.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace cairn {

template <class... Args>
class Listeners {
 public:
  using Listener = std::function<void(Args...)>;

  // The Subscription must not outlive this.
  Subscription add(Listener listener) {
    std::lock_guard lock(mutex_);
    const std::uint64_t id = ++next_;
    listeners_.emplace_back(id, std::move(listener));
    return Subscription([this, id] {
      std::lock_guard lock(mutex_);
      std::erase_if(listeners_, [&](const auto& entry) { return entry.first == id; });
    });
  }

  void notify(const Args&... args) const {
    std::vector<Listener> listeners;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, listener] : listeners_)
        listeners.push_back(listener);
    }
    for (const auto& listener : listeners) {
      try {
        listener(args...);
      } catch (...) {
        // A listener's failure is its own.
      }
    }
  }

 private:
  mutable std::mutex mutex_;
  std::uint64_t next_ = 0;
  std::vector<std::pair<std::uint64_t, Listener>> listeners_;
};

}  // namespace cairn
