// Sync through a real cairnd on loopback: the live channel (GET /api/live), each figure beside
// the HTTP or polling one measured in the same run:
//   1. draining 100 and 100,000 pending changes: over the live channel (batches in flight) and
//      over HTTP (one round trip per batch);
//   2. commit on device A -> visible on device B, with 1,000 other idle subscribers connected:
//      B live (push) and B polling every 20 ms;
//   3. one change fanned out to 1,000 subscribers of one dataset, until the last has it;
//   4. 10,000 concurrent live connections held by one cairnd, and its memory per connection.
//
//   build/release/bench/live_bench [--large N] [--trials N] [--subscribers N]
//                                  [--connections N] [--durability full|normal]
//                                  [--only drain|push|fan-out|connections]
//
// Goals (issue 5, HTTP): 100 pending drain in < 50 ms, 100,000 in < 10 s. (issue 10): 100,000
// pending drain in < 2 s; A -> B p50 < 2 ms, p99 < 10 ms; fan-out to 1,000 p99 < 50 ms; <= 32 KiB
// of server memory per connection. The benchmark raises its own file-descriptor limit (to the hard
// limit), which cairnd inherits; nothing system-wide.
#include <fmt/format.h>
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "bench_support.hpp"
#include "support/api_client.hpp"
#include "support/cairnd.hpp"

namespace cairn::bench {
namespace {
using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;

DatabaseOptions app() {
  DatabaseOptions options;
  options.stores = {{"journal", 1, MergePolicy::whole_entry()}};
  options.limits.max_store_bytes = std::size_t{1} << 31;
  return options;
}

// Drains `count` pending journal puts: over the live channel (a SyncClient, from its start until
// the outbox is empty) or over HTTP (one sync_once); returns milliseconds.
double drain(const std::string& server, const std::filesystem::path& path, std::size_t count,
             bool live) {
  Database db = Database::open(path, app());
  SyncOptions options;
  options.server = server;
  options.live = live;
  SyncClient::sync_once(db, options);  // the guest and the first (empty) pull, not timed
  fill_journal(db, count, 3);
  const auto start = Stopwatch::now();
  if (live) {
    SyncClient sync(db, options);
    if (!sync.wait_until_synced(120s) || !sync.status().live) std::cerr << "live drain failed\n";
  } else {
    SyncClient::sync_once(db, options);
  }
  const double ms = ms_since(start);
  if (db.pending_count() != 0) std::cerr << "drain incomplete\n";
  return ms;
}

// Many live connections on one thread (one io_context, one file descriptor each), subscribed to
// one dataset; each notes when a "changes" message reaches it.
class Swarm {
 public:
  Swarm(std::uint16_t port, const std::string& token, const std::string& dataset, std::size_t count)
      : port_(port), token_(token), dataset_(dataset), arrived_(count) {
    for (std::size_t i = 0; i < count; ++i)
      connections_.push_back(std::make_unique<Connection>(ioc_));
    // In waves, so that the listen backlog is never the limit.
    for (std::size_t first = 0; first < count; first += 500) {
      pending_ = std::min<std::size_t>(500, count - first);
      for (std::size_t i = first; i < first + pending_; ++i)
        open(i);
      ioc_.restart();
      while (pending_ > 0 && failed_ == 0)
        ioc_.run_one();
      if (failed_ > 0) throw std::runtime_error("a swarm connection failed: " + failure_);
    }
    ioc_.restart();  // it stopped when the last wave's work ran out
    for (std::size_t i = 0; i < count; ++i)
      read(i);
    guard_.emplace(ioc_.get_executor());
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Swarm() {
    guard_.reset();
    ioc_.stop();
    thread_.join();
  }

  // Forgets earlier arrivals; the next `changes` message each connection gets is timed.
  void arm() {
    std::lock_guard lock(mutex_);
    std::fill(arrived_.begin(), arrived_.end(), Stopwatch::time_point{});
    remaining_ = arrived_.size();
  }
  // When the last connection had it, or nothing after `timeout`.
  std::optional<Stopwatch::time_point> wait_all(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!all_.wait_for(lock, timeout, [&] { return remaining_ == 0; })) {
      std::fprintf(stderr, "%zu of %zu did not get it (%zu reads failed: %s)\n", remaining_,
                   arrived_.size(), failed_, failure_.c_str());
      return std::nullopt;
    }
    return *std::max_element(arrived_.begin(), arrived_.end());
  }

