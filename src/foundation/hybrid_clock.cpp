#include "foundation/hybrid_clock.hpp"

#include <algorithm>

namespace cairn {

HybridClock::HybridClock(std::shared_ptr<Clock> physical, Timestamp last)
    : physical_(physical ? std::move(physical) : system_clock()), last_(last.packed()) {}

// The next reading above `floor`: the physical time if it is ahead, otherwise floor's millisecond
// with the counter advanced; a full counter spills into the next millisecond.
Timestamp HybridClock::advance(Timestamp floor) {
  const std::uint64_t wall = physical_->now_ms();
  if (wall > floor.physical_ms()) return Timestamp(wall, 0);
  if (floor.logical() < Timestamp::kMaxLogical) {
    return Timestamp(floor.physical_ms(), floor.logical() + 1);
  }
  return Timestamp(floor.physical_ms() + 1, 0);
}

Timestamp HybridClock::now() {
  std::lock_guard lock(mutex_);
  const Timestamp next = advance(last());
  last_.store(next.packed(), std::memory_order_release);
  return next;
}

Timestamp HybridClock::receive(Timestamp remote) {
  std::lock_guard lock(mutex_);
  const Timestamp next = advance(std::max(last(), remote));
  last_.store(next.packed(), std::memory_order_release);
  return next;
}

}  // namespace cairn
