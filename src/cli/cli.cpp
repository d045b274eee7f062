// The `cairn` command-line tool. The database describes itself (stores, versions and policies are
// recorded in it), so every command works on any Cairn database without the application's code.
//
// Exit codes: 0 success; 1 a Cairn error (its code and message are printed to stderr);
// 2 a usage error; 3 the requested entry does not exist.
#include "cli/cli.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command.hpp"
#include "cli/migrate_command.hpp"
#include "cli/pretty_json.hpp"
#include "cli/sync_command.hpp"
#include "cli/table.hpp"
#include "cli/ydoc_command.hpp"
#include "foundation/json_text.hpp"

namespace cairn::cli {
namespace json = boost::json;

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotFound = 3;

// Read-only opens (what inspect does) mark every store read_only; only a newer schema is news.
std::string store_status(const StoreInfo& info) {
  if (info.status == ErrorCode::schema_too_new) return "schema_too_new";
  return "ok";
}

json::object entry_json(const Database& db, const std::string& store, const std::string& key) {
  json::object object;
  object["store"] = store;
  object["key"] = key;
  if (auto value = db.get(store, key)) object["value"] = std::move(*value);
  if (auto info = db.entry_info(store, key)) {
    object["hlc"] = info->hlc.to_string();
    object["replica"] = info->replica;
    object["schemaVersion"] = info->schema_version;
    object["deleted"] = info->deleted;
    object["pending"] = info->pending;
  }
  return object;
}

// {"name", "version", "policy"} of a store, as inspect and init print it.
json::object store_json(const StoreInfo& store) {
  return json::object{{"name", store.schema.name},
                      {"version", store.stored_version},
                      {"policy", store.schema.policy.to_json()}};
}

// --- commands ---

void inspect(const std::string& path, bool as_json, std::ostream& out) {
  Database db = Database::open(path, read_only_options());
  const auto stores = db.stores();
  if (as_json) {
    json::array list;
    for (const auto& store : stores) {
      json::object object = store_json(store);
      object["entries"] = store.entries;
      object["bytes"] = store.bytes;
      object["tombstones"] = store.tombstones;
      object["quotaBytes"] = store.quota_bytes;
      object["nearQuota"] = store.near_quota;
      list.push_back(std::move(object));
    }
    out << json_text(json::object{{"path", path},
                                  {"replica", db.replica_id()},
                                  {"clock", db.clock().to_string()},
                                  {"pendingChanges", db.pending_count()},
                                  {"stores", std::move(list)}})
        << '\n';
    return;
  }
  out << "database  " << path << '\n'
      << "replica   " << db.replica_id() << '\n'
      << "clock     " << db.clock().to_string() << '\n'
      << "outbox    " << db.pending_count() << " pending change"
      << (db.pending_count() == 1 ? "" : "s") << '\n'
      << '\n';
  Table table({"STORE", "VERSION", "POLICY", "ENTRIES", "BYTES", "QUOTA", "TOMBSTONES", "STATUS"});
  for (const auto& store : stores) {
    const double share = store.quota_bytes == 0 ? 0
                                                : 100.0 * static_cast<double>(store.bytes) /
                                                      static_cast<double>(store.quota_bytes);
    table.add({store.schema.name, std::to_string(store.stored_version),
               policy_name(store.schema.policy), std::to_string(store.entries),
               human_bytes(store.bytes),
               fmt::format("{:.0f}% of {}{}", share, human_bytes(store.quota_bytes),
                           store.near_quota ? " (near)" : ""),
               std::to_string(store.tombstones), store_status(store)});
  }
  table.print(out);
}

void get(const std::string& path, const std::string& store, const std::string& key, bool as_json,
         std::ostream& out) {
  Database db = Database::open(path, read_only_options());
  auto value = db.get(store, key);
  if (!value) {
    throw NotFound{fmt::format("store '{}' has no entry '{}'", store, key)};
  }
  out << (as_json ? json_text(entry_json(db, store, key)) : pretty_json(*value)) << '\n';
}

// Creates a database that declares the schema file's stores (none without one).
void init(const std::string& path, const std::string& schema_file, bool as_json,
          std::ostream& out) {
  if (database_exists(path)) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("'{}' already exists; `cairn migrate {} --schema FILE` changes the "
                            "stores of an existing database",
                            path, path));
  }
  DatabaseOptions options;
  if (!schema_file.empty()) options.stores = load_schema_file(schema_file);
  Database db = Database::open(path, std::move(options));
  const auto stores = db.stores();
  if (as_json) {
    json::array list;
    for (const auto& store : stores)
      list.push_back(store_json(store));
    out << json_text(json::object{{"path", path}, {"stores", std::move(list)}}) << '\n';
    return;
  }
  out << "created " << path << " with " << stores.size() << " store"
      << (stores.size() == 1 ? "" : "s") << '\n';
  for (const auto& store : stores) {
    out << "  " << store.schema.name << " (version " << store.stored_version << ", "
        << policy_name(store.schema.policy) << ")\n";
  }
}

