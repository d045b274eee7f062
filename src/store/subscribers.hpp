// Subscribers — the listeners registered on a database and the delivery of change sets to them.
//
// Each listener has a filter (every store, one store, or one key) and hears only the changes that
// match it, at most once per commit, and not at all when none match. A listener is called with its
// own recursive "running" lock held; cancelling takes the same lock, so that when cancel returns
// the listener is not running anywhere else, while a listener may still cancel itself.
#pragma once

#include <cairn/change.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace cairn {

class Subscribers : public std::enable_shared_from_this<Subscribers> {
 public:
  struct Filter {
    std::optional<std::string> store;  // empty: every store
    std::optional<std::string> key;    // empty: every key of the store
  };

  Subscription add(Filter filter, Listener listener);
  bool empty() const;
  void notify(const ChangeSet& change_set);

 private:
  struct Subscriber {
    Filter filter;
    Listener listener;
    std::recursive_mutex running;
    bool active = true;
  };
  void remove(const std::shared_ptr<Subscriber>& subscriber);

  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Subscriber>> subscribers_;
};

}  // namespace cairn
