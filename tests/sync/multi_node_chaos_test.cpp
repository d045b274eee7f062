// Convergence under chaos across several nodes: three cairnd processes on one PostgreSQL
// database, devices (real processes) spread over them, each through its node's fault proxy
// (requests dropped before and after the commit, delays, stalls, partitions, outages), devices
// SIGKILLed and restarted, nodes SIGKILLed and restarted, and PostgreSQL itself restarted once.
// Meanwhile an observer on every node follows the user's dataset on the live channel, resuming
// from its cursor whenever its node goes away.
//
// After healing and a final sync: every device and every node hold identical stores; the shared
// counter holds exactly the sum of every increment committed (each acknowledged change applied
// once); and every observer saw the feed in order (positions only ever rising) and, applying what
// it was pushed, holds exactly what the server holds.
//
// Needs PostgreSQL (CAIRN_TEST_POSTGRES; skipped without). PostgreSQL is restarted only when the
// test knows the cluster (CAIRN_TEST_POSTGRES_DIR, set by scripts/test.sh); ctest runs this test
// alone, since the restart cuts every other test's connections. Schedules are seeded and printed;
// CAIRN_CHAOS_SEED replays one, CAIRN_CHAOS_SCHEDULES sets how many run (3 by default).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "support/api_client.hpp"
#include "support/cairnd.hpp"
#include "support/fault_proxy.hpp"
#include "support/live_client.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/seeds.hpp"
#include "sync/chaos_support.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using chaos::Device;

// A cairnd node on the shared database, restarted in place (a new process, a new port) and
// reached by devices through its fault proxy.
class Node {
 public:
  Node(std::filesystem::path dir, std::string database)
      : dir_(std::move(dir)), database_(std::move(database)) {
    start();
    proxy_ = std::make_unique<FaultProxy>(port_);
  }

  void kill_and_restart() {
    cairnd_->process().signal(SIGKILL);
    cairnd_->process().wait();
    start();
    proxy_->set_target(port_);
  }

  std::uint16_t port() const { return port_; }
  FaultProxy& proxy() { return *proxy_; }

  // Waits until the node listens somewhere else than `gone` (it was restarted), at most `limit`.
  void wait_for_restart(std::uint16_t gone, std::chrono::milliseconds limit) const {
    std::unique_lock lock(mutex_);
    restarted_.wait_for(lock, limit, [&] { return port_ != gone; });
  }

 private:
  void start() {
    cairnd_.emplace(dir_, std::vector<std::string>{"--database", database_, "--rate-limit", "0"});
    {
      std::lock_guard lock(mutex_);
      port_ = cairnd_->port();
    }
    restarted_.notify_all();
  }

  std::filesystem::path dir_;
  std::string database_;
  std::optional<Cairnd> cairnd_;
  std::atomic<std::uint16_t> port_{0};
  mutable std::mutex mutex_;  // with restarted_: port_ changes
  mutable std::condition_variable restarted_;
  std::unique_ptr<FaultProxy> proxy_;
};

// A live subscriber of one node, on a thread: applies every push to its own copy of the dataset
// and checks that positions only rise; when the connection ends (its node killed), or its node's
// database is unavailable, it subscribes again from its cursor.
class Observer {
 public:
  Observer(const Node& node, std::string token)
      : node_(node), token_(std::move(token)), thread_([this] { run(); }) {}
  ~Observer() {
    stopping_ = true;
    thread_.join();
  }

