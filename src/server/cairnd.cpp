#include "server/cairnd.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cairn/version.hpp>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>

#include "server/server.hpp"
#include "server/storage/storage_copy.hpp"

namespace cairn::server {
namespace json = boost::json;

namespace {

// One setting: its flag, its config-file key, and how to read it from either.
struct Setting {
  std::string flag;
  std::string key;
  std::string help;
  std::function<void(CLI::App&, const std::string& flag, const std::string& help)> add;
  std::function<bool(const json::value&)> from_json;  // false when the value has the wrong type
};

template <class T>
Setting setting(std::string flag, std::string key, std::string help, T& target) {
  Setting s{std::move(flag), std::move(key), std::move(help), {}, {}};
  s.add = [&target](CLI::App& app, const std::string& name, const std::string& text) {
    app.add_option(name, target, text)->capture_default_str();
  };
  s.from_json = [&target](const json::value& value) {
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::filesystem::path>) {
      if (!value.is_string()) return false;
      target = T(std::string(value.get_string()));
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!value.is_number()) return false;
      target = value.to_number<T>();
    } else {
      if (!value.is_int64() || value.get_int64() < 0) return false;
      target = static_cast<T>(value.get_int64());
    }
    return true;
  };
  return s;
}

}  // namespace

int cairnd_main(int argc, char** argv) {
  CLI::App app{"cairnd: the Cairn sync server", "cairnd"};
  app.set_version_flag("--version", std::string(kVersion));
  ServerOptions options;
  std::string config_file;
  std::string log_level = "info";
  std::string durability(durability_name(options.storage.durability));
  std::string database;
  std::int64_t token_lifetime = options.token_lifetime.count();
  std::int64_t clock_skew_ms = options.max_clock_skew.count();
  std::int64_t idle_timeout_ms = options.http.idle_timeout.count();
  std::int64_t drain_timeout_ms = options.http.drain_timeout.count();
  WebSocketOptions& live_frames = options.http.websocket;
  std::int64_t live_ping_ms = live_frames.ping_interval.count();
  std::int64_t live_token_check_ms = options.live.token_check_interval.count();
  std::int64_t collab_snapshot_ms = options.collab.snapshot_interval.count();

  const auto days = [](std::chrono::milliseconds age) {
    return std::chrono::duration_cast<std::chrono::hours>(age).count() / 24;
  };
  std::int64_t tombstone_days = days(options.housekeeping.tombstone_retention);
  std::int64_t history_days = days(options.housekeeping.history_max_age);
  std::int64_t audit_days = days(options.housekeeping.audit_max_age);
  std::int64_t snapshot_days = days(options.housekeeping.snapshot_max_age);
  std::int64_t housekeeping_s =
      std::chrono::duration_cast<std::chrono::seconds>(options.housekeeping.interval).count();

  std::vector<Setting> settings = {
      setting("--address", "address", "Address to listen on", options.http.address),
      setting("--port", "port", "TCP port; 0 picks a free one", options.http.port),
      setting("--data", "data", "Data directory (cairnd.db)", options.storage.data_dir),
      setting("--database", "database",
              "PostgreSQL connection URI (postgresql://user@host:port/db): several cairnd "
              "processes share it; without it, SQLite under --data",
              database),
      setting("--pool-size", "poolSize", "PostgreSQL connections per cairnd process, at most",
              options.storage.pool_size),
      setting("--durability", "durability",
              "full: every acknowledged change is synced to disk (survives power loss); normal: "
              "synced at checkpoints (survives a killed cairnd only)",
              durability),
      setting("--threads", "threads", "Network I/O threads; 0 = one per core",
              options.http.threads),
      setting("--handler-threads", "handlerThreads",
              "Threads that run requests (storage work); 0 = one per core",
              options.http.handler_threads),
      setting("--log-level", "logLevel", "trace, debug, info, warn, error", log_level),
      setting("--schema", "schema", "Schema file: stores, versions, merge policies",
              options.schema_file),
      setting("--demo-dir", "demoDir",
              "Serve the demo editor (/demo/editor) from here: scripts/build-demo.sh builds it "
              "into build/demo/dist",
              options.demo_dir),
      setting("--profile-template", "profileTemplate",
              "JSON {\"stores\": {...}} seeded into new users' datasets", options.profile_template),
      setting("--jwks", "jwks", "Google's signing keys (JWKS file) for Google sign-in",
              options.jwks_file),
      setting("--google-client-id", "googleClientId", "The audience of Google ID tokens",
              options.google_client_id),
      setting("--token-lifetime", "tokenLifetimeSeconds", "Seconds a bearer token lives",
              token_lifetime),
      setting("--max-body-bytes", "maxBodyBytes", "Largest request body (413 above)",
              options.http.body_limit),
      setting("--max-json-depth", "maxJsonDepth", "Deepest JSON nesting accepted",
              options.max_json_depth),
      setting("--max-key-bytes", "maxKeyBytes", "Longest entry key (422 above)",
              options.max_key_bytes),
      setting("--max-value-bytes", "maxValueBytes", "Largest entry value (422 above)",
              options.max_value_bytes),
      setting("--max-clock-skew-ms", "maxClockSkewMs",
              "How far ahead of the server a client's clock may run", clock_skew_ms),
      setting("--rate-limit", "rateLimit", "Requests per second per token (0: unlimited)",
              options.rate_limit),
      setting("--rate-burst", "rateBurst", "Requests a token may burst", options.rate_burst),
      setting("--page-size", "pageSize", "Changes per response, at most", options.page_size),
      setting("--idle-timeout-ms", "idleTimeoutMs", "Close connections idle this long",
              idle_timeout_ms),
      setting("--drain-timeout-ms", "drainTimeoutMs",
              "On shutdown, wait this long for requests in flight", drain_timeout_ms),
      setting("--tls-cert", "tlsCert",
              "PEM certificate chain: serve HTTPS and WSS (with --tls-key); plain HTTP without",
              options.http.tls_cert),
      setting("--tls-key", "tlsKey", "PEM private key of --tls-cert", options.http.tls_key),
      setting("--live-max-connections", "liveMaxConnections",
              "Live channel connections in all (503 above)", options.live.max_connections),
      setting("--live-max-connections-per-user", "liveMaxConnectionsPerUser",
              "Live channel connections of one user (429 above)",
              options.live.max_connections_per_user),
      setting("--live-max-subscriptions", "liveMaxSubscriptions",
              "Datasets one live connection may subscribe to",
              options.live.max_subscriptions_per_connection),
      setting("--live-max-message-bytes", "liveMaxMessageBytes",
              "Largest live channel message (close 1009 above)", live_frames.max_message_bytes),
      setting("--live-send-queue-bytes", "liveSendQueueBytes",
              "Unsent bytes a live connection may hold before it is dropped as a slow consumer",
              live_frames.send_queue_bytes),
      setting("--live-messages-per-second", "liveMessagesPerSecond",
              "Frames per second a live connection may send, pings included (close 1008 above)",
              live_frames.messages_per_second),
      setting("--live-message-burst", "liveMessageBurst", "Frames a live connection may burst",
              live_frames.message_burst),
      setting("--collab-max-document-bytes", "collabMaxDocumentBytes",
              "Largest collaborative document log (refused above: 413, close 4413)",
              options.collab.max_document_bytes),
      setting("--collab-compact-after", "collabCompactAfter",
              "Updates a document's log holds before it is compacted into one",
              options.collab.compact_after_updates),
      setting("--collab-snapshot-interval-ms", "collabSnapshotIntervalMs",
              "While a document changes, keep a snapshot of it at most this often",
              collab_snapshot_ms),
      setting("--collab-max-connections", "collabMaxConnections",
              "Collaborative document connections in all (close 1013 above)",
              options.collab.max_connections),
      setting("--tombstone-retention-days", "tombstoneRetentionDays",
              "Drop deletes' tombstones after this many days (devices offline longer sync again "
              "from the start); 0 keeps them forever",
              tombstone_days),
      setting("--history-max-age-days", "historyMaxAgeDays",
              "Drop entries' history rows older than this many days; 0 keeps them", history_days),
      setting("--history-max-rows", "historyMaxRows",
              "Keep at most this many history rows per entry, the newest; 0: all",
              options.housekeeping.history_max_rows),
      setting("--audit-max-age-days", "auditMaxAgeDays",
              "Drop the audit log's records of document updates older than this many days; 0 "
              "keeps them",
              audit_days),
      setting("--snapshot-max-age-days", "snapshotMaxAgeDays",
              "Drop document snapshots older than this many days (a document's newest stays); 0 "
              "keeps them",
              snapshot_days),
      setting("--snapshot-max-count", "snapshotMaxCount",
              "Keep at most this many snapshots per document, the newest; 0: all",
              options.housekeeping.snapshot_max_count),
      setting("--store-quota-bytes", "storeQuotaBytes",
              "The size of one dataset's store that /metrics compares against (devices enforce "
              "their own quota)",
              options.housekeeping.store_quota_bytes),
      setting("--quota-warning", "quotaWarning",
              "The share of --store-quota-bytes at which /metrics counts a store as near it",
              options.housekeeping.quota_warning),
      setting("--housekeeping-interval-s", "housekeepingIntervalSeconds",
              "Seconds between rounds of background upkeep (compaction); 0: none", housekeeping_s),
      setting("--live-ping-interval-ms", "livePingIntervalMs",
              "Ping a silent live connection after this long; drop it after twice this",
              live_ping_ms),
      setting("--live-token-check-ms", "liveTokenCheckMs",
              "How often live connections' tokens are checked for expiry and revocation",
              live_token_check_ms),
  };
  app.add_option("--config", config_file, "JSON config file (keys in docs/operations.md)");
  std::string restore_from;  // on the command line only: a config file must not restore each start
  app.add_option("--restore-from", restore_from,
                 "Put this backup of cairnd.db in place under --data, then exit (cairnd must not "
                 "be running; docs/operations.md)");
  bool after_restore = false;  // on the command line only, like --restore-from
  app.add_flag("--after-restore", after_restore,
               "After pg_restore of a PostgreSQL dump: move every dataset's feed forward past "
               "positions handed out before, then exit (docs/operations.md)");
  std::string copy_to;  // on the command line only, like --restore-from
  app.add_option("--copy-to", copy_to,
                 "Copy the SQLite data under --data into this empty PostgreSQL database "
                 "(postgresql://…), check the copy, then exit (docs/operations.md)");
  for (auto& s : settings)
    s.add(app, s.flag, s.help);

  try {
    app.parse(argc, argv);
    if (!config_file.empty()) {
      std::ifstream in(config_file);
      if (!in) throw std::runtime_error("cannot read config file '" + config_file + "'");
      std::stringstream text;
      text << in.rdbuf();
      std::error_code error;
      json::value config = json::parse(text.str(), error);
      if (error || !config.is_object()) {
        throw std::runtime_error("config file '" + config_file + "' is not a JSON object");
      }
      for (const auto& member : config.get_object()) {
        const std::string key(member.key());
        const json::value& value = member.value();
        auto it = std::find_if(settings.begin(), settings.end(),
                               [&](const Setting& s) { return s.key == key; });

        if (it == settings.end()) {
          throw std::runtime_error("config file '" + config_file + "': unknown setting '" +
                                   std::string(key) + "'");
        }
        if (app.count(it->flag) > 0) continue;  // the command line wins
        if (!it->from_json(value)) {
          throw std::runtime_error("config file '" + config_file + "': setting '" +
                                   std::string(key) + "' has the wrong type");
        }
      }
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::cerr << "cairnd: " << e.what() << '\n';
    return 2;
  }
  if (auto chosen = durability_from_name(durability)) {
    options.storage.durability = *chosen;
  } else {
    std::cerr << "cairnd: --durability must be full or normal, not '" << durability << "'\n";
    return 2;
  }
  try {
    set_database(options.storage, database);
  } catch (const Error& e) {
    std::cerr << "cairnd: " << e.what() << '\n';
    return 2;
  }
  options.token_lifetime = std::chrono::seconds(token_lifetime);
  options.max_clock_skew = std::chrono::milliseconds(clock_skew_ms);
  options.http.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
  options.http.drain_timeout = std::chrono::milliseconds(drain_timeout_ms);
  live_frames.ping_interval = std::chrono::milliseconds(live_ping_ms);
  options.live.token_check_interval = std::chrono::milliseconds(live_token_check_ms);
  options.collab.snapshot_interval = std::chrono::milliseconds(collab_snapshot_ms);
  options.housekeeping.tombstone_retention = std::chrono::hours(24 * tombstone_days);
  options.housekeeping.history_max_age = std::chrono::hours(24 * history_days);
  options.housekeeping.audit_max_age = std::chrono::hours(24 * audit_days);
  options.housekeeping.snapshot_max_age = std::chrono::hours(24 * snapshot_days);
  options.housekeeping.interval = std::chrono::seconds(housekeeping_s);

  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  spdlog::set_level(spdlog::level::from_str(log_level));
  if (!copy_to.empty()) {
    try {
      if (options.storage.backend != "sqlite") {
        throw Error(ErrorCode::invalid_argument,
                    "--copy-to copies the SQLite data under --data; leave out --database");
      }
      StorageConfig target = options.storage;
      set_database(target, copy_to);
      const std::unique_ptr<Storage> from = open_storage(options.storage);  // holds --data
      const std::unique_ptr<Storage> to = open_storage(target);
      spdlog::info("copying {} into {}", describe(options.storage), describe(target));
      const CopyReport report = copy_storage(*from, *to);
      for (const auto& [table, rows] : report.rows)
        spdlog::info("copied table={} rows={}", table, rows);
      spdlog::info("the copy matches the original; start cairnd with --database {}",
                   describe(target));
      return 0;
    } catch (const std::exception& e) {
      spdlog::critical("cannot copy: {}", e.what());
      return 1;
    }
  }
  if (after_restore) {
    try {
      if (options.storage.backend == "sqlite") {
        throw Error(ErrorCode::invalid_argument,
                    "--after-restore follows pg_restore; SQLite restores with --restore-from, "
                    "which moves the feeds itself");
      }
      const std::unique_ptr<Storage> storage = open_storage(options.storage);
      auto tx = storage->begin(true);
      const std::uint64_t datasets = tx->advance_feeds(kRestoreFeedJump);
      tx->commit();
      spdlog::info("moved the feeds of {} datasets in {} forward by {}", datasets,
                   describe(options.storage), kRestoreFeedJump);
      return 0;
    } catch (const std::exception& e) {
      spdlog::critical("cannot prepare the restored database: {}", e.what());
      return 1;
    }
  }
  if (!restore_from.empty()) {
    if (options.storage.backend != "sqlite") {
      std::cerr << "cairnd: --restore-from restores SQLite's cairnd.db; on PostgreSQL, restore "
                   "with pg_restore, then run cairnd --after-restore (docs/operations.md)\n";
      return 2;
    }
    try {
      const RestoreReport report = restore_data(options.storage.data_dir, restore_from);
      spdlog::info("restored {} into {} ({} datasets; their feeds moved forward by {})",
                   restore_from, (options.storage.data_dir / "cairnd.db").string(), report.datasets,
                   kRestoreFeedJump);
      if (!report.replaced.empty()) {
        spdlog::info("the database it replaced is kept as {}", report.replaced.string());
      }
      return 0;
    } catch (const std::exception& e) {
      spdlog::critical("cannot restore: {}", e.what());
      return 1;
    }
  }
  try {
    Server server(options);
    spdlog::info(
        "cairnd version={} listening={}://{}:{} database={} durability={}", kVersion,
        options.http.tls_cert.empty() ? "http" : "https", options.http.address, server.port(),
        describe(options.storage),
        options.storage.backend == "sqlite" ? durability_name(options.storage.durability) : "full");
    spdlog::default_logger()->flush();
    server.run();
    spdlog::info("cairnd stopped");
  } catch (const std::exception& e) {
    spdlog::critical("cairnd cannot run: {}", e.what());
    return 1;
  }
  return 0;
}

}  // namespace cairn::server
