#include "server/housekeeper.hpp"

#include <spdlog/spdlog.h>

namespace cairn::server {

Housekeeper::Housekeeper(Storage& storage, SyncService& sync, Metrics& metrics,
                         HousekeepingOptions options)
    : storage_(storage), sync_(sync), metrics_(metrics), options_(options) {
  if (options_.interval.count() > 0) thread_ = std::thread([this] { run(); });
}

Housekeeper::~Housekeeper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t Housekeeper::repeat(const std::function<std::size_t(StorageTransaction&)>& step,
                                  std::size_t full) {
  std::uint64_t total = 0;
  while (true) {
    const std::size_t removed = retry_conflicts([&] {
      auto tx = storage_.begin(true);
      const std::size_t n = step(*tx);
      tx->commit();
      return n;
    });
    total += removed;
    if (removed < full || removed == 0) return total;
  }
}

HousekeepingReport Housekeeper::pass() {
  std::lock_guard lock(pass_mutex_);
  HousekeepingReport report;
  const std::int64_t now = sync_.now_ms();
  const std::size_t batch = options_.batch;
  if (options_.tombstone_retention.count() > 0) {
    report.tombstones = sync_.compact_tombstones(options_.tombstone_retention, batch);
  }
  if (options_.history_max_age.count() > 0) {
    const std::int64_t before = now - options_.history_max_age.count();
    report.history_rows += repeat(
        [&](StorageTransaction& tx) { return tx.drop_history(false, before, batch); }, batch);
  }
  if (options_.history_max_rows > 0) {  // a step trims `batch` entries: until none is over
    const std::int64_t before = now - options_.history_min_age.count();
    report.history_rows += repeat(
        [&](StorageTransaction& tx) {
          return tx.trim_history(options_.history_max_rows, before, batch);
        },
        1);
  }
  if (options_.audit_max_age.count() > 0) {
    const std::int64_t before = now - options_.audit_max_age.count();
    report.audit_rows =
        repeat([&](StorageTransaction& tx) { return tx.drop_history(true, before, batch); }, batch);
  }
  if (options_.snapshot_max_age.count() > 0) {
    const std::int64_t before = now - options_.snapshot_max_age.count();
    report.snapshots +=
        repeat([&](StorageTransaction& tx) { return tx.drop_snapshots(before, batch); }, batch);
  }
  if (options_.snapshot_max_count > 0) {
    report.snapshots += repeat(
        [&](StorageTransaction& tx) {
          return tx.trim_snapshots(options_.snapshot_max_count, batch);
        },
        1);
  }
  metrics_.count_retention(report.history_rows, report.audit_rows, report.snapshots);
  report.holdings = storage_.begin(false)->holdings(static_cast<std::uint64_t>(
      options_.quota_warning * static_cast<double>(options_.store_quota_bytes)));
  metrics_.set_holdings(report.holdings, options_.store_quota_bytes);
  return report;
}

void Housekeeper::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, options_.interval, [this] { return stopping_; })) {
    lock.unlock();
    try {
      const HousekeepingReport report = pass();
      if (report.tombstones + report.history_rows + report.audit_rows + report.snapshots > 0) {
        spdlog::info(
            "housekeeping: dropped {} tombstones, {} history rows, {} audit records, {} snapshots",
            report.tombstones, report.history_rows, report.audit_rows, report.snapshots);
      }
    } catch (const std::exception& e) {  // the next round tries again
      spdlog::warn("housekeeping: {}", e.what());
    }
    lock.lock();
  }
}

}  // namespace cairn::server
