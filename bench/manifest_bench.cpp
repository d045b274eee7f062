// Manifest-first hydration (issue 15; docs/sync.md, "Large stores: manifests"): a store of about
// 50 MB hydrated by manifest, 1% of its entries then changed at random on another device. Measured
// in one run against an in-process cairnd (SQLite, loopback HTTP):
//   - the refresh after the TTL: bytes received (manifest and chunks) and time, beside two full
//     downloads of the same store: a new device's first hydration by manifest (every chunk), and
//     the change feed read from the beginning (GET /api/sync/changes, every page);
//   - hydration of the store from the device's local copy (Database::open) beside the raw SQLite
//     floor on the same file (SELECT + Boost.JSON parse), as hydration_bench measures it.
//
//   build/release/bench/manifest_bench [--mb 50] [--entry-bytes 1000] [--changed 1] [--span 1]
//                                      [--seed 42] [--runs 5]
//
// Goals: the refresh moves <= 2% of the store's bytes; hydration <= 1.5x the floor.
#include <cstring>
#include <iostream>
#include <numeric>
#include <optional>

#include "bench_support.hpp"
#include "support/api_client.hpp"
#include "support/in_process_cairnd.hpp"
#include "support/manual_clock.hpp"

namespace cairn::bench {
namespace {
namespace json = boost::json;

struct Settings {
  std::size_t mb = 50;
  std::size_t entry_bytes = 1000;
  double changed_percent = 1;
  std::uint32_t span = 1;
  std::uint64_t seed = 42;
  int runs = 5;
};

DatabaseOptions app(const Settings& settings, std::shared_ptr<Clock> clock) {
  DatabaseOptions options;
  StoreSchema graph{"graph", 1, MergePolicy::whole_entry()};
  graph.manifest = ManifestHydration{std::chrono::minutes(30), settings.span};
  options.stores = {graph};
  options.limits.max_store_bytes = std::size_t{1} << 31;
  options.clock = std::move(clock);
  return options;
}

// A node of a graph: its edges, padded with a random label to about `bytes` of JSON.
json::value node(std::mt19937_64& random, std::size_t bytes, std::uint64_t version) {
  json::array edges;
  for (int i = 0; i < 8; ++i)
    edges.push_back(static_cast<std::int64_t>(random() % 100000));
  std::string label(bytes > 160 ? bytes - 160 : 16, 'x');
  for (char& c : label)
    c = static_cast<char>('a' + random() % 26);
  return json::object{{"edges", std::move(edges)}, {"version", version}, {"label", label}};
}

std::string node_key(std::size_t n) {
  char key[32];
  std::snprintf(key, sizeof key, "node:%08zu", n);
  return key;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) {
  using namespace cairn;
  using namespace cairn::bench;
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--mb") settings.mb = std::stoul(argv[i + 1]);
    if (flag == "--entry-bytes") settings.entry_bytes = std::stoul(argv[i + 1]);
    if (flag == "--changed") settings.changed_percent = std::stod(argv[i + 1]);
    if (flag == "--span") settings.span = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
    if (flag == "--seed") settings.seed = std::stoull(argv[i + 1]);
    if (flag == "--runs") settings.runs = std::stoi(argv[i + 1]);
  }
  ScratchDir dir;
  auto clock = std::make_shared<test::ManualClock>();
  server::ServerOptions server_options;
  server_options.storage.data_dir = dir.path() / "server";
  server_options.storage.durability = Durability::normal;
  server_options.rate_limit = 0;
  server_options.clock = clock;
  server_options.max_value_bytes = 1 << 20;
  test::InProcessCairnd cairnd(std::move(server_options));
  const test::ApiClient owner = test::ApiClient::guest(cairnd.port());
  SyncOptions sync_options;
  sync_options.server = "http://127.0.0.1:" + std::to_string(cairnd.port());
  sync_options.token = owner.token();
  sync_options.request_timeout = std::chrono::seconds(120);
  const auto sync = [&](Database& db) { return SyncClient::sync_once(db, sync_options); };

  // The store, written on one device and synced.
  std::mt19937_64 random(settings.seed);
  std::size_t entries = 0;
  {
    Database writer = Database::open(dir.path() / "writer.db", app(settings, clock));
    while (writer.store_info("graph").bytes < settings.mb * 1'000'000) {
      Transaction txn = writer.transaction();
      for (int i = 0; i < 2000; ++i, ++entries)
        txn.put("graph", node_key(entries), node(random, settings.entry_bytes, 0));
      txn.commit();
    }
    sync(writer);
  }
  Database writer = Database::open(dir.path() / "writer.db", app(settings, clock));
  const std::size_t store_bytes = writer.store_info("graph").bytes;

