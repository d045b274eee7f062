#include "server/housekeeper.hpp"

#include <spdlog/spdlog.h>

namespace cairn::server {

Housekeeper::Housekeeper(SyncService& sync, HousekeepingOptions options)
    : sync_(sync), options_(options) {
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

HousekeepingReport Housekeeper::pass() {
  std::lock_guard lock(pass_mutex_);
  HousekeepingReport report;
  if (options_.tombstone_retention.count() > 0) {
    report.tombstones = sync_.compact_tombstones(options_.tombstone_retention, options_.batch);
  }
  return report;
}

void Housekeeper::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, options_.interval, [this] { return stopping_; })) {
    lock.unlock();
    try {
      const HousekeepingReport report = pass();
      if (report.tombstones > 0) {
        spdlog::info(
            "housekeeping: dropped {} tombstones older than {} days", report.tombstones,
            std::chrono::duration_cast<std::chrono::hours>(options_.tombstone_retention).count() /
                24);
      }
    } catch (const std::exception& e) {  // the next round tries again
      spdlog::warn("housekeeping: {}", e.what());
    }
    lock.lock();
  }
}

}  // namespace cairn::server
