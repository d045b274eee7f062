// StoreEngine's side of tombstone compaction (docs/sync.md, "Deletes and compaction"): what a
// resync after the server compacted deletes away leaves unconfirmed is forgotten, and tombstones
// older than the retention window that the server has are dropped.
#include <cairn/error.hpp>

#include "store/store_engine.hpp"

namespace cairn {

void StoreEngine::begin_resync(const LocalFile::SyncState& state) {
  if (options_.read_only) {
    throw Error(ErrorCode::read_only, "a read-only database cannot sync");
  }
  MutexLock lock(write_mutex_);
  sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
  file_.save_sync_state(state);
  file_.mark_unconfirmed();
  guard.commit();
}

std::size_t StoreEngine::finish_resync() {
  MutexLock write_lock(write_mutex_);
  if (!file_.has_unconfirmed()) return 0;
  std::map<std::uint32_t, StoreState*> by_id;
  std::vector<std::pair<StoreState*, std::string>> gone;
  {
    ReaderLock state_lock(state_mutex_);
    for (auto& [name, store] : stores_) {
      // Writable here, and followed in the feed (not hydrated by manifest).
      if (!store.status && store.id != 0 && !store.schema.manifest) by_id[store.id] = &store;
    }
    for (auto& [store_id, key] : file_.unconfirmed()) {
      auto store = by_id.find(store_id);
      if (store == by_id.end()) continue;  // a store this build does not write: left as it is
      auto entry = store->second->entries.find(key);
      if (entry == store->second->entries.end() || entry->second.pending > 0) continue;
      gone.emplace_back(store->second, std::move(key));
    }
  }
  const ChangeSet forgotten = forget(gone, true);
  if (!forgotten.changes.empty()) {
    RecursiveLock notify_lock(notify_mutex_);
    write_lock.unlock();
    subscribers_.notify(forgotten);
  }
  return gone.size();
}

std::size_t StoreEngine::drop_tombstones(std::chrono::milliseconds retention) {
  if (options_.read_only || retention.count() <= 0) return 0;
  MutexLock write_lock(write_mutex_);
  const auto now_ms = static_cast<std::int64_t>(clock_->physical_now_ms());
  if (now_ms <= retention.count()) return 0;
  const Timestamp before(static_cast<std::uint64_t>(now_ms - retention.count()), 0);
  std::vector<std::pair<StoreState*, std::string>> old;
  {
    ReaderLock state_lock(state_mutex_);
    for (auto& [name, store] : stores_) {
      if (store.status || store.id == 0 || store.tombstones == 0) continue;
      for (const auto& [key, entry] : store.entries) {
        if (entry.deleted && entry.pending == 0 && entry.stamp.hlc < before)
          old.emplace_back(&store, key);
      }
    }
  }
  const ChangeSet forgotten = forget(old, false);
  if (!forgotten.changes.empty()) {  // none: tombstones were deleted already
    RecursiveLock notify_lock(notify_mutex_);
    write_lock.unlock();
    subscribers_.notify(forgotten);
  }
  return old.size();
}

ChangeSet StoreEngine::forget(const std::vector<std::pair<StoreState*, std::string>>& keys,
                              bool resync_done) {
  ChangeSet forgotten{Origin::remote, {}};
  if (keys.empty() && !resync_done) return forgotten;
  sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
  for (const auto& [store, key] : keys)
    file_.delete_entry(store->id, key);
  if (resync_done) file_.clear_unconfirmed();
  guard.commit();

  erase_forgotten(keys, forgotten);
  return forgotten;
}

void StoreEngine::erase_forgotten(const std::vector<std::pair<StoreState*, std::string>>& keys,
                                  ChangeSet& heard) {
  const bool notify = !subscribers_.empty();
  {
    WriterLock state_lock(state_mutex_);
    for (const auto& [store, key] : keys) {
      const StoredEntry& entry = store->entries.find(key)->second;
      if (notify && !entry.deleted) {
        heard.changes.push_back(
            {store->schema.name, key, std::nullopt, entry.value, clock_->last()});
      }
      store->erase(key);
    }
  }
  std::vector<StoreState*> shrunk;
  for (const auto& [store, key] : keys) {
    if (shrunk.empty() || shrunk.back() != store) shrunk.push_back(store);
  }
  check_quota(shrunk);
}

}  // namespace cairn
