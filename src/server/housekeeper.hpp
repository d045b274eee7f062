// Housekeeper — cairnd's background upkeep: on a schedule, it reclaims what nobody needs any
// more, in bounded batches so that requests keep being served meanwhile (docs/operations.md,
// "Retention"): tombstones (SyncService::compact_tombstones), entries' history, the audit log of
// documents' updates and documents' snapshots, by age and count. Each round then reads what the
// storage holds for /metrics.
//
// Runs on its own thread from construction until destruction; pass() runs one round now, on the
// caller's thread (tests, and operators through the server), beside the scheduled ones.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "server/metrics.hpp"
#include "server/storage/storage.hpp"
#include "server/sync_service.hpp"

namespace cairn::server {

// Ages of zero and counts of zero keep everything of their kind.
struct HousekeepingOptions {
  // Tombstones older than this are dropped.
  std::chrono::milliseconds tombstone_retention{std::chrono::hours(24 * 90)};
  // An entry's history rows older than this, or beyond its newest `history_max_rows` once older
  // than `history_min_age` (a device that lost an acknowledgement resends its changes, and the
  // server knows them again by their rows).
  std::chrono::milliseconds history_max_age{std::chrono::hours(24 * 180)};
  std::size_t history_max_rows = 100;
  std::chrono::milliseconds history_min_age{std::chrono::hours(24 * 7)};
  // The audit log: the records of documents' updates older than this.
  std::chrono::milliseconds audit_max_age{std::chrono::hours(24 * 365)};
  // A document's snapshots older than this, or beyond its newest `snapshot_max_count`; the newest
  // snapshot of a document always stays.
  std::chrono::milliseconds snapshot_max_age{std::chrono::hours(24 * 90)};
  std::size_t snapshot_max_count = 50;
  // The size of one dataset's store that /metrics compares stores against (the roadmap's 50 MB;
  // devices enforce their own, Limits::max_store_bytes), and the share reported as near it.
  std::uint64_t store_quota_bytes = 50 * 1024 * 1024;
  double quota_warning = 0.8;
  std::chrono::milliseconds interval{std::chrono::hours(1)};  // between rounds; zero: none
  std::size_t batch = 1000;                                   // rows per transaction, at most
};

// What one round reclaimed.
struct HousekeepingReport {
  std::uint64_t tombstones = 0;
  std::uint64_t history_rows = 0;
  std::uint64_t audit_rows = 0;
  std::uint64_t snapshots = 0;
  Holdings holdings;  // what the storage holds afterwards
};

class Housekeeper {
 public:
  Housekeeper(Storage& storage, SyncService& sync, Metrics& metrics, HousekeepingOptions options);
  ~Housekeeper();
  Housekeeper(const Housekeeper&) = delete;
  Housekeeper& operator=(const Housekeeper&) = delete;

  HousekeepingReport pass();

 private:
  void run();

  // Runs `step` (what one transaction removes, returning how many rows) again while it removes
  // at least `full`; the total.
  std::uint64_t repeat(const std::function<std::size_t(StorageTransaction&)>& step,
                       std::size_t full);

  Storage& storage_;
  SyncService& sync_;
  Metrics& metrics_;
  const HousekeepingOptions options_;
  std::mutex pass_mutex_;  // one round at a time
  std::mutex mutex_;       // stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once everything above is in place
};

}  // namespace cairn::server
