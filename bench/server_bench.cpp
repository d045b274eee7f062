// cairnd throughput: changes applied per second by 1, 10 and 100 concurrent clients over loopback,
// each sending batched patches (Cairn's form, numbered for exactly-once) to its own dataset, with
// p50/p99 request latency. Beside it, the storage floor measured in the same run: the same
// storage operations for the same changes (read the entry, write it, append history, record the
// client's sequence and the feed position, one transaction per batch), without HTTP or JSON.
// Each row runs at both durabilities (cairnd --durability full, the default: every commit synced
// to disk before the answer; normal: synced at checkpoints), beside the floor at the same one.
//
//   build/release/bench/server_bench [--batch N] [--changes N] [--clients 1|10|100]
//                                    [--durability full|normal]
//   build/release/bench/server_bench --postgres postgresql://user@host:port [--batch N] ...
//
// Every row applies the same number of changes (default 20,000), split evenly among its clients.
//
// With --postgres (a cluster's URI without a database; each row gets a new database in it):
// cairnd on PostgreSQL, with one node and with two on the same database (clients alternate
// between them), beside the PostgreSQL floor: the same storage operations sent straight through
// libpq (PostgresStorage, a pool of 8 connections as a node has), from as many threads as there
// are clients. Then the cross-node push latency: a change written through node A over HTTP until
// a live subscriber of node B has it, beside the same with the subscriber on node A.

//
// With --translate (issue 14, mixed versions): one dataset whose schema renames journal's "text"
// to "body" and adds "attachments" at version 2. Reading the whole feed (GET /api/sync/changes)
// at the version entries were written, beside reading it at the other version (every entry
// translated); and updating every entry from a client of the entries' version, beside from a
// client of the older version (every change translated up before it merges).
//
//   build/release/bench/server_bench --translate [--changes N]
//
// With --compact (issue 15, tombstone compaction): one dataset holding N live entries and N
// tombstones older than the retention window; the time SyncService::compact_tombstones takes to
// drop them in its bounded batches (1000 per transaction, the dataset's row locked, its retained
// position and floor recorded), beside the floor: one DELETE of the same rows, in a copy of the
// same file.
//
//   build/release/bench/server_bench --compact [--changes N]
//
// Target (issue 4): >= 20,000 changes/s on SQLite, and >= 50% of the floor. (issue 11) on
// PostgreSQL: >= 20,000 changes/s with 10 clients, >= 50% of the floor; cross-node push p50 < 10
// ms.
#include <atomic>
#include <boost/json.hpp>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>

#include "bench_support.hpp"
#include "protocol/wire.hpp"
#include "server/storage/postgres_storage.hpp"
#include "server/storage/pq.hpp"
#include "server/storage/sqlite_storage.hpp"
#include "server/storage/storage_factory.hpp"
#include "server/sync_service.hpp"
#include "storage/sqlite.hpp"
#include "support/api_client.hpp"
#include "support/cairnd.hpp"
#include "support/live_client.hpp"
#include "support/manual_clock.hpp"
#include "support/postgres.hpp"

