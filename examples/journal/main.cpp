// The roadmap's application, on Cairn: six stores written, closed, reopened and read back.
//
//   journal_example [DB]     (default: journal-example.db in the current directory)
//
// Shows: declaring stores with merge policies, typed entries (JournalEntry through Boost.JSON's
// value_from/value_to), a transaction across stores, counter fields, subscriptions, and reading
// everything back after a reopen, from memory.
#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <iostream>

namespace app {

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

cairn::DatabaseOptions options() {
  using cairn::MergePolicy;
  cairn::DatabaseOptions options;
  options.stores = {
      {"journal", 1, MergePolicy::whole_entry()},               // one entry per moment
      {"cdagTopology", 1, MergePolicy::per_field()},            // graph nodes and edges
      {"playerStatistics", 1, MergePolicy::per_field({"xp"})},  // xp adds up across devices
      {"userInformation", 1, MergePolicy::per_field()},
      {"aiConfig", 1, MergePolicy::whole_entry()},
      {"integrations", 1, MergePolicy::per_field()},
  };
  return options;
}

void write_a_day(cairn::Database& db) {
  namespace json = boost::json;
  cairn::Transaction txn = db.transaction();
  txn.put_as("journal", "2026/02/01/07:30",
             JournalEntry{"Ran 5 km along the river before work", 4, {"running"}});
  txn.put_as("journal", "2026/02/01/19:10",
             JournalEntry{"Tried the new pasta recipe; too much salt", 3, {"cooking"}});
  txn.put_as("journal", "2026/02/02/14:30",
             JournalEntry{"Two hours of piano scales, finally clean at 90 bpm", 5, {"piano"}});
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

}  // namespace app

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "journal-example.db";
  try {
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
              std::cout << "  " << key << "  mood " << entry->mood << "  " << entry->text << '\n';
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