  // Waits until the observer has been pushed the feed up to `position`, at most `limit`; its
  // cursor then.
  std::uint64_t wait_for_cursor(std::uint64_t position, std::chrono::milliseconds limit) const {
    std::unique_lock lock(mutex_);
    advanced_.wait_for(lock, limit, [&] { return cursor_ >= position; });
    return cursor_;
  }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
  }
  // {store: {key: value}} of what is live in the pushes received.
  json::object state() const {
    std::lock_guard lock(mutex_);
    json::object all;
    for (const char* store : chaos::kStores) {
      json::object entries;
      if (auto it = entries_.find(store); it != entries_.end()) {
        for (const auto& [key, value] : it->second)
          entries[key] = value;
      }
      all[store] = std::move(entries);
    }
    return all;
  }

 private:
  void run() {
    while (!stopping_) {
      const std::uint16_t port = node_.port();
      try {
        LiveClient live(port, token_);
        std::uint64_t from = 0;
        {
          std::lock_guard lock(mutex_);
          from = cursor_;
        }
        live.send({{"type", "subscribe"}, {"cursor", std::to_string(from)}});
        while (!stopping_) {
          const std::optional<std::string> text = live.socket().receive(50ms);
          if (text) take(json::parse(*text).as_object());
        }
      } catch (const std::exception&) {
        // Its node went away: subscribe again from the cursor once it is back (or, when the
        // connection failed otherwise, PostgreSQL restarting say, after a while).
        node_.wait_for_restart(port, 200ms);
      }
    }
  }

  void take(const json::object& message) {
    const std::string_view type = message.at("type").as_string();
    std::lock_guard lock(mutex_);
    if (type == "error" && message.at("code") == "unavailable") {
      // Its subscribe came while PostgreSQL was restarting: as any client, it tries again.
      throw std::runtime_error("the node's database was unavailable");
    }
    if (type == "error") {
      violations_.push_back("error: " + json::serialize(message));
    } else if (type == "changes") {
      for (const json::value& item : message.at("changes").as_array()) {
        const std::uint64_t seq = item.at("seq").to_number<std::uint64_t>();
        if (seq <= last_seq_) {
          violations_.push_back("position " + std::to_string(seq) + " after " +
                                std::to_string(last_seq_));
        }
        last_seq_ = seq;
        auto& store = entries_[std::string(item.at("store").as_string())];
        const std::string key(item.at("key").as_string());
        if (const json::value* value = item.as_object().if_contains("value")) {
          store[key] = *value;
        } else {
          store.erase(key);
        }
      }
      cursor_ = std::stoull(std::string(message.at("cursor").as_string()));
      advanced_.notify_all();
    }
  }

  const Node& node_;
  const std::string token_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;                  // guards what follows
  mutable std::condition_variable advanced_;  // cursor_ moved
  std::uint64_t cursor_ = 0;
  std::uint64_t last_seq_ = 0;
  std::map<std::string, std::map<std::string, json::value>> entries_;
  std::vector<std::string> violations_;
  std::thread thread_;  // last: starts once everything else is ready
};

// Restarts the test's PostgreSQL cluster (scripts/postgres-test-cluster.sh restart).
bool restart_postgres() {
  const char* dir = std::getenv("CAIRN_TEST_POSTGRES_DIR");
  if (!dir || !*dir) return false;
  const RunResult restarted = run({CAIRN_CLUSTER_SCRIPT, "restart", dir});
  EXPECT_EQ(restarted.status, 0) << restarted.out << restarted.err;
  return true;
}

