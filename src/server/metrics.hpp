// Metrics — the counters cairnd exposes at GET /metrics, in Prometheus text format 0.0.4.
//
// Thread-safe: every worker thread records into it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/storage/storage.hpp"

namespace cairn::server {

class Metrics {
 public:
  // One answered request: its route (a fixed name such as "/healthz", never the raw target, so
  // that label values stay few), status and duration.
  void record_request(const std::string& route, int status, std::chrono::nanoseconds duration);
  void connection_opened() { open_connections_.fetch_add(1); }
  void count_changes(std::size_t applied) { changes_applied_.fetch_add(applied); }
  void count_conflict(const std::string& resolution);
  void count_tombstones_dropped(std::uint64_t dropped) { tombstones_dropped_.fetch_add(dropped); }
  // Retention: rows a housekeeping round removed, and what the storage holds after it.
  void count_retention(std::uint64_t history_rows, std::uint64_t audit_rows,
                       std::uint64_t snapshots);
  void set_holdings(Holdings holdings, std::uint64_t store_quota_bytes);
  void connection_closed() { open_connections_.fetch_sub(1); }

  // The live channel (GET /api/live).
  void live_connections(int delta) { live_connections_.fetch_add(delta); }
  void live_subscriptions(int delta) { live_subscriptions_.fetch_add(delta); }
  // A frame written to a live connection; `push_latency` when it pushed a commit (from the
  // commit's being durable to the frame's being written).
  void live_frame_sent(std::size_t bytes, std::optional<std::chrono::nanoseconds> push_latency);
  void live_slow_consumer() { live_slow_consumers_.fetch_add(1); }

  // Everything, with the storage's own figures (Storage::figures) after the server's.
  std::string render(const std::vector<StorageFigure>& storage = {}) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
    void record(double seconds);
    void render(std::string& out, const std::string& name, const std::string& labels) const;
  };

  static void render_holdings(std::string& out, const Holdings& holdings,
                              std::uint64_t store_quota_bytes);

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;  // (route, status) -> count
  std::map<std::string, Histogram> durations_;                     // route -> latency
  std::atomic<std::int64_t> open_connections_{0};
  std::atomic<std::uint64_t> changes_applied_{0};
  std::map<std::string, std::uint64_t> conflicts_;  // resolution -> count
  std::atomic<std::uint64_t> tombstones_dropped_{0};
  std::uint64_t history_dropped_ = 0;  // under mutex_, as below
  std::uint64_t audit_dropped_ = 0;
  std::uint64_t snapshots_dropped_ = 0;
  std::optional<Holdings> holdings_;  // none before the first housekeeping round
  std::uint64_t store_quota_bytes_ = 0;
  std::atomic<std::int64_t> live_connections_{0};
  std::atomic<std::int64_t> live_subscriptions_{0};
  std::atomic<std::uint64_t> live_messages_sent_{0};
  std::atomic<std::uint64_t> live_bytes_sent_{0};
  std::atomic<std::uint64_t> live_slow_consumers_{0};
  Histogram push_latency_;  // under mutex_
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace cairn::server
