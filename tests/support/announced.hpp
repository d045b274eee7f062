// Waits for a condition that listeners announce (no polling): each announcement checks it again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace cairn::test {

class Announced {
 public:
  void announce() {
    std::lock_guard lock(mutex_);
    changed_.notify_all();
  }
  template <class F>
  bool wait(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, condition);
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
};

}  // namespace cairn::test
