// The roadmap's application, on Cairn: six stores written, closed, reopened and read back; and
// two builds of it, at two schema versions, syncing one dataset (docs/migrations.md, "Old and
// new apps at once").
//
//   journal_example [DB]                    the walkthrough (default: journal-example.db here)
//   journal_example DB sync SERVER [TOKEN]  syncs DB with cairnd (a guest is created on first use)
//   journal_example DB write KEY TEXT       writes a journal entry in this build's shape
//   journal_example DB list                 the journal as this build reads it
//   journal_example DB node KEY LABEL       adds a node to the graph (cdagTopology)
//   journal_example DB graph                the graph's keys
//
// Shows: declaring stores with merge policies, a store hydrated by manifest, typed entries
// (JournalEntry through Boost.JSON's value_from/value_to), a transaction across stores, counter
// fields, subscriptions, and reading everything back after a reopen, from memory.
//
// Built twice: journal_example is version 1 of the application; journal_example_v2
// (JOURNAL_VERSION=2) is the next release, whose stores migrate as schema-v2.json says: a
// journal entry's "text" is now "body" and it gained "attachments" (patterns B and A).
#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <cstdlib>
#include <cstring>
#include <iostream>

#ifndef JOURNAL_VERSION
#define JOURNAL_VERSION 1
#endif

namespace app {

// The graph is large and read-mostly: hydrated by manifest (docs/sync.md, "Large stores:
// manifests"). A sync refreshes it once the local copy is older than its TTL, 30 minutes, or
// JOURNAL_GRAPH_TTL seconds (manifest.sh sets 1 to show a refresh without waiting).
cairn::StoreSchema graph() {
  cairn::StoreSchema schema{"cdagTopology", 1, cairn::MergePolicy::per_field()};
  schema.manifest = cairn::ManifestHydration{};
  if (const char* ttl = std::getenv("JOURNAL_GRAPH_TTL")) {
    schema.manifest->ttl = std::chrono::seconds(std::atoi(ttl));
  }
  return schema;
}

#if JOURNAL_VERSION == 1
struct JournalEntry {
  std::string text;
  int mood = 0;  // 1..5
  std::vector<std::string> skills;
};

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& json,
                const JournalEntry& entry) {
  json = {{"text", entry.text},
          {"mood", entry.mood},
          {"skills", boost::json::value_from(entry.skills)}};
}

JournalEntry tag_invoke(const boost::json::value_to_tag<JournalEntry>&,
                        const boost::json::value& json) {
  const auto& object = json.as_object();
  return {boost::json::value_to<std::string>(object.at("text")),
          boost::json::value_to<int>(object.at("mood")),
          boost::json::value_to<std::vector<std::string>>(object.at("skills"))};
}

const std::string& text_of(const JournalEntry& entry) {
  return entry.text;
}

cairn::DatabaseOptions options() {
  using cairn::MergePolicy;
  cairn::DatabaseOptions options;
  options.stores = {
      {"journal", 1, MergePolicy::whole_entry()},               // one entry per moment
      graph(),                                                  // graph nodes and edges
      {"playerStatistics", 1, MergePolicy::per_field({"xp"})},  // xp adds up across devices
      {"userInformation", 1, MergePolicy::per_field()},
      {"aiConfig", 1, MergePolicy::whole_entry()},
      {"integrations", 1, MergePolicy::per_field()},
  };
  return options;
}
#else
struct JournalEntry {
  std::string body;
  int mood = 0;  // 1..5
  std::vector<std::string> skills;
  std::vector<std::string> attachments;
};

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& json,
                const JournalEntry& entry) {
  json = {{"body", entry.body},
          {"mood", entry.mood},
          {"skills", boost::json::value_from(entry.skills)},
          {"attachments", boost::json::value_from(entry.attachments)}};
}

