#include "server/metrics.hpp"

#include <fmt/format.h>

namespace cairn::server {

void Metrics::record_request(const std::string& route, int status,
                             std::chrono::nanoseconds duration) {
  const double seconds = std::chrono::duration<double>(duration).count();
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
  durations_[route].record(seconds);
}

void Metrics::Histogram::record(double seconds) {
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++buckets[i];
  }
  ++count;
  sum += seconds;
}

// `labels` is empty or `name="value",` pairs each followed by a comma.
void Metrics::Histogram::render(std::string& out, const std::string& name,
                                const std::string& labels) const {
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, labels, kBuckets[i], buckets[i]);
  }
  out += fmt::format("{}_bucket{{{}le=\"+Inf\"}} {}\n", name, labels, count);
  const std::string plain = labels.empty() ? "" : "{" + labels.substr(0, labels.size() - 1) + "}";
  out += fmt::format("{}_sum{} {}\n", name, plain, sum);
  out += fmt::format("{}_count{} {}\n", name, plain, count);
}

void Metrics::live_frame_sent(std::size_t bytes,
                              std::optional<std::chrono::nanoseconds> push_latency) {
  live_messages_sent_.fetch_add(1);
  live_bytes_sent_.fetch_add(bytes);
  if (!push_latency) return;
  std::lock_guard lock(mutex_);
  push_latency_.record(std::chrono::duration<double>(*push_latency).count());
}

void Metrics::count_conflict(const std::string& resolution) {
  std::lock_guard lock(mutex_);
  ++conflicts_[resolution];
}

std::string Metrics::render(const std::vector<StorageFigure>& storage) const {
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
    histogram.render(out, "cairnd_http_request_duration_seconds",
                     fmt::format("route=\"{}\",", route));
  }
  out += "# HELP cairnd_open_connections Client connections open now.\n";
  out += "# TYPE cairnd_open_connections gauge\n";
  out += fmt::format("cairnd_open_connections {}\n", open_connections_.load());
  out += "# HELP cairnd_changes_applied_total Client changes that changed an entry.\n";
  out += "# TYPE cairnd_changes_applied_total counter\n";
  out += fmt::format("cairnd_changes_applied_total {}\n", changes_applied_.load());
  out += "# HELP cairnd_tombstones_dropped_total Tombstones compaction dropped.\n";
  out += "# TYPE cairnd_tombstones_dropped_total counter\n";
  out += fmt::format("cairnd_tombstones_dropped_total {}\n", tombstones_dropped_.load());
  out += "# HELP cairnd_retention_dropped_total Rows retention removed, by kind.\n";
  out += "# TYPE cairnd_retention_dropped_total counter\n";
  for (const auto& [kind, count] :
       {std::pair{"history", history_dropped_}, std::pair{"audit", audit_dropped_},
        std::pair{"snapshots", snapshots_dropped_}}) {
    out += fmt::format("cairnd_retention_dropped_total{{kind=\"{}\"}} {}\n", kind, count);
  }
  if (holdings_) render_holdings(out, *holdings_, store_quota_bytes_);
  out += "# HELP cairnd_conflicts_total Conflicts decided, by resolution.\n";
  out += "# TYPE cairnd_conflicts_total counter\n";
  for (const char* resolution : {"client-won", "server-won"}) {
    auto it = conflicts_.find(resolution);
    out += fmt::format("cairnd_conflicts_total{{resolution=\"{}\"}} {}\n", resolution,
                       it == conflicts_.end() ? 0 : it->second);
  }
  out += "# HELP cairnd_live_connections Live channel (WebSocket) connections open now.\n";
  out += "# TYPE cairnd_live_connections gauge\n";
  out += fmt::format("cairnd_live_connections {}\n", live_connections_.load());
  out += "# HELP cairnd_live_subscriptions Dataset subscriptions on the live channel now.\n";
  out += "# TYPE cairnd_live_subscriptions gauge\n";
  out += fmt::format("cairnd_live_subscriptions {}\n", live_subscriptions_.load());
  out += "# HELP cairnd_live_messages_sent_total Messages written to live connections.\n";
  out += "# TYPE cairnd_live_messages_sent_total counter\n";
  out += fmt::format("cairnd_live_messages_sent_total {}\n", live_messages_sent_.load());
  out += "# HELP cairnd_live_bytes_sent_total Bytes of messages written to live connections.\n";
  out += "# TYPE cairnd_live_bytes_sent_total counter\n";
  out += fmt::format("cairnd_live_bytes_sent_total {}\n", live_bytes_sent_.load());
  out += "# HELP cairnd_live_slow_consumers_total Live connections closed for falling behind.\n";
  out += "# TYPE cairnd_live_slow_consumers_total counter\n";
  out += fmt::format("cairnd_live_slow_consumers_total {}\n", live_slow_consumers_.load());
  out += "# HELP cairnd_live_push_latency_seconds From a commit to its push's being written.\n";
  out += "# TYPE cairnd_live_push_latency_seconds histogram\n";
  push_latency_.render(out, "cairnd_live_push_latency_seconds", "");
  out += "# HELP cairnd_uptime_seconds Seconds since cairnd started.\n";
  out += "# TYPE cairnd_uptime_seconds gauge\n";
  out += fmt::format(
      "cairnd_uptime_seconds {:.3f}\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  for (const StorageFigure& figure : storage) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", figure.name, figure.help, figure.name,
                       figure.type, figure.name, figure.value);
  }
  return out;
}

