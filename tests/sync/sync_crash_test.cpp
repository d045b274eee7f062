// Crash atomicity end to end: a device is SIGKILLed at random moments while it commits and syncs
// (before a request is sent, after the server applied it, while the acknowledgement is being
// written), over many seeded trials. After every restart it resumes; at the end the server holds
// every change exactly once: the counter is the exact sum of the committed increments, and the
// device and the server agree. CAIRN_SYNC_CRASH_SEED / CAIRN_SYNC_CRASH_TRIALS replay or extend.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <csignal>
#include <cstdlib>
#include <random>
#include <thread>

#include "support/api_client.hpp"
#include "support/cairnd.hpp"
#include "support/fault_proxy.hpp"
#include "support/process.hpp"
#include "support/seeds.hpp"
#include "sync/chaos_plan.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

TEST(SyncCrash, EveryChangeReachesTheServerExactlyOnceAcrossKills) {
  const std::uint64_t seed = env_or("CAIRN_SYNC_CRASH_SEED", 4711);
  const std::uint64_t trials = env_or("CAIRN_SYNC_CRASH_TRIALS", 60);
  std::cout << "sync crash test: seed " << seed << ", " << trials << " kills\n";
  TempDir dir;
  Cairnd cairnd(dir / "server", {"--rate-limit", "0"});
  FaultProxy proxy(cairnd.port());
  proxy.set_mode(FaultProxy::Mode::delay);  // requests take long enough to be killed in flight
  proxy.set_delay(5ms);
  ApiClient user = ApiClient::guest(cairnd.port());
  std::mt19937_64 random(seed);
  const auto db = dir / "device.db";
  const std::int64_t steps = 100'000;  // more than it can reach: it is always killed mid-run
  for (std::uint64_t trial = 0; trial < trials; ++trial) {
    SCOPED_TRACE("sync crash trial " + std::to_string(trial) + " (seed " + std::to_string(seed) +
                 ")");
    Process device({CHAOS_WORKER_PATH, db.string(), proxy.url(), user.token(), "device",
                    std::to_string(seed), std::to_string(steps)});
    ASSERT_TRUE(device.read_line(20s)) << "the device did not start";
    std::this_thread::sleep_for(std::chrono::microseconds(2'000 + random() % 40'000));
    device.signal(SIGKILL);
    ASSERT_TRUE(device.wait());
    while (device.read_line(50ms)) {
    }
  }

  proxy.set_mode(FaultProxy::Mode::pass);
  Database device = Database::open(db, chaos::stores());
  SyncOptions options;
  options.server = proxy.url();
  SyncClient::sync_once(device, options);
  SyncClient::sync_once(device, options);
  EXPECT_EQ(device.pending_count(), 0u);
  const std::int64_t committed = device.get("progress", "device")->as_int64();
  EXPECT_GT(committed, 0);
  const ApiResult server = user.post("/api/sync/full", json::object{});
  EXPECT_EQ(server.at("playerStatistics").at("shared").at("xp").as_int64(),
            chaos::increments(seed, committed));
  EXPECT_EQ(device.get("playerStatistics", "shared"), server.at("playerStatistics").at("shared"));
  const json::object journal = server.body.as_object().contains("journal")
                                   ? server.at("journal").as_object()
                                   : json::object{};
  for (const auto& [key, value] : journal)
    EXPECT_EQ(device.get("journal", key), value) << key;
  EXPECT_EQ(device.size("journal"), journal.size());
  std::cout << "sync crash test: " << committed << " steps committed across " << trials
            << " kills\n";
}

}  // namespace
}  // namespace cairn::test