 private:
  struct Connection {
    explicit Connection(asio::io_context& ioc) : ws(ioc) {}
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
  };

  void fail(const beast::error_code& ec) {
    ++failed_;
    failure_ = ec.message();
  }

  void open(std::size_t i) {
    Connection& c = *connections_[i];
    const asio::ip::tcp::endpoint server(asio::ip::make_address("127.0.0.1"), port_);
    beast::get_lowest_layer(c.ws).async_connect(server, [this, &c](beast::error_code ec) {
      if (ec) return fail(ec);
      c.ws.set_option(websocket::stream_base::decorator([this](websocket::request_type& req) {
        req.set(beast::http::field::authorization, "Bearer " + token_);
      }));
      c.ws.async_handshake("127.0.0.1", "/api/live", [this, &c](beast::error_code ec) {
        if (ec) return fail(ec);
        auto subscribe =
            std::make_shared<std::string>(R"({"type":"subscribe","dataset":")" + dataset_ + "\"}");
        c.ws.async_write(asio::buffer(*subscribe),
                         [this, &c, subscribe](beast::error_code ec, std::size_t) {
                           if (ec) return fail(ec);
                           c.ws.async_read(c.buffer, [this, &c](beast::error_code ec, std::size_t) {
                             if (ec) return fail(ec);
                             c.buffer.consume(c.buffer.size());  // "subscribed"
                             --pending_;
                           });
                         });
      });
    });
  }

  void read(std::size_t i) {
    Connection& c = *connections_[i];
    c.ws.async_read(c.buffer, [this, i, &c](beast::error_code ec, std::size_t) {
      if (ec) return fail(ec);
      const auto now = Stopwatch::now();
      const std::string_view text(static_cast<const char*>(c.buffer.data().data()),
                                  c.buffer.size());
      if (text.find(R"("type":"changes")") != std::string_view::npos) {
        std::lock_guard lock(mutex_);
        if (arrived_[i] == Stopwatch::time_point{} && remaining_ > 0) {
          arrived_[i] = now;
          if (--remaining_ == 0) all_.notify_all();
        }
      }
      c.buffer.consume(c.buffer.size());
      read(i);
    });
  }

