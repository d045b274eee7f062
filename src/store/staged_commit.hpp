// StagedCommit — the entries one commit changes, staged against the committed state before
// anything is written. Local transactions (commit.cpp) and what sync brings (remote_apply.cpp)
// both stage their entries here, and StoreEngine::publish writes them, commits and applies them
// to memory, so that both paths keep the same invariants: a row is written only for an entry
// that changed, and a store's counts and bytes follow its entries.
//
// Used under the engine's write lock; slot() reads the committed state, so its caller also holds
// the state lock, shared at least.
#pragma once

#include <cairn/change.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/store_engine.hpp"

namespace cairn {

class StagedCommit {
 public:
  explicit StagedCommit(Origin origin) : change_set_{origin, {}} {}

  struct Slot {
    StoreState* store = nullptr;
    const StoredEntry* committed = nullptr;  // null when the key is new
    std::optional<StoredEntry> next;         // as this commit leaves it; empty while unchanged
    std::string text;  // next's value as JSON text when live (publish computes it when empty)
  };
  // Keyed by views: the keys a commit stages must outlive it (the transaction's writes, the
  // entries a sync brought).
  using Slots = std::map<std::pair<StoreState*, std::string_view>, Slot>;

  // The slot of (store, key), made on first use.
  Slot& slot(StoreState& store, std::string_view key);
  // The entry as it was committed, and as this commit leaves it so far (an absent entry is a
  // zero-stamped tombstone).
  static const StoredEntry& committed(const Slot& slot);
  static const StoredEntry& current(const Slot& slot);
  // The next entry, starting as a copy of the current one.
  static StoredEntry& edit(Slot& slot);
  // Sets the next entry, with its value's text when it is live, and its size in bytes.
  static void set(Slot& slot, std::string_view key, StoredEntry next, std::string text);

  Slots& slots() { return slots_; }

  // Outbox records of (store, key) the server acknowledged in this commit: publish lowers the
  // entry's pending count in memory once the entry's staged state (if any) is in place. (The
  // file needs no write for them: deleting the outbox records is the acknowledgement.)
  struct Acknowledged {
    StoreState* store;
    std::string key;
    std::uint32_t records;
  };
  void acknowledge(StoreState& store, std::string key, std::uint32_t records) {
    acknowledged_.push_back({&store, std::move(key), records});
  }
  const std::vector<Acknowledged>& acknowledged() const { return acknowledged_; }
  // What subscribers will hear, in the order the commit made the changes.
  ChangeSet& change_set() { return change_set_; }
  // Adds to it that (store, key) went from `before` to `next`, by the write stamped `hlc`.
  void record(std::string_view store, std::string_view key, const merge::Entry& next,
              const merge::Entry& before, Timestamp hlc) {
    const auto value_of = [](const merge::Entry& entry) {
      return entry.deleted ? std::nullopt : std::optional<boost::json::value>(entry.value);
    };
    change_set_.changes.push_back(
        {std::string(store), std::string(key), value_of(next), value_of(before), hlc});
  }

 private:
  Slots slots_;
  std::vector<Acknowledged> acknowledged_;
  ChangeSet change_set_;
};

// Whether two entries are in the same state: value, stamps, floor and schema version.
bool same_state(const merge::Entry& a, const merge::Entry& b);

}  // namespace cairn
