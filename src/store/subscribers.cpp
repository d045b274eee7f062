#include "store/subscribers.hpp"

#include <utility>

namespace cairn {

Subscription Subscribers::add(Filter filter, Listener listener) {
  return listeners_.add(
      [filter = std::move(filter), listener = std::move(listener)](const ChangeSet& change_set) {
        ChangeSet mine{change_set.origin, {}};
        for (const Change& change : change_set.changes) {
          if (filter.store && *filter.store != change.store) continue;
          if (filter.key && *filter.key != change.key) continue;
          mine.changes.push_back(change);
        }
        if (!mine.changes.empty()) listener(mine);
      });
}

}  // namespace cairn
