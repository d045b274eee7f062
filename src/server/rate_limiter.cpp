#include "server/rate_limiter.hpp"

#include <cmath>

namespace cairn::server {

int RateLimiter::acquire(const std::string& caller) {
  if (rate_ <= 0) return 0;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (now - last_sweep_ > std::chrono::minutes(1)) {
    std::erase_if(buckets_, [&](const auto& item) {
      return now - item.second.updated > std::chrono::minutes(1);
    });
    last_sweep_ = now;
  }
  auto [it, inserted] = buckets_.try_emplace(caller, Bucket{burst_, now});
  Bucket& bucket = it->second;
  const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  bucket.tokens = std::min(burst_, bucket.tokens + elapsed * rate_);
  bucket.updated = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1 - bucket.tokens) / rate_)));
}

}  // namespace cairn::server