namespace cairn::bench {
namespace {
namespace json = boost::json;

std::string value_text(std::mt19937_64& random, std::size_t n) {
  return json::serialize(journal_entry(random, n));
}

struct Result {
  double changes_per_second;
  double p50_ms, p99_ms;
};

// The load: `clients` clients, alternating between the servers on `ports`.
Result run_clients(const std::vector<std::uint16_t>& ports, int clients, int batch,
                   int changes_per_client) {
  std::vector<std::unique_ptr<test::ApiClient>> sessions;
  for (int c = 0; c < clients; ++c) {
    const std::uint16_t port = ports[static_cast<std::size_t>(c) % ports.size()];
    sessions.push_back(std::make_unique<test::ApiClient>(test::ApiClient::guest(port)));
  }
  // The request bodies are built before the clock starts, as the floor's values are.
  std::vector<std::vector<std::string>> bodies(clients);
  for (int c = 0; c < clients; ++c) {
    std::mt19937_64 random(static_cast<std::uint64_t>(c));
    for (int first = 1; first <= changes_per_client; first += batch) {
      json::array changes;
      for (int seq = first; seq < first + batch; ++seq) {
        changes.push_back(
            json::object{{"seq", seq},
                         {"store", "journal"},
                         {"key", journal_key(static_cast<std::size_t>(seq))},
                         {"op", "put"},
                         {"value", journal_entry(random, static_cast<std::size_t>(seq))}});
      }
      bodies[c].push_back(json::serialize(json::object{{"clientId", "bench-" + std::to_string(c)},
                                                       {"changes", std::move(changes)}}));
    }
  }
  std::vector<std::vector<double>> latencies(clients);
  std::atomic<int> failures{0};
  const auto start = Stopwatch::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (const std::string& body : bodies[c]) {
        const auto sent = Stopwatch::now();
        const test::ApiResult result = sessions[c]->post_text("/api/sync/patch", body);
        latencies[c].push_back(ms_since(sent));
        if (result.status != 200) ++failures;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  const double seconds = ms_since(start) / 1000;
  if (failures > 0) std::cerr << failures << " requests failed\n";
  std::vector<double> all;
  for (const auto& l : latencies)
    all.insert(all.end(), l.begin(), l.end());
  return {clients * changes_per_client / seconds, percentile(all, 0.5), percentile(all, 0.99)};
}

// Translation between schema versions (--translate): see the top of the file.
void run_translation(int total) {
  ScratchDir dir;
  test::Cairnd cairnd(dir.path(), {"--rate-limit", "0", "--durability", "normal"});
  test::ApiClient client = test::ApiClient::guest(cairnd.port());
  const std::string dataset = client.dataset_id();
  const test::ApiResult published =
      client.call("PUT", "/api/datasets/" + dataset + "/schema",
                  R"({"stores": {"journal": {"version": 2, "policy": {"merge": "field-lww"},
          "migrations": [{"from": 1, "ops": [{"op": "rename", "from": "text", "to": "body"},
                                             {"op": "add", "path": "attachments", "value": []}]}]}}})");
  if (published.status != 200) std::cerr << "the schema was refused: " << published.body << '\n';
  constexpr int kBatch = 100;
  std::map<std::string, std::uint64_t> last_seq;  // each client numbers its own changes
  // Puts every entry from client `id` at `version`, in batches; returns the seconds taken.
  const auto write_all = [&](const std::string& id, int version, std::uint64_t seed) {
    std::mt19937_64 random(seed);
    std::uint64_t& seq = last_seq[id];
    std::vector<std::string> bodies;
    for (int first = 0; first < total; first += kBatch) {
      json::array changes;
      for (int n = first; n < std::min(total, first + kBatch); ++n) {
        json::value value = journal_entry(random, static_cast<std::size_t>(n));
        if (version == 2) {
          json::object& object = value.as_object();
          object["body"] = object["text"];
          object.erase("text");
          object["attachments"] = json::array();
        }
        changes.push_back(json::object{{"seq", ++seq},
                                       {"store", "journal"},
                                       {"key", journal_key(static_cast<std::size_t>(n))},
                                       {"op", "put"},
                                       {"value", std::move(value)},
                                       {"schemaVersion", version}});
      }
      bodies.push_back(
          json::serialize(json::object{{"clientId", id}, {"changes", std::move(changes)}}));
    }
    const auto start = Stopwatch::now();
    for (const std::string& body : bodies) {
      const test::ApiResult result = client.post_text("/api/sync/patch", body);
      if (result.status != 200) std::cerr << "a patch failed: " << result.body << '\n';
    }
    return ms_since(start) / 1000;
  };
  // Reads the whole feed at journal version `version`; returns the seconds taken.
  const auto read_all = [&](int version) {
    const auto start = Stopwatch::now();
    std::string cursor = "0";
    for (bool more = true; more;) {
      const test::ApiResult page = client.get("/api/sync/changes?since=" + cursor +
                                              "&versions=journal:" + std::to_string(version));
      cursor = std::string(page.at("cursor").as_string());
      more = page.at("hasMore").as_bool();
    }
    return ms_since(start) / 1000;
  };
  std::printf("mixed versions: %d journal entries (~200 B), written at version 2\n\n", total);
  write_all("writer-v2", 2, 1);
  std::vector<double> stored, translated;
  for (int run = 0; run < 5; ++run) {
    stored.push_back(read_all(2));
    translated.push_back(read_all(1));
  }
  std::printf("%-48s %12s %12s\n", "", "entries/s", "vs as stored");
  std::printf("%-48s %12.0f %12s\n", "feed read at version 2 (as stored)", total / median(stored),
              "1.00");
  std::printf("%-48s %12.0f %12.2f\n", "feed read at version 1 (translated down)",
              total / median(translated), median(translated) / median(stored));
  std::vector<double> same, older;
  for (int run = 0; run < 3; ++run) {
    same.push_back(write_all("writer-v2", 2, 10 + run));
    older.push_back(write_all("writer-v1", 1, 20 + run));
  }
  std::printf("%-48s %12.0f %12s\n", "updates from a version-2 client (as stored)",
              total / median(same), "1.00");
  std::printf("%-48s %12.0f %12.2f\n", "updates from a version-1 client (translated up)",
              total / median(older), median(older) / median(same));
  std::printf("\nreproduce: build/release/bench/server_bench --translate --changes %d\n", total);
}

