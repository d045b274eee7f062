// Convergence under chaos: 3 to 5 devices (real processes) put, delete, set fields and increment
// counters on overlapping keys, syncing through the fault proxy while it drops requests before
// and after the server commits, delays and stalls them, and partitions the network; devices are
// SIGKILLed and restarted. After healing and a final sync, every device and the server hold
// identical stores, and the shared counter holds exactly the sum of every increment committed.
//
// Schedules are seeded and printed; CAIRN_CHAOS_SEED replays one, CAIRN_CHAOS_SCHEDULES sets how
// many run (200 by default; more for a soak).
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
#include "sync/chaos_support.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

using chaos::Device;
using chaos::server_snapshot;
using chaos::snapshot;

TEST(Chaos, DevicesConvergeAndCountersAreExactUnderFaults) {
  const std::uint64_t base = env_or("CAIRN_CHAOS_SEED", 31337);
  const std::uint64_t schedules = env_or("CAIRN_CHAOS_SCHEDULES", 200);
  TempDir dir;
  Cairnd cairnd(dir / "server", {"--rate-limit", "0"});
  std::size_t kills = 0, faults = 0;
  for (std::uint64_t schedule = 0; schedule < schedules; ++schedule) {
    const std::uint64_t seed = base + schedule;
    SCOPED_TRACE("chaos seed " + std::to_string(seed) + " (replay: CAIRN_CHAOS_SEED=" +
                 std::to_string(seed) + " CAIRN_CHAOS_SCHEDULES=1)");
    std::cout << "chaos schedule " << schedule << " seed " << seed << std::endl;
    std::mt19937_64 random(seed);
    FaultProxy proxy(cairnd.port());
    ApiClient user = ApiClient::guest(cairnd.port());  // one user, several devices
    proxy.set_delay(std::chrono::milliseconds(5 + random() % 20));
    proxy.set_schedule(seed, {60, 10, 15, 10, 5});

    std::vector<Device> devices(3 + random() % 3);
    for (std::size_t d = 0; d < devices.size(); ++d) {
      devices[d] = {"device" + std::to_string(d),
                    dir / ("s" + std::to_string(schedule) + "-d" + std::to_string(d) + ".db"),
                    seed * 10 + d, 10 + static_cast<std::int64_t>(random() % 20), nullptr};
    }
    const auto start = [&](Device& device) { device.start(proxy.url(), user.token()); };
    for (auto& device : devices)
      start(device);

    // Chaos while they work: partitions, outages, and a device killed and restarted.
    const auto chaos_until = std::chrono::steady_clock::now() + 150ms;
    while (std::chrono::steady_clock::now() < chaos_until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10 + random() % 30));
      switch (random() % 4) {
        case 0:
          proxy.cut();
          ++faults;
          break;
        case 1: {
          proxy.set_mode(FaultProxy::Mode::refuse);
          std::this_thread::sleep_for(std::chrono::milliseconds(random() % 40));
          proxy.set_mode(FaultProxy::Mode::pass);
          ++faults;
          break;
        }
        case 2: {
          Device& victim = devices[random() % devices.size()];
          victim.process->signal(SIGKILL);
          victim.process->wait();
          start(victim);
          ++kills;
          break;
        }
        default:
          break;
      }
    }
    for (auto& device : devices) {
      const auto status = device.process->wait(60s);
      ASSERT_TRUE(status.has_value()) << device.name << " did not finish";
    }

    // Heal, then two rounds of syncing so that every device has seen every other's changes.
    proxy.clear_schedule();
    proxy.set_mode(FaultProxy::Mode::pass);
    SyncOptions options;
    options.server = proxy.url();
    std::vector<Database> databases;
    for (auto& device : devices)
      databases.push_back(Database::open(device.db, chaos::stores()));
    for (int round = 0; round < 2; ++round) {
      for (auto& db : databases)
        SyncClient::sync_once(db, options);
    }

    // Everyone agrees with the server ...
    const json::object expected = server_snapshot(user);
    for (std::size_t d = 0; d < databases.size(); ++d) {
      EXPECT_EQ(databases[d].pending_count(), 0u) << devices[d].name;
      ASSERT_EQ(json::value(snapshot(databases[d])), json::value(expected))
          << devices[d].name << " differs from the server";
    }
    // ... and the counter is the exact sum of every increment every device committed.
    std::int64_t increments = 0;
    for (std::size_t d = 0; d < databases.size(); ++d) {
      const auto progress = databases[d].get("progress", devices[d].name);
      ASSERT_TRUE(progress) << devices[d].name << " committed nothing";
      increments += chaos::increments(devices[d].seed, progress->as_int64());
    }
    const json::value* counter = expected.at("playerStatistics").as_object().if_contains("shared");
    EXPECT_EQ(counter ? counter->at("xp").as_int64() : 0, increments);
    if (HasFailure()) {
      std::cout << "chaos failed at schedule " << schedule << " seed " << seed << '\n';
      return;
    }
  }
  std::cout << "chaos: " << schedules << " schedules from seed " << base << ", " << kills
            << " device kills, " << faults << " partitions and outages\n";
}

}  // namespace
}  // namespace cairn::test
