// cairn/clock.hpp — time, as Cairn sees it.
//
// Timestamp is a hybrid logical clock (HLC) reading: physical milliseconds since the Unix epoch
// plus a logical counter that orders events within one millisecond or while the wall clock stands
// still or steps back. Timestamps are totally ordered; together with a replica id they order every
// write in a Cairn system the same way on every replica and on the server.
//
// Clock is the source of physical time. The default reads the system clock; tests and simulations
// inject their own (the only fake Cairn's tests allow besides network faults). A Clock must be
// safe to call from several threads.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <string>

namespace cairn {

class Timestamp {
 public:
  // The packed form keeps 48 bits of milliseconds (enough until the year 10889) above 16 bits of
  // logical counter, so that packed integers order exactly like timestamps.
  static constexpr int kLogicalBits = 16;
  static constexpr std::uint64_t kMaxLogical = (std::uint64_t{1} << kLogicalBits) - 1;

  constexpr Timestamp() = default;
  constexpr Timestamp(std::uint64_t physical_ms, std::uint32_t logical)
      : packed_((physical_ms << kLogicalBits) | (logical & kMaxLogical)) {}

  static constexpr Timestamp from_packed(std::uint64_t packed) {
    Timestamp t;
    t.packed_ = packed;
    return t;
  }

  constexpr std::uint64_t packed() const { return packed_; }
  constexpr std::uint64_t physical_ms() const { return packed_ >> kLogicalBits; }
  constexpr std::uint32_t logical() const {
    return static_cast<std::uint32_t>(packed_ & kMaxLogical);
  }
  constexpr bool is_zero() const { return packed_ == 0; }

  // "2026-11-25T08:11:11.123Z+5": UTC time, then the logical counter when it is not zero.
  std::string to_string() const;

  friend constexpr auto operator<=>(Timestamp, Timestamp) = default;

 private:
  std::uint64_t packed_ = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch. May jump backwards; the HLC copes.
  virtual std::uint64_t now_ms() = 0;
};

// The wall clock (std::chrono::system_clock).
std::shared_ptr<Clock> system_clock();

}  // namespace cairn
