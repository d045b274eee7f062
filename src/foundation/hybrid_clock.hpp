// HybridClock — the hybrid logical clock every write is stamped with.
//
// Invariant: every reading is strictly greater than every reading issued or received before it,
// whatever the physical clock does (jumps back, stands still, or runs in the future of another
// replica). The owner persists last() with each commit and passes it back in on the next open, so
// readings also never run backwards across restarts.
//
// Thread-safe; last() is lock-free.
#pragma once

#include <atomic>
#include <cairn/clock.hpp>
#include <memory>
#include <mutex>

namespace cairn {

class HybridClock {
 public:
  HybridClock(std::shared_ptr<Clock> physical, Timestamp last);

  // A reading for a local event: max(physical now, last) with the counter advanced as needed.
  Timestamp now();
  // Merges a reading received from another replica: the result is greater than both `remote` and
  // every earlier reading.
  Timestamp receive(Timestamp remote);
  // The latest reading issued or received.
  Timestamp last() const { return Timestamp::from_packed(last_.load(std::memory_order_acquire)); }

  std::uint64_t physical_now_ms() { return physical_->now_ms(); }

 private:
  Timestamp advance(Timestamp floor);

  std::shared_ptr<Clock> physical_;
  std::mutex mutex_;
  std::atomic<std::uint64_t> last_;
};

}  // namespace cairn