JournalEntry tag_invoke(const boost::json::value_to_tag<JournalEntry>&,
                        const boost::json::value& json) {
  const auto& object = json.as_object();
  return {boost::json::value_to<std::string>(object.at("body")),
          boost::json::value_to<int>(object.at("mood")),
          boost::json::value_to<std::vector<std::string>>(object.at("skills")),
          boost::json::value_to<std::vector<std::string>>(object.at("attachments"))};
}

const std::string& text_of(const JournalEntry& entry) {
  return entry.body;
}

// The same chains as schema-v2.json, which the dataset's owner publishes to the server
// (`cairn schema push`) so that it can translate between the two releases.
cairn::DatabaseOptions options() {
  using cairn::MergePolicy;
  using cairn::MigrationOp;
  cairn::DatabaseOptions options;
  options.stores = {
      {"journal",
       2,
       MergePolicy::whole_entry(),
       {{1,
         {MigrationOp::rename_field("text", "body"),
          MigrationOp::add_field("attachments", boost::json::array())}}}},
      graph(),
      {"playerStatistics",
       2,
       MergePolicy::per_field({"xp"}),
       {{1, {MigrationOp::add_field("streakDays", 0)}}}},
      {"userInformation",
       3,
       MergePolicy::per_field(),
       {{1, {MigrationOp::rename_field("displayName", "name")}},
        {2, {MigrationOp::add_field("preferences", boost::json::object{{"theme", "dark"}})}}}},
      {"aiConfig", 1, MergePolicy::whole_entry()},
      {"integrations", 1, MergePolicy::per_field()},
  };
  return options;
}
#endif

JournalEntry entry(std::string text, int mood, std::vector<std::string> skills) {
  JournalEntry entry;
  entry.mood = mood;
  entry.skills = std::move(skills);
#if JOURNAL_VERSION == 1
  entry.text = std::move(text);
#else
  entry.body = std::move(text);
#endif
  return entry;
}

void write_a_day(cairn::Database& db) {
  namespace json = boost::json;
  cairn::Transaction txn = db.transaction();
  txn.put_as("journal", "2026/02/01/07:30",
             entry("Ran 5 km along the river before work", 4, {"running"}));
  txn.put_as("journal", "2026/02/01/19:10",
             entry("Tried the new pasta recipe; too much salt", 3, {"cooking"}));
  txn.put_as("journal", "2026/02/02/14:30",
             entry("Two hours of piano scales, finally clean at 90 bpm", 5, {"piano"}));
  txn.put("cdagTopology", "node:running",
          json::object{{"label", "Running"}, {"parent", "node:health"}, {"weight", 0.8}});
  txn.put("cdagTopology", "node:cooking",
          json::object{{"label", "Cooking"}, {"parent", "node:home"}, {"weight", 0.5}});
  txn.put("cdagTopology", "node:piano",
          json::object{{"label", "Piano"}, {"parent", "node:music"}, {"weight", 0.9}});
  txn.put("cdagTopology", "edge:health->running",
          json::object{{"from", "node:health"}, {"to", "node:running"}});
  txn.put("playerStatistics", "running", json::object{{"xp", 120}, {"level", 3}});
  txn.put("playerStatistics", "cooking", json::object{{"xp", 40}, {"level", 1}});
  txn.increment("playerStatistics", "piano", "xp", 75);
  txn.put("userInformation", "profile",
          json::object{{"displayName", "Ada"},
                       {"timezone", "Europe/Lisbon"},
                       {"createdAt", "2026-01-15T09:00:00Z"}});
  txn.put("aiConfig", "assistant",
          json::object{{"model", "small"}, {"temperature", 0.3}, {"summaries", true}});
  txn.put("integrations", "calendar",
          json::object{{"provider", "google"}, {"enabled", true}, {"lastImport", nullptr}});
  txn.commit();
}

void list(cairn::Database& db) {
  db.for_each("journal", [](std::string_view key, const boost::json::value& value) {
    const auto entry = boost::json::value_to<JournalEntry>(value);
    std::cout << "  " << key << "  mood " << entry.mood << "  " << text_of(entry) << '\n';
    return true;
  });
}