// Tombstone compaction (--compact): see the top of the file.
void run_compaction(int total) {
  ScratchDir dir;
  const auto file = dir.path() / "cairnd.db";
  const std::uint64_t now_ms = 1'800'000'000'000;
  const Timestamp old(now_ms - 100ull * 24 * 3600 * 1000, 0);
  {
    server::SqliteStorage storage(file, Durability::normal);
    auto tx = storage.begin(true);
    tx->insert_user({"u1", "guest", "", "", 1});
    tx->insert_dataset({"d1", "bench", "u1", false, 1, 0});
    std::mt19937_64 random(1);
    std::vector<server::EntryRow> rows;
    for (int n = 0; n < 2 * total; ++n) {
      server::EntryRow row;
      row.store = "journal";
      row.key = journal_key(static_cast<std::size_t>(n));
      if (n % 2 == 0) row.value = value_text(random, static_cast<std::size_t>(n));
      row.hlc = old;
      row.replica = "r1";
      row.schema_version = 1;
      row.seq = static_cast<std::uint64_t>(n + 1);
      rows.push_back(std::move(row));
    }
    tx->put_entries("d1", rows);
    tx->set_last_seq("d1", static_cast<std::uint64_t>(2 * total));
    tx->commit();
  }
  std::vector<double> service_ms, floor_ms;
  for (int run = 0; run < 3; ++run) {
    const auto copy = dir.path() / ("run" + std::to_string(run) + ".db");
    std::filesystem::copy_file(file, copy);
    {
      server::SqliteStorage storage(copy, Durability::normal);
      server::Metrics metrics;
      server::FeedSubscribers feed;
      auto clock = std::make_shared<test::ManualClock>(now_ms);
      server::SyncService sync(storage, metrics, feed, clock, {}, {});
      const auto start = Stopwatch::now();
      const std::uint64_t dropped = sync.compact_tombstones(std::chrono::hours(24 * 90));
      service_ms.push_back(ms_since(start));
      if (dropped != static_cast<std::uint64_t>(total)) std::cerr << "dropped " << dropped << '\n';
    }
    std::filesystem::copy_file(file, dir.path() / "floor.db",
                               std::filesystem::copy_options::overwrite_existing);
    {
      sqlite::Connection db(dir.path() / "floor.db", sqlite::Connection::Mode::read_write_create);
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
      const auto start = Stopwatch::now();
      db.exec("BEGIN IMMEDIATE");
      db.prepare("DELETE FROM entries WHERE dataset_id = 'd1' AND value IS NULL AND hlc < ?1")
          .bind(1,
                static_cast<std::int64_t>(Timestamp(now_ms - 90ull * 24 * 3600 * 1000, 0).packed()))
          .run();
      db.exec("COMMIT");
      floor_ms.push_back(ms_since(start));
    }
  }
  std::printf("tombstone compaction: one dataset of %d live entries (~200 B) and %d tombstones\n\n",
              total, total);
  std::printf("%-52s %10s %14s %8s\n", "", "ms", "tombstones/s", "ratio");
  std::printf("%-52s %10.1f %14.0f %8.2f\n", "compact_tombstones (batches of 1000)",
              median(service_ms), total / median(service_ms) * 1000,
              median(service_ms) / median(floor_ms));
  std::printf("%-52s %10.1f %14.0f %8s\n", "floor: one DELETE of the same rows", median(floor_ms),
              total / median(floor_ms) * 1000, "1.00");
  std::printf("\nreproduce: build/release/bench/server_bench --compact --changes %d\n", total);
}