  // Full download 1: a new device hydrates by manifest, every chunk.
  std::optional<Database> device_db =
      Database::open(dir.path() / "device.db", app(settings, clock));
  Database& device = *device_db;
  auto start = Stopwatch::now();
  const SyncReport cold = sync(device);
  const double cold_ms = ms_since(start);
  if (device.size("graph") != entries) return 1;

  // Full download 2: the change feed from its beginning, every page.
  test::HttpClient http("127.0.0.1", cairnd.port());
  const std::map<std::string, std::string> auth{{"Authorization", "Bearer " + owner.token()}};
  std::uint64_t feed_bytes = 0;
  start = Stopwatch::now();
  for (std::string cursor = "0";;) {
    const auto page = http.request("GET", "/api/sync/changes?since=" + cursor, "", auth);
    if (page.status != 200) return 1;
    feed_bytes += page.body.size();
    const json::object body = json::parse(page.body).as_object();
    cursor = std::string(body.at("cursor").as_string());
    if (!body.at("hasMore").as_bool()) break;
  }
  const double feed_ms = ms_since(start);

  // 1% of the entries change at random on the writer; the device refreshes after its TTL.
  const auto changed = static_cast<std::size_t>(entries * settings.changed_percent / 100);
  {
    std::vector<std::size_t> order(entries);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), random);
    Transaction txn = writer.transaction();
    for (std::size_t i = 0; i < changed; ++i)
      txn.put("graph", node_key(order[i]), node(random, settings.entry_bytes, 1));
    txn.commit();
    sync(writer);
  }
  clock->advance(31 * 60 * 1000);
  start = Stopwatch::now();
  const SyncReport refresh = sync(device);
  const double refresh_ms = ms_since(start);
  if (device.get("graph", node_key(0)) != writer.get("graph", node_key(0))) return 1;

  // Hydration from the local copy, beside the raw SQLite floor on the same file.
  const auto device_path = device.path();
  device_db.reset();
  std::vector<double> open_ms, floor_ms;
  floor_load(device_path, 1);                      // warm the page cache
  for (int run = 0; run < settings.runs; ++run) {  // alternate: both see the same noise
    start = Stopwatch::now();
    {
      Database opened = Database::open(device_path, app(settings, clock));
      open_ms.push_back(ms_since(start));
      if (opened.size("graph") != entries) return 1;
    }
    start = Stopwatch::now();
    if (floor_load(device_path, 1) != entries) return 1;
    floor_ms.push_back(ms_since(start));
  }

  const auto percent = [&](std::uint64_t bytes) { return 100.0 * bytes / store_bytes; };
  std::printf(
      "manifest-first hydration: store \"graph\" of %zu entries (~%zu B), %.1f MB of keys "
      "and values; chunks of ~%u entries; %zu entries (%.1f%%) changed at random, seed "
      "%llu\n\n",
      entries, settings.entry_bytes, store_bytes / 1e6, settings.span, changed,
      settings.changed_percent, static_cast<unsigned long long>(settings.seed));
  std::printf("%-44s %12s %9s %10s %8s\n", "", "bytes", "% store", "ms", "chunks");
  std::printf("%-44s %12llu %8.2f%% %10.1f %8zu\n", "full download: first hydration by manifest",
              static_cast<unsigned long long>(cold.manifest_bytes), percent(cold.manifest_bytes),
              cold_ms, cold.chunks);
  std::printf("%-44s %12llu %8.2f%% %10.1f %8s\n", "full download: change feed from 0",
              static_cast<unsigned long long>(feed_bytes), percent(feed_bytes), feed_ms, "-");
  std::printf("%-44s %12llu %8.2f%% %10.1f %8zu\n", "refresh after the TTL (manifest delta)",
              static_cast<unsigned long long>(refresh.manifest_bytes),
              percent(refresh.manifest_bytes), refresh_ms, refresh.chunks);
  std::printf("\nrefresh / full download by manifest: %.2f%% of the bytes, %.2fx the time\n",
              100.0 * refresh.manifest_bytes / cold.manifest_bytes, refresh_ms / cold_ms);
  const double o = median(open_ms), f = median(floor_ms);
  std::printf(
      "hydration from the local copy (median of %d): Database::open %.1f ms, raw SQLite "
      "floor %.1f ms, %.2fx\n",
      settings.runs, o, f, o / f);
  std::printf(
      "\nreproduce: build/release/bench/manifest_bench --mb %zu --entry-bytes %zu "
      "--changed %g --span %u --seed %llu --runs %d\n",
      settings.mb, settings.entry_bytes, settings.changed_percent, settings.span,
      static_cast<unsigned long long>(settings.seed), settings.runs);
  return 0;
}