// With `create`, a missing database is created and a missing store declared (lww, version 1).
void put(const std::string& path, const std::string& store, const std::string& key,
         const std::string& text, bool create, bool as_json, std::ostream& out) {
  json::value value = parse_json_argument(text, "the value");
  if (!create && !database_exists(path)) {
    throw Error(ErrorCode::not_found,
                fmt::format("there is no Cairn database at '{}'; create it with `cairn init {} "
                            "[--schema FILE]`, or add --create to this command",
                            path, path));
  }
  Database db =
      Database::open(path, create ? creating_options(path, {store, 1, MergePolicy::whole_entry()})
                                  : writable_options());
  const auto stores = db.stores();
  if (std::none_of(stores.begin(), stores.end(),
                   [&](const StoreInfo& info) { return info.schema.name == store; })) {
    throw Error(ErrorCode::unknown_store,
                fmt::format("store '{}' is not declared in '{}'; add --create to declare it (lww, "
                            "version 1), or declare it with a schema file (`cairn migrate`)",
                            store, path));
  }
  db.put(store, key, std::move(value));
  if (as_json) {
    out << json_text(entry_json(db, store, key)) << '\n';
  } else {
    out << "put " << store << '/' << key << " (" << db.pending_count() << " pending)\n";
  }
}

void erase(const std::string& path, const std::string& store, const std::string& key, bool as_json,
           std::ostream& out) {
  Database db = Database::open(path, writable_options());
  if (!db.contains(store, key)) {
    throw NotFound{fmt::format("store '{}' has no entry '{}'", store, key)};
  }
  db.erase(store, key);
  if (as_json) {
    out << json_text(entry_json(db, store, key)) << '\n';
  } else {
    out << "deleted " << store << '/' << key << " (" << db.pending_count() << " pending)\n";
  }
}

// Export format: {"format": "cairn-export", "formatVersion": 1, "stores": {name: {"version",
// "policy", "entries": {key: value}}}}. Import reads the same.
void export_database(const std::string& path, std::ostream& out) {
  Database db = Database::open(path, read_only_options());
  json::object stores;
  for (const auto& info : db.stores()) {
    json::object entries;
    db.for_each(info.schema.name, [&](std::string_view key, const json::value& value) {
      entries[key] = value;
      return true;
    });
    stores[info.schema.name] = json::object{{"version", info.stored_version},
                                            {"policy", info.schema.policy.to_json()},
                                            {"entries", std::move(entries)}};
  }
  out << pretty_json(json::object{
             {"format", "cairn-export"}, {"formatVersion", 1}, {"stores", std::move(stores)}})
      << '\n';
}

