#include "cli/sync_command.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <mutex>

#include "cli/command.hpp"
#include "cli/pretty_json.hpp"
#include "foundation/json_text.hpp"

namespace cairn::cli {
namespace json = boost::json;

namespace {

SyncOptions options_of(const SyncArguments& arguments) {
  SyncOptions options;
  options.server = arguments.server;
  options.token = arguments.token;
  options.dataset = arguments.dataset;
  return options;
}

// {"journal": 3}: entries held back by store.
json::object held_back_json(const SyncStatus& status) {
  json::object counts;
  for (const auto& [store, entries] : status.held_back_entries)
    counts[store] = entries;
  return counts;
}

std::string when(std::int64_t ms) {
  return ms == 0 ? "never" : Timestamp(static_cast<std::uint64_t>(ms), 0).to_string();
}

void print_schema(const DatasetSchemaInfo& info, bool whole, bool as_json, std::ostream& out) {
  const json::value schema = schema_to_json(info.stores);
  if (as_json) {
    out << json_text(json::object{{"revision", info.revision},
                                  {"schema", schema},
                                  {"updatedBy", info.updated_by},
                                  {"updatedTime", info.updated_ms}})
        << '\n';
  } else if (whole) {
    out << pretty_json(schema) << '\n';
  } else {
    out << fmt::format("published revision {} of the dataset's schema\n", info.revision);
  }
}

}  // namespace

void show_status(const std::string& path, bool show_token, bool as_json, std::ostream& out) {
  Database db = Database::open(path, writable_options());
  const SyncStatus status = SyncClient::stored_status(db);
  if (show_token) {
    out << SyncClient::stored_token(db) << '\n';
    return;
  }
  const auto pending = db.pending_count();
  if (as_json) {
    out << json_text(json::object{{"pending", pending},
                                  {"lastSuccess", status.last_success_ms},
                                  {"lastErrorTime", status.last_error_ms},
                                  {"lastError", status.last_error},
                                  {"userId", status.user_id},
                                  {"dataset", status.dataset},
                                  {"heldBack", status.held_back},
                                  {"heldBackEntries", held_back_json(status)}})
        << '\n';
    return;
  }
  out << "pending       " << pending << " change" << (pending == 1 ? "" : "s") << '\n'
      << "last success  " << when(status.last_success_ms) << '\n'
      << "last error    "
      << (status.last_error.empty() ? std::string("none")
                                    : when(status.last_error_ms) + "  " + status.last_error)
      << '\n'
      << "user          " << (status.user_id.empty() ? "-" : status.user_id) << '\n'
      << "dataset       " << (status.dataset.empty() ? "-" : status.dataset) << '\n';
  for (const auto& [store, entries] : status.held_back_entries) {
    out << fmt::format(
        "held back     {} entr{} of {}: written by a newer version of the store; "
        "they arrive when the application upgrades\n",
        entries, entries == 1 ? "y" : "ies", store);
  }
  if (status.held_back && status.held_back_entries.empty()) {
    out << "note          the server holds entries written by a newer schema; upgrade to see "
           "them\n";
  }
}

void sync(const std::string& path, const SyncArguments& arguments, bool as_json,
          std::ostream& out) {
  Database db = Database::open(path, writable_options());
  const SyncReport report = SyncClient::sync_once(db, options_of(arguments), arguments.full);
  if (as_json) {
    out << json_text(json::object{{"sent", report.sent},
                                  {"acknowledged", report.acknowledged},
                                  {"received", report.received},
                                  {"applied", report.applied},
                                  {"heldBack", report.held_back},
                                  {"skipped", report.skipped},
                                  {"documents", report.documents},
                                  {"conflicts", report.conflicts},
                                  {"full", report.full},
                                  {"forgotten", report.forgotten},
                                  {"tombstonesDropped", report.tombstones_dropped},
                                  {"manifests", report.manifests},
                                  {"chunks", report.chunks},
                                  {"manifestBytes", report.manifest_bytes},
                                  {"renumbered", report.renumbered},
                                  {"resent", report.resent},
                                  {"newReplica", report.new_replica},
                                  {"pending", db.pending_count()}})
        << '\n';
    return;
  }
  out << fmt::format("sent {} change{} ({} acknowledged), received {} entr{} ({} changed here)",
                     report.sent, report.sent == 1 ? "" : "s", report.acknowledged, report.received,
                     report.received == 1 ? "y" : "ies", report.applied);
  if (report.documents > 0) {
    out << fmt::format(", {} document{} took in others' edits", report.documents,
                       report.documents == 1 ? "" : "s");
  }
  if (report.conflicts > 0)
    out << fmt::format(", {} conflicts decided by the server", report.conflicts);
  if (report.held_back > 0) out << fmt::format(", {} held back (newer schema)", report.held_back);
  if (report.skipped > 0) {
    out << fmt::format(", {} skipped (stores this database does not have)", report.skipped);
  }
  if (report.full) out << " — full sync";
  out << '\n';
  if (report.manifests > 0) {
    out << fmt::format("{} store{} refreshed by manifest: {} chunk{} fetched, {} bytes\n",
                       report.manifests, report.manifests == 1 ? "" : "s", report.chunks,
                       report.chunks == 1 ? "" : "s", report.manifest_bytes);
  }
  if (report.forgotten > 0) {
    out << fmt::format(
        "{} entr{} forgotten: deleted on the server while this database was away too long to "
        "hear of it\n",
        report.forgotten, report.forgotten == 1 ? "y" : "ies");
  }
  if (report.renumbered) {
    out << fmt::format(
        "the server had lost changes it acknowledged (restored from a backup?): the outbox was "
        "numbered again from where it stands, and {} of this database's writes were sent again\n",
        report.resent);
  }
  if (report.new_replica) {
    out << "the server had other changes under this database's numbers (restored or copied?): "
           "it continues as replica "
        << db.replica_id() << '\n';
  }
  out << db.pending_count() << " pending\n";
}

void pull_schema(const std::string& path, const SyncArguments& arguments, bool as_json,
                 std::ostream& out) {
  Database db = Database::open(path, writable_options());
  print_schema(SyncClient::pull_schema(db, options_of(arguments)), true, as_json, out);
}

void push_schema(const std::string& path, const std::string& schema_file,
                 const SyncArguments& arguments, bool as_json, std::ostream& out) {
  const std::vector<StoreSchema> stores = load_schema_file(schema_file);
  Database db = Database::open(path, writable_options());
  print_schema(SyncClient::push_schema(db, options_of(arguments), stores), false, as_json, out);
}

void watch(const std::string& path, const SyncArguments& arguments, const WatchArguments& watch,
           bool as_json, std::ostream& out) {
  json::object presence;
  if (!watch.presence.empty()) {
    std::error_code error;
    json::value parsed = json::parse(watch.presence, error);
    if (error || !parsed.is_object()) {
      throw Error(ErrorCode::invalid_argument, "--presence must be a JSON object");
    }
    presence = std::move(parsed.get_object());
  }
  // SIGINT and SIGTERM are taken by sigwait below: blocked here, before the sync thread starts,
  // so that every thread leaves them to it.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Database db = Database::open(path, writable_options());
  SyncOptions options = options_of(arguments);
  std::mutex mutex;  // one line at a time
  std::size_t lines = 0;
  const auto print = [&](const std::string& line) {
    std::lock_guard lock(mutex);
    out << line << '\n';
    out.flush();
    if (watch.count != 0 && ++lines == watch.count) ::kill(::getpid(), SIGTERM);
  };
  Subscription changes = db.subscribe([&](const ChangeSet& set) {
    if (set.origin != Origin::remote) return;
    for (const Change& change : set.changes) {
      if (as_json) {
        json::object line{{"type", "change"}, {"store", change.store}, {"key", change.key}};
        if (change.value) {
          line["value"] = *change.value;
        } else {
          line["deleted"] = true;
        }
        print(json_text(line));
      } else {
        print(change.value ? fmt::format("change {}/{} {}", change.store, change.key,
                                         json_text(*change.value))
                           : fmt::format("delete {}/{}", change.store, change.key));
      }
    }
  });
  SyncClient sync(db, options);
  if (!presence.empty()) sync.set_presence(presence);
  std::vector<Peer> known;  // to say who joined, changed or left
  Subscription peers = sync.subscribe_presence([&](const std::vector<Peer>& now) {
    if (as_json) {
      json::array list;
      for (const Peer& peer : now) {
        list.push_back(json::object{
            {"connection", peer.connection}, {"userId", peer.user_id}, {"state", peer.state}});
      }
      print(json_text(json::object{{"type", "presence"}, {"peers", std::move(list)}}));
      return;
    }
    for (const Peer& peer : now) {
      const auto before = std::find_if(known.begin(), known.end(), [&](const Peer& p) {
        return p.connection == peer.connection;
      });
      if (before == known.end() || before->state != peer.state) {
        print(fmt::format("presence {} {} user {} {}", before == known.end() ? "joined" : "changed",
                          peer.connection, peer.user_id, json_text(peer.state)));
      }
    }
    for (const Peer& peer : known) {
      if (std::none_of(now.begin(), now.end(),
                       [&](const Peer& p) { return p.connection == peer.connection; })) {
        print(fmt::format("presence left {}", peer.connection));
      }
    }
    known = now;
  });
  int signal = 0;
  sigwait(&stop_signals, &signal);
}

}  // namespace cairn::cli
