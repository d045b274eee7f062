// RateLimiter — a token bucket per caller (a token's hash, or the peer address for requests
// without one): `rate` requests per second on average, bursts of up to `burst`.
//
// Thread-safe. Buckets idle for a minute are forgotten, so memory stays bounded by the callers
// active recently.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace cairn::server {

class RateLimiter {
 public:
  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}

  // Takes one request from `caller`'s bucket. Returns 0 when allowed, otherwise the seconds to
  // wait before the next request would be (for Retry-After). A rate of 0 disables limiting.
  int acquire(const std::string& caller);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point updated;
  };

  double rate_;
  double burst_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::chrono::steady_clock::time_point last_sweep_ = std::chrono::steady_clock::now();
};

}  // namespace cairn::server
