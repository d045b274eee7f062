// Listeners — the application's callbacks for one kind of news (the sync client's status and
// presence, a document session's), each added with a Subscription that removes it (and may
// outlive the list). notify() calls them outside the list's lock, so a listener may subscribe or
// unsubscribe; one that throws does not stop the others, nor the thread that tells them.
#pragma once

#include <cairn/change.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace cairn {

template <class... Args>
class Listeners {
 public:
  using Listener = std::function<void(Args...)>;

  // The Subscription may outlive this (it then does nothing).
  Subscription add(Listener listener) {
    std::lock_guard lock(state_->mutex);
    const std::uint64_t id = ++state_->next;
    state_->listeners.emplace_back(id, std::move(listener));
    return Subscription([weak = std::weak_ptr<State>(state_), id] {
      const std::shared_ptr<State> state = weak.lock();
      if (!state) return;
      std::lock_guard lock(state->mutex);
      std::erase_if(state->listeners, [&](const auto& entry) { return entry.first == id; });
    });
  }

  void notify(const Args&... args) const {
    std::vector<Listener> listeners;
    {
      std::lock_guard lock(state_->mutex);
      for (const auto& [id, listener] : state_->listeners)
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
  struct State {
    std::mutex mutex;
    std::uint64_t next = 0;
    std::vector<std::pair<std::uint64_t, Listener>> listeners;
  };
  const std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace cairn
