// What the chaos tests share: their devices (chaos_worker processes) and the snapshots they
// compare (a device's stores, the server's).
#pragma once

#include <boost/json.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "support/api_client.hpp"
#include "support/process.hpp"
#include "sync/chaos_plan.hpp"

namespace cairn::test::chaos {

inline constexpr const char* kStores[] = {"journal", "userInformation", "playerStatistics",
                                          "progress"};

// Every live entry of the synced stores, as one JSON object: {store: {key: value}}.
inline boost::json::object snapshot(const Database& db) {
  boost::json::object all;
  for (const char* store : kStores) {
    boost::json::object entries;
    db.for_each(store, [&](std::string_view key, const boost::json::value& value) {
      entries[key] = value;
      return true;
    });
    all[store] = std::move(entries);
  }
  return all;
}

// The same, as the server holds it (a full sync through `api`).
inline boost::json::object server_snapshot(ApiClient& api) {
  const ApiResult full = api.post("/api/sync/full", boost::json::object{});
  boost::json::object all;
  for (const char* store : kStores) {
    all[store] = full.body.as_object().contains(store) ? full.at(store) : boost::json::object{};
  }
  return all;
}

// One device: a chaos_worker process running `steps` planned steps against `server`.
struct Device {
  std::string name;
  std::filesystem::path db;
  std::uint64_t seed = 0;
  std::int64_t steps = 0;
  std::unique_ptr<Process> process;

  void start(const std::string& server, const std::string& token) {
    process = std::make_unique<Process>(
        std::vector<std::string>{CHAOS_WORKER_PATH, db.string(), server, token, name,
                                 std::to_string(seed), std::to_string(steps)});
  }
};

}  // namespace cairn::test::chaos