void import_database(const std::string& path, const std::string& file, bool as_json,
                     std::ostream& out) {
  const json::value document = parse_json_argument(read_input(file), "the import file");
  const auto bad = [&](std::string_view why) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("'{}' is not a Cairn export: {}", file, why));
  };
  const json::object* root = document.if_object();
  if (!root || !root->contains("format") || root->at("format") != "cairn-export") {
    throw bad("it has no \"format\": \"cairn-export\"");
  }
  const json::object* stores = root->contains("stores") ? root->at("stores").if_object() : nullptr;
  if (!stores) throw bad("\"stores\" must be an object");

  // Declare every store the database already has, plus the new ones from the file.
  std::vector<StoreSchema> declared = existing_stores(path);
  for (const auto& [name, store] : *stores) {
    const json::object* object = store.if_object();
    if (!object || !object->contains("entries") || !object->at("entries").is_object()) {
      throw bad(fmt::format("store '{}' needs an \"entries\" object", std::string_view(name)));
    }
    StoreSchema schema{std::string(name), 1, {}};
    if (const json::value* version = object->if_contains("version")) {
      if (!version->is_int64() || version->get_int64() < 1 || version->get_int64() > UINT32_MAX) {
        throw bad(fmt::format("store '{}' has an invalid version", std::string_view(name)));
      }
      schema.version = static_cast<std::uint32_t>(version->get_int64());
    }
    if (const json::value* policy = object->if_contains("policy")) {
      schema.policy = MergePolicy::from_json(*policy);
    }
    auto known = std::find_if(declared.begin(), declared.end(),
                              [&](const StoreSchema& s) { return s.name == schema.name; });
    if (known == declared.end()) {
      declared.push_back(std::move(schema));
    } else if (known->version != schema.version) {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("store '{}' is at version {} in the database but version {} in "
                              "'{}'; migrate first so that the versions match",
                              schema.name, known->version, schema.version, file));
    }
  }

  DatabaseOptions options;
  options.stores = std::move(declared);
  Database db = Database::open(path, std::move(options));
  Transaction txn = db.transaction();
  std::size_t count = 0;
  for (const auto& [name, store] : *stores) {
    for (const auto& [key, value] : store.at("entries").get_object()) {
      txn.put(name, key, value);
      ++count;
    }
  }
  txn.commit();
  if (as_json) {
    out << json_text(json::object{{"imported", count}, {"stores", stores->size()}}) << '\n';
  } else {
    out << "imported " << count << " entries into " << stores->size() << " store"
        << (stores->size() == 1 ? "" : "s") << '\n';
  }
}

