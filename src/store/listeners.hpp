// Listeners — the application's callbacks for one kind of news (a database's commits, the sync
// client's status and presence, a document session's), each added with a Subscription that removes
// it (and may outlive the list). notify() calls each listener outside the list's lock, with that
// listener's own recursive "running" lock held; cancelling takes the same lock, so that once a
// Subscription's reset returns its listener is not running anywhere and never will be (what it
// captured may go), while a listener may still subscribe, or cancel itself, from inside. One that
// throws does not stop the others, nor the thread that tells them.
#pragma once

#include <cairn/change.hpp>
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

  // The Subscription may outlive this (it then only stops the listener).
  Subscription add(Listener listener) {
    auto entry = std::make_shared<Entry>();
    entry->listener = std::move(listener);
    {
      std::lock_guard lock(state_->mutex);
      state_->entries.push_back(entry);
    }
    return Subscription([weak = std::weak_ptr<State>(state_), entry] {
      {
        std::lock_guard running(entry->running);
        entry->active = false;
      }
      const std::shared_ptr<State> state = weak.lock();
      if (!state) return;
      std::lock_guard lock(state->mutex);
      std::erase(state->entries, entry);
    });
  }

  bool empty() const {
    std::lock_guard lock(state_->mutex);
    return state_->entries.empty();
  }

  void notify(const Args&... args) const {
    std::vector<std::shared_ptr<Entry>> entries;
    {
      std::lock_guard lock(state_->mutex);
      entries = state_->entries;
    }
    for (const auto& entry : entries) {
      std::lock_guard running(entry->running);
      if (!entry->active) continue;
      try {
        entry->listener(args...);
      } catch (...) {
        // A listener's failure is its own.
      }
    }
  }

 private:
  struct Entry {
    Listener listener;
    std::recursive_mutex running;
    bool active = true;
  };
  struct State {
    std::mutex mutex;
    std::vector<std::shared_ptr<Entry>> entries;
  };
  const std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace cairn
