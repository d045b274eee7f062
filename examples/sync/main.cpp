// One device of the roadmap's app, syncing through cairnd. Run it as two processes — two
// devices of one user — and watch them converge:
//
//   sync_example phone.db http://127.0.0.1:8787 --note "Ran 5 km"          # creates a guest
//   TOKEN=$(cairn status phone.db --show-token)
//   sync_example laptop.db http://127.0.0.1:8787 --token "$TOKEN" --note "Cooked dinner"
//   sync_example phone.db http://127.0.0.1:8787                             # sees both notes
//
// Each run writes a journal note and 10 xp of practice, syncs in the background while it works,
// waits until everything is acknowledged, and prints what it holds.
#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <chrono>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: sync_example DB SERVER [--token TOKEN] [--note TEXT]\n";
    return 2;
  }
  std::string token, note;
  for (int i = 3; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--token") token = argv[i + 1];
    if (std::string(argv[i]) == "--note") note = argv[i + 1];
  }
  try {
    cairn::DatabaseOptions options;
    options.stores = {{"journal", 1, cairn::MergePolicy::whole_entry()},
                      {"playerStatistics", 1, cairn::MergePolicy::per_field({"xp"})}};
    cairn::Database db = cairn::Database::open(argv[1], options);

    cairn::SyncOptions sync_options;
    sync_options.server = argv[2];
    sync_options.token = token;  // empty: the kept one, or a new guest on first use
    cairn::SyncClient sync(db, sync_options);
    cairn::Subscription arrivals = db.subscribe([](const cairn::ChangeSet& changes) {
      if (changes.origin != cairn::Origin::remote) return;
      for (const auto& change : changes.changes) {
        std::cout << "  arrived: " << change.store << "/" << change.key << '\n';
      }
    });

    // The app works on local data at once; sync catches up in the background.
    if (!note.empty()) {
      const auto now = std::chrono::system_clock::now().time_since_epoch();
      const std::string key =
          "note/" +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
      cairn::Transaction txn = db.transaction();
      txn.put("journal", key, boost::json::object{{"text", note}});
      txn.increment("playerStatistics", "practice", "xp", 10);
      txn.commit();
    }

    if (!sync.wait_until_synced(std::chrono::seconds(30))) {
      const cairn::SyncStatus status = sync.status();
      std::cerr << "not synced: " << cairn::sync_state_name(status.state) << ", " << status.pending
                << " pending, " << status.last_error << '\n';
      return 1;
    }
    std::cout << "synced as user " << sync.status().user_id << '\n';
    db.for_each("journal", [](std::string_view key, const boost::json::value& value) {
      std::cout << "  " << key << "  " << value.at("text").as_string() << '\n';
      return true;
    });
    const auto practice = db.get("playerStatistics", "practice");
    std::cout << "  practice xp " << (practice ? practice->at("xp").as_int64() : 0) << '\n';
  } catch (const cairn::Error& e) {
    std::cerr << "error [" << cairn::error_code_name(e.code()) << "]: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