// One sync, and what it says of entries this release cannot read.
void sync(cairn::Database& db, const std::string& server, const std::string& token) {
  cairn::SyncOptions options;
  options.server = server;
  options.token = token;
  const cairn::SyncReport report = cairn::SyncClient::sync_once(db, options);
  std::cout << "synced (version " << JOURNAL_VERSION << " of the app): sent " << report.sent
            << ", received " << report.received << '\n';
  if (report.manifests > 0) {
    std::cout << "  graph refreshed from its manifest: " << report.chunks << " chunks fetched, "
              << report.manifest_bytes << " bytes\n";
  } else {
    std::cout << "  graph within its TTL: not refreshed\n";
  }
  for (const auto& [store, entries] : cairn::SyncClient::stored_status(db).held_back_entries) {
    std::cout << "  " << entries << " entries of " << store
              << " are written by a newer release and wait for an upgrade\n";
  }
}

// The sync, write and list commands; 2 for a usage error.
int command(const std::string& path, int argc, char** argv) {
  const std::string name = argv[2];
  cairn::Database db = cairn::Database::open(path, options());
  if (name == "sync" && (argc == 4 || argc == 5)) {
    sync(db, argv[3], argc == 5 ? argv[4] : "");
  } else if (name == "write" && argc == 5) {
    db.put("journal", argv[3], boost::json::value_from(entry(argv[4], 3, {})));
  } else if (name == "list" && argc == 3) {
    list(db);
  } else if (name == "node" && argc == 5) {
    db.put("cdagTopology", argv[3], boost::json::object{{"label", argv[4]}});
  } else if (name == "graph" && argc == 3) {
    for (const std::string& key : db.keys("cdagTopology"))
      std::cout << "  " << key << '\n';
  } else {
    std::cerr << "usage: journal_example [DB] | DB sync SERVER [TOKEN] | DB write KEY TEXT | DB "
                 "list | DB node KEY LABEL | DB graph\n";
    return 2;
  }
  return 0;
}

}  // namespace app

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "journal-example.db";
  try {
    if (argc > 2) return app::command(path, argc, argv);
    {
      cairn::Database db = cairn::Database::open(path, app::options());
      cairn::Subscription progress =
          db.subscribe("playerStatistics", [](const cairn::ChangeSet& changes) {
            for (const auto& change : changes.changes) {
              std::cout << "  heard (" << cairn::origin_name(changes.origin)
                        << "): playerStatistics/" << change.key << " = "
                        << boost::json::serialize(*change.value) << '\n';
            }
          });
      std::cout << "writing a day of the roadmap's stores to " << path << '\n';
      app::write_a_day(db);
      cairn::Transaction practice = db.transaction();
      practice.increment("playerStatistics", "piano", "xp", 25);  // another session of practice
      practice.commit();
    }

    // Reopen: everything is hydrated into memory and read back without touching the disk.
    cairn::Database db = cairn::Database::open(path, app::options());
    std::cout << "\nreopened " << path << " (replica " << db.replica_id() << ")\n";
    for (const auto& store : db.stores()) {
      std::cout << "  " << store.schema.name << ": " << store.entries << " entries, " << store.bytes
                << " bytes\n";
    }
    std::cout << "\nFebruary 1st:\n";
    db.scan("journal", "2026/02/01/", "2026/02/02/",
            [&](std::string_view key, const boost::json::value&) {
              const auto entry = db.get_as<app::JournalEntry>("journal", key);
              std::cout << "  " << key << "  mood " << entry->mood << "  " << app::text_of(*entry)
                        << '\n';
              return true;
            });
    const auto piano = db.get("playerStatistics", "piano");
    std::cout << "\npiano xp: " << piano->at("xp") << '\n';
    std::cout << "pending changes for the server: " << db.pending_count() << '\n';
    if (piano->at("xp") != 100 || db.size("journal") < 3) {
      std::cerr << "unexpected data read back\n";
      return 1;
    }
  } catch (const cairn::Error& e) {
    std::cerr << "error [" << cairn::error_code_name(e.code()) << "]: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