Result run_server(Durability durability, int clients, int batch, int changes_per_client) {
  ScratchDir dir;
  test::Cairnd cairnd(dir.path(), {"--rate-limit", "0", "--durability",
                                   std::string(server::durability_name(durability))});
  return run_clients({cairnd.port()}, clients, batch, changes_per_client);
}

// cairnd on a new PostgreSQL database, with `nodes` processes sharing it.
Result run_postgres_server(int nodes, int clients, int batch, int changes_per_client) {
  ScratchDir dir;
  const std::string database = test::new_postgres_database();
  std::vector<std::unique_ptr<test::Cairnd>> servers;
  std::vector<std::uint16_t> ports;
  for (int n = 0; n < nodes; ++n) {
    servers.push_back(std::make_unique<test::Cairnd>(
        dir.path() / std::to_string(n),
        std::vector<std::string>{"--rate-limit", "0", "--database", database}));
    ports.push_back(servers.back()->port());
  }
  return run_clients(ports, clients, batch, changes_per_client);
}

Timestamp floor_hlc(int n) {
  return Timestamp(1'700'000'000'000 + static_cast<std::uint64_t>(n), 0);
}

// The same storage work, straight to the storage (read the batch's entries, write them, append
// their history, as cairnd does): from one thread on SQLite (the server's writes
// are serialized too), from a thread per client on PostgreSQL (`threads`).
double run_floor(server::Storage& storage, int clients, int batch, int changes_per_client,
                 bool threads) {
  {
    auto tx = storage.begin(true);
    for (int c = 0; c < clients; ++c) {
      tx->insert_dataset({"d" + std::to_string(c), "bench", "u", false, 0, 0});
    }
    tx->commit();
  }
  // The rows' text is made before the clock starts: the entry's value and the per-entry stamps
  // cairnd keeps for a store that merges per field (a whole put sets the entry's floor), and the
  // history's payload.
  std::mt19937_64 random(1);
  std::vector<std::vector<std::string>> values(clients), stamps(clients), payloads(clients);
  for (int c = 0; c < clients; ++c) {
    const std::string client = "bench-" + std::to_string(c);
    for (int n = 0; n < changes_per_client; ++n) {
      values[c].push_back(value_text(random, static_cast<std::size_t>(n)));
      stamps[c].push_back(json::serialize(
          json::object{{"floor", json::object{{"hlc", protocol::hlc_to_wire(floor_hlc(n))},
                                              {"replica", client}}}}));
      payloads[c].push_back("{\"value\":" + values[c].back() + "}");
    }
  }
  const auto batch_of = [&](int c, int first) {
    const std::string dataset = "d" + std::to_string(c);
    const std::string client = "bench-" + std::to_string(c);
    auto tx = storage.begin(true);
    (void)tx->dataset(dataset);
    (void)tx->applied_seq(dataset, client);
    std::vector<server::EntryKey> keys;
    for (int n = first; n < first + batch; ++n)
      keys.push_back({"journal", journal_key(static_cast<std::size_t>(n + 1))});
    (void)tx->entries(dataset, keys);
    std::vector<server::EntryRow> entries;
    std::vector<server::HistoryRow> history;
    for (int n = first; n < first + batch; ++n) {
      const std::string& key = keys[static_cast<std::size_t>(n - first)].key;
      const Timestamp hlc = floor_hlc(n);
      const auto i = static_cast<std::size_t>(n);
      entries.push_back({"journal", key, values[c][i], hlc, client, 1, stamps[c][i],
                         static_cast<std::uint64_t>(n + 1)});
      history.push_back({0, dataset, "journal", key, static_cast<std::uint64_t>(n + 1), "u", client,
                         static_cast<std::uint64_t>(n + 1), hlc, client, 0, "put", payloads[c][i],
                         "applied", ""});
    }
    tx->put_entries(dataset, entries);
    tx->append_history(history);
    tx->set_applied_seq(dataset, client, static_cast<std::uint64_t>(first + batch));
    tx->set_last_seq(dataset, static_cast<std::uint64_t>(first + batch));
    tx->save_clock(floor_hlc(first + batch));
    tx->commit();
  };
  const auto start = Stopwatch::now();
  if (threads) {
    std::vector<std::thread> workers;
    for (int c = 0; c < clients; ++c) {
      workers.emplace_back([&, c] {
        for (int first = 0; first < changes_per_client; first += batch)
          batch_of(c, first);
      });
    }
    for (auto& worker : workers)
      worker.join();
  } else {
    for (int first = 0; first < changes_per_client; first += batch) {
      for (int c = 0; c < clients; ++c)
        batch_of(c, first);
    }
  }
  return clients * changes_per_client / (ms_since(start) / 1000);
}

