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
//
// Live: with --live NAME the device shows itself present as NAME and never polls, so what it
// learns of others arrives by push over the live connection. --await-peer NAME waits until a
// device NAME is present before writing; --await-note TEXT waits until a note with that text
// arrives from another device. Two devices run at once:
//
//   sync_example phone.db URL --live phone --await-note "Live from the laptop" &
//   sync_example laptop.db URL --token "$TOKEN" --live laptop --await-peer phone \
//       --note "Live from the laptop"
#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: sync_example DB SERVER [--token TOKEN] [--note TEXT] [--live NAME]\n"
                 "       [--await-peer NAME] [--await-note TEXT]\n";
    return 2;
  }
  std::string token, note, live_name, await_peer, await_note;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--token") token = argv[i + 1];
    if (flag == "--note") note = argv[i + 1];
    if (flag == "--live") live_name = argv[i + 1];
    if (flag == "--await-peer") await_peer = argv[i + 1];
    if (flag == "--await-note") await_note = argv[i + 1];
  }
  try {
    cairn::DatabaseOptions options;
    options.stores = {{"journal", 1, cairn::MergePolicy::whole_entry()},
                      {"playerStatistics", 1, cairn::MergePolicy::per_field({"xp"})}};
    cairn::Database db = cairn::Database::open(argv[1], options);

    cairn::SyncOptions sync_options;
    sync_options.server = argv[2];
    sync_options.token = token;  // empty: the kept one, or a new guest on first use
    if (!live_name.empty()) sync_options.interval = std::chrono::hours(1);  // push, never poll

    // What arrives from other devices, and who is present: the waits below watch these.
    std::mutex mutex;
    std::condition_variable heard;
    bool note_arrived = false, peer_present = false;
    cairn::Subscription arrivals = db.subscribe([&](const cairn::ChangeSet& changes) {
      if (changes.origin != cairn::Origin::remote) return;
      std::lock_guard lock(mutex);
      for (const auto& change : changes.changes) {
        std::cout << "  arrived: " << change.store << "/" << change.key << '\n';
        const boost::json::object* value = change.value ? change.value->if_object() : nullptr;
        const boost::json::value* text = value ? value->if_contains("text") : nullptr;
        if (!await_note.empty() && text && *text == await_note.c_str()) note_arrived = true;
      }
      heard.notify_all();
    });
    cairn::SyncClient sync(db, sync_options);
    cairn::Subscription presence =
        sync.subscribe_presence([&](const std::vector<cairn::Peer>& peers) {
          std::lock_guard lock(mutex);
          for (const cairn::Peer& peer : peers) {
            const boost::json::value* device = peer.state.if_contains("device");
            if (device == nullptr || !device->is_string()) continue;
            std::cout << "  present: " << std::string_view(device->get_string()) << '\n';
            if (device->get_string() == await_peer) peer_present = true;
          }
          heard.notify_all();
        });
    if (!live_name.empty()) sync.set_presence(boost::json::object{{"device", live_name}});
    const auto await = [&](bool& flag, const std::string& what) {
      std::unique_lock lock(mutex);
      if (!heard.wait_for(lock, std::chrono::seconds(30), [&] { return flag; })) {
        throw cairn::Error(cairn::ErrorCode::unavailable, "gave up waiting for " + what);
      }
    };
    if (!await_peer.empty()) {
      await(peer_present, await_peer + " to be present");
      std::cout << "saw " << await_peer << " present\n";
    }

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
    if (!await_note.empty()) {
      await(note_arrived, "the note \"" + await_note + "\"");
      std::cout << "the note \"" << await_note << "\" arrived by push\n";
    }
    std::cout << "synced as user " << sync.status().user_id << (sync.status().live ? " (live)" : "")
              << '\n';
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
