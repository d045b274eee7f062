// Housekeeper — cairnd's background upkeep: on a schedule, it reclaims what nobody needs any
// more, in bounded batches so that requests keep being served meanwhile (docs/operations.md,
// "Retention"). Today that is tombstone compaction (SyncService::compact_tombstones).
//
// Runs on its own thread from construction until destruction; pass() runs one round now, on the
// caller's thread (tests, and operators through the server), beside the scheduled ones.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "server/sync_service.hpp"

namespace cairn::server {

struct HousekeepingOptions {
  // Tombstones older than this are dropped; zero keeps them forever.
  std::chrono::milliseconds tombstone_retention{std::chrono::hours(24 * 90)};
  std::chrono::milliseconds interval{std::chrono::hours(1)};  // between rounds; zero: none
  std::size_t batch = 1000;                                   // rows per transaction, at most
};

// What one round reclaimed.
struct HousekeepingReport {
  std::uint64_t tombstones = 0;
};

class Housekeeper {
 public:
  Housekeeper(SyncService& sync, HousekeepingOptions options);
  ~Housekeeper();
  Housekeeper(const Housekeeper&) = delete;
  Housekeeper& operator=(const Housekeeper&) = delete;

  HousekeepingReport pass();

 private:
  void run();

  SyncService& sync_;
  const HousekeepingOptions options_;
  std::mutex pass_mutex_;  // one round at a time
  std::mutex mutex_;       // stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once everything above is in place
};

}  // namespace cairn::server
