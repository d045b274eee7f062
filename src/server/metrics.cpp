#include "server/metrics.hpp"

#include <fmt/format.h>

namespace cairn::server {

void Metrics::record_request(const std::string& route, int status,
                             std::chrono::nanoseconds duration) {
  const double seconds = std::chrono::duration<double>(duration).count();
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
  Histogram& histogram = durations_[route];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++histogram.buckets[i];
  }
  ++histogram.count;
  histogram.sum += seconds;
}

void Metrics::count_conflict(const std::string& resolution) {
  std::lock_guard lock(mutex_);
  ++conflicts_[resolution];
}

std::string Metrics::render() const {
  std::string out;
  out += "# HELP cairnd_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE cairnd_http_requests_total counter\n";
  std::lock_guard lock(mutex_);
  for (const auto& [key, count] : requests_) {
    out += fmt::format("cairnd_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first,
                       key.second, count);
  }
  out += "# HELP cairnd_http_request_duration_seconds Time to answer a request, by route.\n";
  out += "# TYPE cairnd_http_request_duration_seconds histogram\n";
  for (const auto& [route, histogram] : durations_) {
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      out +=
          fmt::format("cairnd_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                      route, kBuckets[i], histogram.buckets[i]);
    }
    out +=
        fmt::format("cairnd_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                    route, histogram.count);
    out += fmt::format("cairnd_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", route,
                       histogram.sum);
    out += fmt::format("cairnd_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", route,
                       histogram.count);
  }
  out += "# HELP cairnd_open_connections Client connections open now.\n";
  out += "# TYPE cairnd_open_connections gauge\n";
  out += fmt::format("cairnd_open_connections {}\n", open_connections_.load());
  out += "# HELP cairnd_changes_applied_total Client changes that changed an entry.\n";
  out += "# TYPE cairnd_changes_applied_total counter\n";
  out += fmt::format("cairnd_changes_applied_total {}\n", changes_applied_.load());
  out += "# HELP cairnd_conflicts_total Conflicts decided, by resolution.\n";
  out += "# TYPE cairnd_conflicts_total counter\n";
  for (const char* resolution : {"client-won", "server-won"}) {
    auto it = conflicts_.find(resolution);
    out += fmt::format("cairnd_conflicts_total{{resolution=\"{}\"}} {}\n", resolution,
                       it == conflicts_.end() ? 0 : it->second);
  }
  out += "# HELP cairnd_uptime_seconds Seconds since cairnd started.\n";
  out += "# TYPE cairnd_uptime_seconds gauge\n";
  out += fmt::format(
      "cairnd_uptime_seconds {:.3f}\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  return out;
}

}  // namespace cairn::server