  std::uint16_t port_;
  std::string token_;
  std::string dataset_;
  asio::io_context ioc_{1};
  std::vector<std::unique_ptr<Connection>> connections_;
  std::size_t pending_ = 0;
  std::size_t failed_ = 0;
  std::string failure_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable all_;
  std::vector<Stopwatch::time_point> arrived_;
  std::size_t remaining_ = 0;
};

// Commit on A -> visible on B, `trials` times; B live or polling every 20 ms.
std::vector<double> a_to_b(const std::string& server, const std::filesystem::path& dir,
                           const std::string& token, bool live, int trials) {
  SyncOptions a_options;
  a_options.server = server;
  a_options.token = token;
  a_options.debounce = 0ms;
  a_options.interval = std::chrono::hours(1);
  SyncOptions b_options = a_options;
  b_options.live = live;
  if (!live) b_options.interval = 20ms;
  const std::string tag = live ? "live" : "poll";
  Database a = Database::open(dir / ("a-" + tag + ".db"), app());
  Database b = Database::open(dir / ("b-" + tag + ".db"), app());
  std::mutex mutex;
  std::condition_variable seen;
  std::string last_seen;
  Subscription subscription = b.subscribe("journal", [&](const ChangeSet& changes) {
    std::lock_guard lock(mutex);
    for (const auto& change : changes.changes)
      last_seen = change.key;
    seen.notify_all();
  });
  std::vector<double> latencies;
  SyncClient a_sync(a, a_options);
  SyncClient b_sync(b, b_options);
  a_sync.wait_until_synced(10s);
  b_sync.wait_until_synced(10s);
  for (int trial = -10; trial < trials; ++trial) {  // ten to warm up
    const std::string key = tag + "/" + std::to_string(trial);
    const auto start = Stopwatch::now();
    a.put("journal", key, trial);
    std::unique_lock lock(mutex);
    if (!seen.wait_for(lock, 10s, [&] { return last_seen == key; })) {
      std::cerr << "trial " << trial << " never arrived\n";
      continue;
    }
    if (trial >= 0) latencies.push_back(ms_since(start));
  }
  return latencies;
}

std::size_t rss_kib(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) {
  using namespace cairn;
  using namespace cairn::bench;
  std::size_t large = 100'000;
  int trials = 200;
  std::size_t subscribers = 1000;
  std::size_t connections = 10'000;
  std::string durability = "full";
  std::string only;  // one section, for profiling
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--only") == 0) only = argv[i + 1];
    if (std::strcmp(argv[i], "--durability") == 0) durability = argv[i + 1];
    if (std::strcmp(argv[i], "--large") == 0) large = std::stoul(argv[i + 1]);
    if (std::strcmp(argv[i], "--trials") == 0) trials = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--subscribers") == 0) subscribers = std::stoul(argv[i + 1]);
    if (std::strcmp(argv[i], "--connections") == 0) connections = std::stoul(argv[i + 1]);
  }
  // Our own file-descriptor limit, up to the hard one; cairnd inherits it.
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  if (connections + 200 > files.rlim_cur) {
    std::fprintf(stderr, "--connections %zu needs more file descriptors than the limit (%llu)\n",
                 connections, static_cast<unsigned long long>(files.rlim_cur));
    return 2;
  }

  ScratchDir dir;
  const std::string many = std::to_string(connections + subscribers + 100);
  // The server merges the journal as the devices do (stores it is not told of merge per field).
  const std::filesystem::path schema = dir.path() / "schema.json";
  std::ofstream(schema) << R"({"stores": {"journal": {"version": 1, "policy": {"merge": "lww"}}}})";
  test::Cairnd cairnd(dir.path() / "server",
                      {"--rate-limit", "0", "--durability", durability, "--schema", schema.string(),
                       "--live-max-connections", many, "--live-max-connections-per-user", many,
                       "--live-ping-interval-ms", "600000"});
  std::printf("cairnd --durability %s, file descriptors %llu\n\n", durability.c_str(),
              static_cast<unsigned long long>(files.rlim_cur));
  const std::string server = "http://127.0.0.1:" + std::to_string(cairnd.port());

  const auto run = [&](std::string_view section) { return only.empty() || only == section; };

  // 1. Drains, live and HTTP alternating.
  if (run("drain")) {
    std::vector<double> small_live, small_http;
    for (int run = 0; run < 5; ++run) {
      const std::string n = std::to_string(run);
      small_live.push_back(drain(server, dir.path() / ("small-live" + n + ".db"), 100, true));
      small_http.push_back(drain(server, dir.path() / ("small-http" + n + ".db"), 100, false));
    }
    std::vector<double> big_live, big_http;
    for (int run = 0; run < 3; ++run) {
      const std::string n = std::to_string(run);
      big_live.push_back(drain(server, dir.path() / ("large-live" + n + ".db"), large, true));
      big_http.push_back(drain(server, dir.path() / ("large-http" + n + ".db"), large, false));
    }
    const auto range = [](const std::vector<double>& runs) {
      return fmt::format("{:.0f}-{:.0f}", *std::min_element(runs.begin(), runs.end()),
                         *std::max_element(runs.begin(), runs.end()));
    };
    std::printf("drain 100 pending (median of 5)      live %8.1f ms   http %8.1f ms\n",
                median(small_live), median(small_http));
    std::printf(
        "drain %zu pending (median of 3)   live %8.1f ms   http %8.1f ms  (%.1fx; ranges %s and "
        "%s ms)\n",
        large, median(big_live), median(big_http), median(big_http) / median(big_live),
        range(big_live).c_str(), range(big_http).c_str());
  }

