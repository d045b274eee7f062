// ManualClock — physical time that a test sets by hand (the one fake Cairn's tests allow for time).
#pragma once

#include <atomic>
#include <cairn/clock.hpp>

namespace cairn::test {

class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::uint64_t ms = 1'700'000'000'000) : ms_(ms) {}
  std::uint64_t now_ms() override { return ms_.load(); }
  void set(std::uint64_t ms) { ms_.store(ms); }
  void advance(std::int64_t ms) { ms_.fetch_add(static_cast<std::uint64_t>(ms)); }

 private:
  std::atomic<std::uint64_t> ms_;
};

}  // namespace cairn::test