void Metrics::count_retention(std::uint64_t history_rows, std::uint64_t audit_rows,
                              std::uint64_t snapshots) {
  std::lock_guard lock(mutex_);
  history_dropped_ += history_rows;
  audit_dropped_ += audit_rows;
  snapshots_dropped_ += snapshots;
}

void Metrics::set_holdings(Holdings holdings, std::uint64_t store_quota_bytes) {
  std::lock_guard lock(mutex_);
  holdings_ = std::move(holdings);
  store_quota_bytes_ = store_quota_bytes;
}

// What the storage held at the last housekeeping round: gauges, every dataset's together.
void Metrics::render_holdings(std::string& out, const Holdings& holdings,
                              std::uint64_t store_quota_bytes) {
  const auto family = [&](std::string_view name, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
  };
  const auto per_store = [&](std::string_view name, std::string_view help,
                             std::uint64_t StoreHoldings::*figure) {
    family(name, help);
    for (const StoreHoldings& store : holdings.stores)
      out += fmt::format("{}{{store=\"{}\"}} {}\n", name, store.store, store.*figure);
  };
  per_store("cairnd_store_entries", "Live entries of a store in every dataset (last housekeeping).",
            &StoreHoldings::entries);
  per_store("cairnd_store_tombstones", "Tombstones of a store in every dataset.",
            &StoreHoldings::tombstones);
  per_store("cairnd_store_bytes",
            "Bytes (keys and values) of a store's live entries, every dataset's.",
            &StoreHoldings::bytes);
  per_store("cairnd_store_largest_bytes",
            "The bytes of a store in the dataset that holds the most.", &StoreHoldings::largest);
  family("cairnd_store_quota_bytes", "The size of one dataset's store compared against.");
  out += fmt::format("cairnd_store_quota_bytes {}\n", store_quota_bytes);
  per_store("cairnd_stores_near_quota",
            "Datasets whose store passed the warning share of the quota.",
            &StoreHoldings::near_quota);
  family("cairnd_history_rows", "History rows kept, by kind (entries' history, audit log).");
  out += fmt::format("cairnd_history_rows{{kind=\"entries\"}} {}\n", holdings.history_rows);
  out += fmt::format("cairnd_history_rows{{kind=\"audit\"}} {}\n", holdings.audit_rows);
  family("cairnd_documents", "Collaborative documents with a log.");
  out += fmt::format("cairnd_documents {}\n", holdings.documents);
  family("cairnd_document_log_bytes", "Bytes of every document's log.");
  out += fmt::format("cairnd_document_log_bytes {}\n", holdings.document_log_bytes);
  family("cairnd_document_snapshots", "Document snapshots kept.");
  out += fmt::format("cairnd_document_snapshots {}\n", holdings.snapshots);
  family("cairnd_document_snapshot_bytes", "Bytes of the snapshots kept.");
  out += fmt::format("cairnd_document_snapshot_bytes {}\n", holdings.snapshot_bytes);
}

}  // namespace cairn::server
