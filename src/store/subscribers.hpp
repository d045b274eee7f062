// Subscribers — the listeners registered on a database and the delivery of change sets to them.
//
// Each listener has a filter (every store, one store, or one key) and hears only the changes that
// match it, at most once per commit, and not at all when none match. Delivery is Listeners':
// once a Subscription's reset returns, its listener is not running and will not run again, while
// a listener may still cancel itself.
#pragma once

#include <cairn/change.hpp>
#include <optional>
#include <string>

#include "store/listeners.hpp"

namespace cairn {

class Subscribers {
 public:
  struct Filter {
    std::optional<std::string> store;  // empty: every store
    std::optional<std::string> key;    // empty: every key of the store
  };

  Subscription add(Filter filter, Listener listener);
  bool empty() const { return listeners_.empty(); }
  void notify(const ChangeSet& change_set) const { listeners_.notify(change_set); }

 private:
  Listeners<const ChangeSet&> listeners_;
};

}  // namespace cairn