void outbox(const std::string& path, std::size_t limit, bool as_json, std::ostream& out) {
  Database db = Database::open(path, read_only_options());
  const auto records = db.outbox(0, limit);
  if (as_json) {
    json::array list;
    for (const auto& record : records) {
      list.push_back(json::object{{"seq", record.seq},
                                  {"store", record.store},
                                  {"key", record.key},
                                  {"op", record.op},
                                  {"payload", record.payload},
                                  {"hlc", record.hlc.to_string()}});
    }
    out << json_text(json::object{{"pending", db.pending_count()}, {"records", list}}) << '\n';
    return;
  }
  out << db.pending_count() << " pending change" << (db.pending_count() == 1 ? "" : "s") << '\n';
  if (records.empty()) return;
  out << '\n';
  Table table({"SEQ", "STORE", "KEY", "OP", "HLC", "PAYLOAD"});
  for (const auto& record : records) {
    std::string payload = json_text(record.payload);
    if (payload.size() > 60) payload = payload.substr(0, 57) + "...";
    table.add({std::to_string(record.seq), record.store, record.key, record.op,
               record.hlc.to_string(), payload});
  }
  table.print(out);
}

}  // namespace

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"cairn: inspect and edit Cairn databases (local-first persistence and sync)",
               "cairn"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(kVersion));
  app.footer(
      "Exit codes: 0 success, 1 error (code and message on stderr), 2 usage, 3 entry not found.");

  std::string path, store, key, value, file;
  bool as_json = false;
  std::size_t limit = 100;
  const auto add_path = [&](CLI::App* command) {
    command->add_option("DB", path, "Path to the database file")->required();
  };
  const auto add_json = [&](CLI::App* command) {
    command->add_flag("--json", as_json, "Print JSON for scripts instead of tables");
  };

  auto* inspect_cmd = app.add_subcommand(
      "inspect", "Show stores, versions, entry counts, bytes and pending outbox");
  add_path(inspect_cmd);
  add_json(inspect_cmd);

  auto* get_cmd = app.add_subcommand("get", "Print one entry's value");
  add_path(get_cmd);
  get_cmd->add_option("STORE", store, "Store name")->required();
  get_cmd->add_option("KEY", key, "Entry key")->required();
  add_json(get_cmd);

  std::string schema_file;
  auto* init_cmd = app.add_subcommand(
      "init", "Create a database, declaring the stores of a schema file (or none)");
  add_path(init_cmd);
  init_cmd->add_option("--schema", schema_file, "Schema file (JSON; see docs/migrations.md)");
  add_json(init_cmd);

  bool create = false;
  auto* put_cmd = app.add_subcommand("put", "Write one entry (recorded in the outbox)");
  add_path(put_cmd);
  put_cmd->add_option("STORE", store, "Store name")->required();
  put_cmd->add_option("KEY", key, "Entry key")->required();
  put_cmd->add_option("JSON", value, "The value, as JSON (quote it for the shell)")->required();
  put_cmd->add_flag("--create", create,
                    "Create the database and declare the store (lww, version 1) if missing");
  add_json(put_cmd);

  auto* delete_cmd = app.add_subcommand("delete", "Delete one entry (leaves a tombstone)");
  add_path(delete_cmd);
  delete_cmd->add_option("STORE", store, "Store name")->required();
  delete_cmd->add_option("KEY", key, "Entry key")->required();
  add_json(delete_cmd);

  auto* export_cmd = app.add_subcommand("export", "Write every store's entries as JSON to stdout");
  add_path(export_cmd);

  auto* import_cmd = app.add_subcommand(
      "import",
      "Write the entries of an export file in one transaction (creates the database "
      "and missing stores)");
  import_cmd->add_option("DB", path, "Path to the database file")->required();
  import_cmd->add_option("FILE", file, "Export file, or - for stdin")->required();
  add_json(import_cmd);

  auto* outbox_cmd =
      app.add_subcommand("outbox", "List local changes waiting to be sent to a server");
  add_path(outbox_cmd);
  outbox_cmd->add_option("--limit", limit, "Show at most this many records")
      ->default_val(100)
      ->check(CLI::PositiveNumber);
  add_json(outbox_cmd);

  bool dry_run = false;
  std::size_t samples = 3;
  std::int64_t backup_id = 0;
  auto* migrate_cmd = app.add_subcommand(
      "migrate", "Migrate stores to the versions a schema file declares (backing them up first)");
  add_path(migrate_cmd);
  migrate_cmd->add_option("--schema", schema_file, "Schema file (JSON; see docs/migrations.md)")
      ->required();
  migrate_cmd->add_flag("--dry-run", dry_run,
                        "Print the plan and a diff of sample entries; change nothing");
  migrate_cmd->add_option("--samples", samples, "Entries to show per store in a dry run")
      ->default_val(3);
  add_json(migrate_cmd);

  auto* backups_cmd = app.add_subcommand("backups", "List the backups taken before migrations");
  add_path(backups_cmd);
  add_json(backups_cmd);

  auto* restore_cmd = app.add_subcommand(
      "restore", "Put a store back as it was in a backup (the database must not be open)");
  add_path(restore_cmd);
  restore_cmd->add_option("STORE", store, "Store name")->required();
  restore_cmd->add_option("BACKUP", backup_id, "Backup id, from `cairn backups`")->required();
  add_json(restore_cmd);

  SyncArguments sync_arguments;
  bool show_token = false;
  auto* status_cmd = app.add_subcommand("status", "Show the sync status kept in the database");
  add_path(status_cmd);
  status_cmd->add_flag("--show-token", show_token,
                       "Print only the kept bearer token (a secret: for joining a second device)");
  add_json(status_cmd);

  auto* sync_cmd = app.add_subcommand(
      "sync", "Run one sync with a cairnd server (the server and token are then kept)");
  add_path(sync_cmd);
  sync_cmd->add_option("--server", sync_arguments.server,
                       "Server URL, e.g. http://127.0.0.1:8787 (default: the one kept)");
  sync_cmd->add_option("--token", sync_arguments.token,
                       "Bearer token: sync as that user (how a second device joins)");
  sync_cmd->add_option("--dataset", sync_arguments.dataset,
                       "Dataset id (default: the user's personal dataset)");
  sync_cmd->add_flag("--full", sync_arguments.full, "Pull the whole dataset again");
  add_json(sync_cmd);

  WatchArguments watch_arguments;
  auto* watch_cmd = app.add_subcommand(
      "watch", "Sync live and print changes from other devices and their presence as they arrive");
  add_path(watch_cmd);
  watch_cmd->add_option("--server", sync_arguments.server,
                        "Server URL, e.g. http://127.0.0.1:8787 (default: the one kept)");
  watch_cmd->add_option("--token", sync_arguments.token, "Bearer token: watch as that user");
  watch_cmd->add_option("--dataset", sync_arguments.dataset,
                        "Dataset id (default: the user's personal dataset)");
  watch_cmd->add_option("--presence", watch_arguments.presence,
                        "This device's presence state, a JSON object, e.g. '{\"device\":\"cli\"}'");
  watch_cmd->add_option("--count", watch_arguments.count,
                        "Stop after this many lines (default: at Ctrl-C or SIGTERM)");
  add_json(watch_cmd);

  auto* schema_cmd = app.add_subcommand(
      "schema",
      "Read or publish the schema of the dataset this database syncs with (owners "
      "publish; see docs/migrations.md)");
  schema_cmd->require_subcommand(1);
  const auto add_server = [&](CLI::App* command) {
    command->add_option("--server", sync_arguments.server,
                        "Server URL, e.g. http://127.0.0.1:8787 (default: the one kept)");
    command->add_option("--token", sync_arguments.token, "Bearer token (default: the one kept)");
    command->add_option("--dataset", sync_arguments.dataset,
                        "Dataset id (default: the one kept, or the user's personal dataset)");
  };
  auto* schema_pull_cmd = schema_cmd->add_subcommand(
      "pull", "Print the dataset's schema as a schema file (--json: with its revision)");
  add_path(schema_pull_cmd);
  add_server(schema_pull_cmd);
  add_json(schema_pull_cmd);
  auto* schema_push_cmd = schema_cmd->add_subcommand(
      "push", "Publish a schema file as the dataset's next revision (only forward)");
  add_path(schema_push_cmd);
  schema_push_cmd->add_option("SCHEMA", schema_file, "Schema file (JSON)")->required();
  add_server(schema_push_cmd);
  add_json(schema_push_cmd);

  YdocArguments ydoc_arguments;
  auto* ydoc_cmd = app.add_subcommand(
      "ydoc", "Read and combine Yjs documents' updates (files of raw update bytes; - for stdin)");
  ydoc_cmd->require_subcommand(1);
  const auto add_updates = [&](CLI::App* command) {
    command->add_option("UPDATE", ydoc_arguments.updates, "Update files (- for stdin)")->required();
    command->add_flag("--v2", ydoc_arguments.v2, "Updates in (and out) in Yjs's format v2");
  };
  auto* ydoc_show_cmd =
      ydoc_cmd->add_subcommand("show", "Print the merged updates as JSON, a member per root type");
  add_updates(ydoc_show_cmd);
  ydoc_show_cmd->add_flag("--delta", ydoc_arguments.delta,
                          "A Text as its delta (with attributes) instead of a string");
  ydoc_show_cmd->add_option("--type", ydoc_arguments.types,
                            "A root's type, NAME=text|map|array|xml (repeatable; default: "
                            "inferred from its content)");
  auto* ydoc_merge_cmd =
      ydoc_cmd->add_subcommand("merge", "Write the updates merged into one update to stdout");
  add_updates(ydoc_merge_cmd);
  std::string ydoc_diff_update;
  auto* ydoc_diff_cmd = ydoc_cmd->add_subcommand(
      "diff", "Write what of UPDATE a replica at STATE_VECTOR lacks to stdout");
  ydoc_diff_cmd->add_option("UPDATE", ydoc_diff_update, "Update file (- for stdin)")->required();
  ydoc_diff_cmd->add_option("STATE_VECTOR", ydoc_arguments.state_vector, "State vector file")
      ->required();
  ydoc_diff_cmd->add_flag("--v2", ydoc_arguments.v2, "The update in (and out) in format v2");
  auto* ydoc_state_vector_cmd = ydoc_cmd->add_subcommand(
      "state-vector", "Write the state vector of the merged updates to stdout");
  add_updates(ydoc_state_vector_cmd);
  YdocEdit ydoc_edit_arguments;
  auto* ydoc_edit_cmd = ydoc_cmd->add_subcommand(
      "edit", "Edit a root text of a database's document (committed; `cairn sync` sends it)");
  add_path(ydoc_edit_cmd);
  ydoc_edit_cmd->add_option("STORE", ydoc_edit_arguments.store, "Store name")->required();
  ydoc_edit_cmd->add_option("KEY", ydoc_edit_arguments.key, "The document's key")->required();
  ydoc_edit_cmd->add_option("--insert", ydoc_edit_arguments.insert, "Text to insert (UTF-8)");
  ydoc_edit_cmd->add_option("--at", ydoc_edit_arguments.at,
                            "Where, in UTF-16 code units as Yjs counts (default: the end)");
  ydoc_edit_cmd->add_option("--erase", ydoc_edit_arguments.erase,
                            "How many UTF-16 code units to remove at --at first");
  ydoc_edit_cmd->add_option("--root", ydoc_edit_arguments.root,
                            "The root text's name (default: content)");
  ydoc_edit_cmd->add_flag("--create", ydoc_edit_arguments.create,
                          "Create the database and declare the store as a document store when "
                          "missing");
  auto* ydoc_extract_cmd = ydoc_cmd->add_subcommand(
      "extract",
      "Write a document of a database (a store with the text policy) to stdout, as one update");
  add_path(ydoc_extract_cmd);
  ydoc_extract_cmd->add_option("STORE", store, "Store name")->required();
  ydoc_extract_cmd->add_option("KEY", key, "The document's key")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? 0 : kExitUsage;
  }

  try {
    if (*inspect_cmd) inspect(path, as_json, out);
    if (*get_cmd) get(path, store, key, as_json, out);
    if (*init_cmd) init(path, schema_file, as_json, out);
    if (*put_cmd) put(path, store, key, value, create, as_json, out);
    if (*delete_cmd) erase(path, store, key, as_json, out);
    if (*export_cmd) export_database(path, out);
    if (*import_cmd) import_database(path, file, as_json, out);
    if (*outbox_cmd) outbox(path, limit, as_json, out);
    if (*migrate_cmd) return migrate(path, schema_file, dry_run, samples, as_json, out);
    if (*backups_cmd) list_backups(path, as_json, out);
    if (*restore_cmd) restore(path, store, backup_id, as_json, out);
    if (*status_cmd) show_status(path, show_token, as_json, out);
    if (*sync_cmd) sync(path, sync_arguments, as_json, out);
    if (*watch_cmd) watch(path, sync_arguments, watch_arguments, as_json, out);
    if (*schema_pull_cmd) pull_schema(path, sync_arguments, as_json, out);
    if (*schema_push_cmd) push_schema(path, schema_file, sync_arguments, as_json, out);
    if (*ydoc_show_cmd) ydoc_show(ydoc_arguments, out, err);
    if (*ydoc_merge_cmd) ydoc_merge(ydoc_arguments, out);
    if (*ydoc_diff_cmd) {
      ydoc_arguments.updates = {ydoc_diff_update};
      ydoc_diff(ydoc_arguments, out);
    }
    if (*ydoc_state_vector_cmd) ydoc_state_vector(ydoc_arguments, out);
    if (*ydoc_extract_cmd) ydoc_extract(path, store, key, out);
    if (*ydoc_edit_cmd) ydoc_edit(path, ydoc_edit_arguments, out);

  } catch (const NotFound& e) {
    err << "cairn: " << e.message << '\n';
    return kExitNotFound;
  } catch (const Error& e) {
    err << "cairn: error [" << error_code_name(e.code()) << "]: " << e.what() << '\n';
    return kExitError;
  }
  return 0;
}

}  // namespace cairn::cli