TEST(MultiNodeChaos, DevicesAndNodesConvergeAndEveryNodesSubscribersSeeEveryChange) {
  SKIP_WITHOUT_POSTGRES("several nodes");
  const std::uint64_t base = env_or("CAIRN_CHAOS_SEED", 4242);
  const std::uint64_t schedules = env_or("CAIRN_CHAOS_SCHEDULES", 3);
  TempDir dir;
  const std::string database = new_postgres_database();
  std::vector<std::unique_ptr<Node>> nodes;
  for (int n = 0; n < 3; ++n)
    nodes.push_back(std::make_unique<Node>(dir / ("node" + std::to_string(n)), database));
  std::size_t device_kills = 0, node_kills = 0, faults = 0;
  bool postgres_restarted = false;

  for (std::uint64_t schedule = 0; schedule < schedules; ++schedule) {
    const std::uint64_t seed = base + schedule;
    SCOPED_TRACE("multi-node chaos seed " + std::to_string(seed) + " (replay: CAIRN_CHAOS_SEED=" +
                 std::to_string(seed) + " CAIRN_CHAOS_SCHEDULES=1)");
    std::cout << "multi-node chaos schedule " << schedule << " seed " << seed << std::endl;
    std::mt19937_64 random(seed);
    const std::string token = ApiClient::guest(nodes[0]->port()).token();  // one user, many devices
    // The user's API through a node as it is now (nodes move to new ports when restarted).
    const auto api = [&](std::size_t n = 0) { return ApiClient(nodes[n]->port(), token); };
    std::vector<std::unique_ptr<Observer>> observers;
    for (auto& node : nodes)
      observers.push_back(std::make_unique<Observer>(*node, token));
    for (auto& node : nodes) {
      node->proxy().set_delay(std::chrono::milliseconds(5 + random() % 20));
      node->proxy().set_schedule(seed, {60, 10, 15, 10, 5});
    }

    std::vector<Device> devices(4 + random() % 3);
    for (std::size_t d = 0; d < devices.size(); ++d) {
      devices[d] = {"device" + std::to_string(d),
                    dir / ("s" + std::to_string(schedule) + "-d" + std::to_string(d) + ".db"),
                    seed * 10 + d, 10 + static_cast<std::int64_t>(random() % 20), nullptr};
    }
    const auto node_of = [&](std::size_t d) -> Node& { return *nodes[d % nodes.size()]; };
    const auto start = [&](std::size_t d) { devices[d].start(node_of(d).proxy().url(), token); };
    for (std::size_t d = 0; d < devices.size(); ++d)
      start(d);

    // Chaos while they work. PostgreSQL restarts once, in the first schedule that can.
    if (!postgres_restarted && schedule == 0) postgres_restarted = restart_postgres();
    const auto chaos_until = std::chrono::steady_clock::now() + 300ms;
    while (std::chrono::steady_clock::now() < chaos_until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10 + random() % 30));
      Node& node = *nodes[random() % nodes.size()];
      switch (random() % 5) {
        case 0:
          node.proxy().cut();
          ++faults;
          break;
        case 1:
          node.proxy().set_mode(FaultProxy::Mode::refuse);
          std::this_thread::sleep_for(std::chrono::milliseconds(random() % 40));
          node.proxy().set_mode(FaultProxy::Mode::pass);
          ++faults;
          break;
        case 2: {
          const std::size_t victim = random() % devices.size();
          devices[victim].process->signal(SIGKILL);
          devices[victim].process->wait();
          start(victim);
          ++device_kills;
          break;
        }
        case 3:
          node.kill_and_restart();
          ++node_kills;
          break;
        default:
          break;
      }
    }
    for (auto& device : devices) {
      const auto status = device.process->wait(120s);
      ASSERT_TRUE(status.has_value()) << device.name << " did not finish";
    }

    // Heal, then two rounds of syncing (each device through its node) so that every device has
    // seen every other's changes.
    std::vector<Database> databases;
    for (std::size_t d = 0; d < devices.size(); ++d) {
      node_of(d).proxy().clear_schedule();
      node_of(d).proxy().set_mode(FaultProxy::Mode::pass);
      databases.push_back(Database::open(devices[d].db, chaos::stores()));
    }
    for (int round = 0; round < 2; ++round) {
      for (std::size_t d = 0; d < databases.size(); ++d) {
        // The token each device kept, even one that never reached a server (PostgreSQL was down
        // for its whole run).
        SyncOptions options;
        options.server = node_of(d).proxy().url();
        SyncClient::sync_once(databases[d], options);
      }
    }

    // Every node answers the same, and every device agrees ...
    ApiClient user = api();
    const json::object expected = chaos::server_snapshot(user);
    for (std::size_t n = 1; n < nodes.size(); ++n) {
      ApiClient through = api(n);
      ASSERT_EQ(json::value(chaos::server_snapshot(through)), json::value(expected))
          << "node " << n << " differs";
    }
    for (std::size_t d = 0; d < databases.size(); ++d) {
      EXPECT_EQ(databases[d].pending_count(), 0u) << devices[d].name;
      const SyncStatus status = SyncClient::stored_status(databases[d]);
      ASSERT_EQ(json::value(chaos::snapshot(databases[d])), json::value(expected))
          << devices[d].name << " differs from the server; it synced as user " << status.user_id
          << " with dataset " << status.dataset
          << " (the test's user: " << json::serialize(user.get("/api/me").body) << ")";
    }
    // ... the counter is the exact sum of every increment every device committed ...
    std::int64_t increments = 0;
    for (std::size_t d = 0; d < databases.size(); ++d) {
      const auto progress = databases[d].get("progress", devices[d].name);
      ASSERT_TRUE(progress) << devices[d].name << " committed nothing";
      increments += chaos::increments(devices[d].seed, progress->as_int64());
    }
    const json::value* counter = expected.at("playerStatistics").as_object().if_contains("shared");
    EXPECT_EQ(counter ? counter->at("xp").as_int64() : 0, increments);
    // ... and every node's observer was pushed the whole feed, in order.
    const std::uint64_t last = [&] {
      std::string cursor = "0";
      for (;;) {
        const ApiResult page = user.get("/api/sync/changes?since=" + cursor);
        cursor = std::string(page.at("cursor").as_string());
        if (!page.at("hasMore").as_bool()) return std::stoull(cursor);
      }
    }();
    for (std::size_t n = 0; n < observers.size(); ++n) {
      EXPECT_EQ(observers[n]->wait_for_cursor(last, 30s), last)
          << "observer of node " << n << " fell behind";
      EXPECT_EQ(observers[n]->violations(), std::vector<std::string>{}) << "node " << n;
      EXPECT_EQ(json::value(observers[n]->state()), json::value(expected))
          << "what node " << n << " pushed differs from the server";
    }
    if (HasFailure()) {
      std::cout << "multi-node chaos failed at schedule " << schedule << " seed " << seed << '\n';
      return;
    }
  }
  std::cout << "multi-node chaos: " << schedules << " schedules from seed " << base << ", "
            << device_kills << " device kills, " << node_kills << " node kills, " << faults
            << " partitions and outages, PostgreSQL "
            << (postgres_restarted ? "restarted once"
                                   : "not restarted (no CAIRN_TEST_POSTGRES_DIR)")
            << '\n';
}

}  // namespace
}  // namespace cairn::test
