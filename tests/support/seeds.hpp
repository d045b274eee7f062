// Seeded tests read their seed and run count from the environment, so that a failing seed can be
// replayed (e.g. CAIRN_CHAOS_SEED=31337 CAIRN_CHAOS_SCHEDULES=1) and a soak run longer.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

namespace cairn::test {

inline std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* value = std::getenv(name);
  return value ? std::stoull(value) : fallback;
}

}  // namespace cairn::test