  // 2. A -> B with idle subscribers of another dataset connected meanwhile.
  if (run("push")) {
    test::ApiClient idle_user = test::ApiClient::guest(cairnd.port());
    test::ApiClient user = test::ApiClient::guest(cairnd.port());
    std::vector<double> pushed, polled;
    {
      Swarm idle(cairnd.port(), idle_user.token(), idle_user.dataset_id(), subscribers);
      pushed = a_to_b(server, dir.path(), user.token(), true, trials);
      polled = a_to_b(server, dir.path(), user.token(), false, std::max(trials / 4, 5));
    }
    std::printf("commit on A -> visible on B, %zu idle subscribers connected:\n", subscribers);
    std::printf("  B live (push)          p50 %6.2f ms  p99 %6.2f ms  (%zu trials)\n",
                percentile(pushed, 0.5), percentile(pushed, 0.99), pushed.size());
    std::printf("  B polling every 20 ms  p50 %6.2f ms  p99 %6.2f ms  (%zu trials)\n",
                percentile(polled, 0.5), percentile(polled, 0.99), polled.size());
  }

  // 3. Fan-out: one change over HTTP, until the last of the subscribers has it.
  if (run("fan-out")) {
    std::vector<double> fan_out;
    {
      test::ApiClient writer = test::ApiClient::guest(cairnd.port());
      Swarm swarm(cairnd.port(), writer.token(), writer.dataset_id(), subscribers);
      for (int trial = -5; trial < 50; ++trial) {
        swarm.arm();
        const auto start = Stopwatch::now();
        writer.post("/api/sync/patch",
                    boost::json::object{{"changes", boost::json::array{boost::json::object{
                                                        {"store", "journal"},
                                                        {"key", "fan/" + std::to_string(trial)},
                                                        {"op", "put"},
                                                        {"value", trial}}}}});
        const auto last = swarm.wait_all(10s);
        if (!last) {
          std::cerr << "fan-out trial " << trial << " did not reach everyone\n";
          continue;
        }
        if (trial >= 0) {
          fan_out.push_back(std::chrono::duration<double, std::milli>(*last - start).count());
        }
      }
    }
    std::printf("one change to %zu subscribers of a dataset, until the last has it:\n",
                subscribers);
    std::printf("  p50 %6.2f ms  p99 %6.2f ms  (%zu trials; from the HTTP write's start)\n",
                percentile(fan_out, 0.5), percentile(fan_out, 0.99), fan_out.size());
  }

  // 4. Connections held, and cairnd's memory for them.
  if (run("connections")) {
    test::ApiClient holder = test::ApiClient::guest(cairnd.port());
    const std::size_t before = rss_kib(cairnd.process().pid());
    const auto start = Stopwatch::now();
    Swarm held(cairnd.port(), holder.token(), holder.dataset_id(), connections);
    const double opened = ms_since(start);
    const std::size_t after = rss_kib(cairnd.process().pid());
    std::printf(
        "%zu live connections held (opened and subscribed in %.0f ms): cairnd RSS %zu -> "
        "%zu KiB, %.1f KiB per connection\n",
        connections, opened, before, after,
        static_cast<double>(after - before) / static_cast<double>(connections));
  }
  std::cout << "\nreproduce: build/release/bench/live_bench --large " << large << " --trials "
            << trials << " --subscribers " << subscribers << " --connections " << connections
            << " --durability " << durability << (only.empty() ? "" : " --only " + only) << '\n';
  return 0;
}