double run_sqlite_floor(Durability durability, int clients, int batch, int changes_per_client) {
  ScratchDir dir;
  server::SqliteStorage storage(dir.path() / "floor.db", durability);
  return run_floor(storage, clients, batch, changes_per_client, false);
}

double run_postgres_floor(int clients, int batch, int changes_per_client) {
  server::PostgresStorage storage({test::new_postgres_database(), 8});
  return run_floor(storage, clients, batch, changes_per_client, true);
}

// A change written over HTTP through `writer`'s node until the live subscriber (on another node,
// or the same) has it; milliseconds per trial.
std::vector<double> push_latency(std::uint16_t writer_port, std::uint16_t subscriber_port,
                                 int trials) {
  test::ApiClient writer = test::ApiClient::guest(writer_port);
  test::LiveClient live(subscriber_port, writer.token());
  live.send({{"type", "subscribe"}});
  live.next("subscribed");
  std::vector<double> latencies;
  for (int trial = -10; trial < trials; ++trial) {
    const auto start = Stopwatch::now();
    writer.post(
        "/api/sync/patch",
        json::object{{"changes", json::array{json::object{{"store", "journal"},
                                                          {"key", "push/" + std::to_string(trial)},
                                                          {"op", "put"},
                                                          {"value", trial}}}}});
    live.next("changes");
    if (trial >= 0) latencies.push_back(ms_since(start));
  }
  return latencies;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) {
  using namespace cairn::bench;
  using cairn::Durability;
  int batch = 100, total = 20'000, only = 0;
  bool translate = false, compact = false;
  std::vector<Durability> durabilities = {Durability::normal, Durability::full};
  std::string durability_argument, postgres;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--translate") == 0) translate = true;
    if (std::strcmp(argv[i], "--compact") == 0) compact = true;
  }
  for (int i = 1; i + 1 < argc; ++i) {  // --NAME VALUE pairs, among them the flag above
    if (std::strcmp(argv[i], "--batch") == 0) batch = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--changes") == 0) total = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--clients") == 0) only = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--postgres") == 0) postgres = argv[i + 1];
    if (std::strcmp(argv[i], "--durability") == 0) {
      durability_argument = std::string(" --durability ") + argv[i + 1];
      const auto chosen = cairn::server::durability_from_name(argv[i + 1]);
      if (!chosen) {
        std::cerr << "--durability must be full or normal\n";
        return 2;
      }
      durabilities = {*chosen};
    }
  }
  if (translate) {
    run_translation(total);
    return 0;
  }
  if (compact) {
    run_compaction(total);
    return 0;
  }
  std::printf("cairnd: batched patches of %d journal-like puts, each client to its own dataset\n",
              batch);
  if (!postgres.empty()) {
    ::setenv("CAIRN_TEST_POSTGRES", postgres.c_str(), 1);  // where new databases are made
    std::printf("on PostgreSQL (%s), synchronous_commit on\n\n",
                cairn::server::pq::describe(postgres).c_str());
    std::printf("%6s %8s %10s %14s %14s %9s %9s %8s\n", "nodes", "clients", "changes",
                "server ch/s", "floor ch/s", "p50 ms", "p99 ms", "ratio");
    for (const int clients : {1, 10, 100}) {
      if (only != 0 && clients != only) continue;
      const int changes = std::max(batch, total / clients / batch * batch);
      const double floor = run_postgres_floor(clients, batch, changes);
      for (const int nodes : {1, 2}) {
        const Result server = run_postgres_server(nodes, clients, batch, changes);
        std::printf("%6d %8d %10d %14.0f %14.0f %9.2f %9.2f %7.0f%%\n", nodes, clients,
                    clients * changes, server.changes_per_second, floor, server.p50_ms,
                    server.p99_ms, 100 * server.changes_per_second / floor);
      }
    }
    {
      ScratchDir dir;
      const std::string database = cairn::test::new_postgres_database();
      const std::vector<std::string> args = {"--rate-limit", "0", "--database", database};
      cairn::test::Cairnd a(dir.path() / "a", args), b(dir.path() / "b", args);
      const std::vector<double> across = push_latency(a.port(), b.port(), 200);
      const std::vector<double> within = push_latency(a.port(), a.port(), 200);
      std::printf("\nwrite through node A (HTTP) -> pushed to a live subscriber:\n");
      std::printf("  of node B  p50 %6.2f ms  p99 %6.2f ms  (%zu trials)\n",
                  percentile(across, 0.5), percentile(across, 0.99), across.size());
      std::printf("  of node A  p50 %6.2f ms  p99 %6.2f ms  (%zu trials)\n",
                  percentile(within, 0.5), percentile(within, 0.99), within.size());
    }
    std::cout << "\nreproduce: build/release/bench/server_bench --postgres <cluster URI> --batch "
              << batch << " --changes " << total << '\n';
    return 0;
  }
  std::printf("\n%10s %8s %10s %14s %14s %9s %9s %8s\n", "durability", "clients", "changes",
              "server ch/s", "floor ch/s", "p50 ms", "p99 ms", "ratio");
  for (const int clients : {1, 10, 100}) {
    if (only != 0 && clients != only) continue;
    const int changes = std::max(batch, total / clients / batch * batch);
    for (const Durability durability : durabilities) {
      const Result server = run_server(durability, clients, batch, changes);
      const double floor = run_sqlite_floor(durability, clients, batch, changes);
      std::printf("%10s %8d %10d %14.0f %14.0f %9.2f %9.2f %7.0f%%\n",
                  std::string(cairn::server::durability_name(durability)).c_str(), clients,
                  clients * changes, server.changes_per_second, floor, server.p50_ms, server.p99_ms,
                  100 * server.changes_per_second / floor);
    }
  }
  std::cout << "\nreproduce: build/release/bench/server_bench --batch " << batch << " --changes "
            << total << durability_argument << '\n';

  return 0;
}
