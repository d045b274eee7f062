// StoreEngine's side of sync: acknowledgements and the server's entry states, applied in one
// transaction, and the sync state kept in the file.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "foundation/json_text.hpp"
#include "migration/translate.hpp"
#include "store/staged_commit.hpp"

namespace cairn {
namespace json = boost::json;

LocalFile::SyncState StoreEngine::sync_state() {
  MutexLock lock(write_mutex_);
  return file_.sync_state();
}

void StoreEngine::save_sync_state(const LocalFile::SyncState& state) {
  MutexLock lock(write_mutex_);
  file_.save_sync_state(state);
}

void StoreEngine::renumber_outbox(std::uint64_t first) {
  MutexLock lock(write_mutex_);
  sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
  const std::uint64_t next = file_.renumber_outbox(first);
  file_.save_clock(clock_->last(), next);
  guard.commit();
  next_seq_ = next;
}

std::uint64_t StoreEngine::acknowledged_through() {
  MutexLock lock(write_mutex_);
  return next_seq_ - 1 - pending_.load();
}

void StoreEngine::become_new_replica() {
  MutexLock lock(write_mutex_);
  sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
  auto [ref, id] = file_.new_own_replica();
  const std::uint64_t next = file_.renumber_outbox(1);
  file_.save_clock(clock_->last(), next);
  guard.commit();
  self_ = replicas_.add(ref, std::move(id));
  next_seq_ = next;
}

std::size_t StoreEngine::requeue_own_writes() {
  MutexLock lock(write_mutex_);
  std::vector<std::pair<StoredEntry*, std::uint32_t>> queued;  // entry, records added
  std::uint64_t seq = next_seq_;
  sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
  {
    ReaderLock state_lock(state_mutex_);
    for (auto& [name, store] : stores_) {
      if (store.status || store.id == 0) continue;  // not writable here
      for (auto& [key, entry] : store.entries) {
        const std::vector<merge::Change> changes =
            merge::own_writes(entry, store.schema.policy, *self_);
        if (changes.empty()) continue;
        for (const merge::Change& change : changes) {
          file_.append_outbox({seq++, store.id, key, std::string(merge::op_name(change.op)),
                               json_text(merge::change_payload(change)), change.stamp.hlc,
                               change.schema_version});
        }
        queued.emplace_back(&entry, static_cast<std::uint32_t>(changes.size()));
      }
    }
  }
  const std::size_t added = seq - next_seq_;
  if (added == 0) return 0;
  file_.save_clock(clock_->last(), seq);
  guard.commit();
  next_seq_ = seq;
  pending_ += added;
  WriterLock state_lock(state_mutex_);
  for (auto& [entry, records] : queued)
    entry->pending += records;
  return added;
}

std::vector<StoreEngine::DocumentKey> StoreEngine::take_stale_documents() {
  MutexLock lock(stale_mutex_);
  std::vector<DocumentKey> taken(stale_documents_.begin(), stale_documents_.end());
  stale_documents_.clear();
  return taken;
}

void StoreEngine::note_stale_document(DocumentKey document) {
  MutexLock lock(stale_mutex_);
  stale_documents_.insert(std::move(document));
}

bool StoreEngine::has_stale_documents() {
  MutexLock lock(stale_mutex_);
  return !stale_documents_.empty();
}

bool StoreEngine::apply_document(std::string_view store_name, std::string_view key,
                                 std::string_view update) {
  if (options_.read_only) {
    throw Error(ErrorCode::read_only, "a read-only database cannot sync");
  }
  MutexLock write_lock(write_mutex_);
  StagedCommit staged(Origin::remote);
  const bool notify = !subscribers_.empty();
  {
    ReaderLock state_lock(state_mutex_);
    StoreState& store = writable_store(store_name);
    require_documents(store);
    StagedCommit::Slot& slot = staged.slot(store, key);
    const StoredEntry& current = StagedCommit::current(slot);
    // Stamped by this replica, which merged it: a document's stamp only orders its metadata.
    std::optional<merge::LocalWrite> plan = merge::plan_update(
        current, std::string(update), {clock_->now(), self_}, store.schema.version);
    if (!plan) return false;
    StoredEntry next;
    static_cast<merge::Entry&>(next) = std::move(plan->entry);
    next.pending = current.pending;
    if (notify) {
      staged.record(store.schema.name, key, next, current, next.stamp.hlc);
    }
    std::string text = json_text(next.value);
    StagedCommit::set(slot, key, std::move(next), std::move(text));
  }
  sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
  file_.save_clock(clock_->last(), next_seq_);
  publish(staged, guard);
  if (!notify) return true;
  RecursiveLock notify_lock(notify_mutex_);
  write_lock.unlock();
  subscribers_.notify(staged.change_set());
  return true;
}

StoreEngine::RemoteApplied StoreEngine::apply_sync(std::uint64_t acked_through,
                                                   std::vector<RemoteEntry> entries,
                                                   LocalFile::SyncState state,
                                                   std::vector<RemoteEntry> before_ack) {
  return apply_remote(acked_through, std::move(entries), std::move(state), std::move(before_ack),
                      nullptr);
}

StoreEngine::RemoteApplied StoreEngine::apply_manifest(ManifestRefresh refresh) {
  std::vector<RemoteEntry> entries = std::move(refresh.entries);
  return apply_remote(0, std::move(entries), sync_state(), {}, &refresh);
}

StoreEngine::RemoteApplied StoreEngine::apply_remote(std::uint64_t acked_through,
                                                     std::vector<RemoteEntry> entries,
                                                     LocalFile::SyncState state,
                                                     std::vector<RemoteEntry> before_ack,
                                                     const ManifestRefresh* refresh) {
  if (options_.read_only) {
    throw Error(ErrorCode::read_only, "a read-only database cannot sync");
  }
  MutexLock write_lock(write_mutex_);
  RemoteApplied result;
  StagedCommit staged(Origin::remote);
  const bool notify = !subscribers_.empty();
  const bool holding = !file_.held_back_counts().empty();
  const bool resyncing = file_.has_unconfirmed();  // begin_resync: what the feed brings is there
  std::vector<std::uint32_t> new_refs;
  std::vector<std::pair<StoreState*, std::string>> forgotten;  // by a manifest refresh
  const auto intern = [&](const merge::Stamp& stamp) REQUIRES(write_mutex_) -> merge::Stamp {
    if (stamp.replica == nullptr) return stamp;
    if (const std::string* known = replicas_.find(*stamp.replica)) return {stamp.hlc, known};
    const std::uint32_t ref = file_.insert_replica(*stamp.replica);
    new_refs.push_back(ref);
    return {stamp.hlc, replicas_.add(ref, *stamp.replica)};
  };

  // The server's states, with this replica's pending changes (its outbox records) rebased on
  // top. The entry keeps its pending count; the acknowledgement lowers it when published.
  const auto merge_entries = [&](std::vector<RemoteEntry>& remotes) REQUIRES(
                                 write_mutex_) REQUIRES_SHARED(state_mutex_) {
    for (RemoteEntry& remote : remotes) {
      auto found = stores_.find(remote.store);
      if (found == stores_.end()) {  // a store this build does not declare: kept on the server
        ++result.skipped;
        state.skipped_stores = true;
        continue;
      }
      StoreState& store = found->second;
      if (resyncing) file_.confirm(store.id, remote.key);
      if (store.schema.policy.kind == MergePolicy::Kind::text) {
        // The server's entry of a document marks that it changed; its state comes from the
        // document (apply_document).
        note_stale_document({store.schema.name, remote.key});
        continue;
      }
      merge::Entry incoming = std::move(remote.entry);
      const std::uint32_t declared = store.schema.version;
      // Older entries are migrated on arrival; newer ones translated down through lenses, or
      // held back untouched on the server until this application upgrades (the server holds
      // back what it cannot translate for this version; this build, what it cannot).
      if (remote.held_back ||
          (incoming.schema_version != declared && !incoming.deleted &&
           !can_migrate_entry(store.schema, incoming.schema_version, declared))) {
        ++result.held;
        if (incoming.schema_version > declared) {
          state.held_back = true;
          file_.hold_back(store.id, remote.key, incoming.schema_version);
        }
        continue;
      }
      if (holding) file_.release_held(store.id, remote.key);
      if (incoming.schema_version != declared && !incoming.deleted) {
        translate_entry(store.schema, incoming, declared, remote.key);
      }
      if (incoming.deleted) incoming.value = nullptr;
      incoming.schema_version = std::max(incoming.schema_version, std::uint32_t{1});
      if (incoming.schema_version > declared) incoming.schema_version = declared;
      incoming.stamp = intern(incoming.stamp);
      incoming.floor = intern(incoming.floor);
      for (auto& field : incoming.fields)
        field.stamp = intern(field.stamp);
      clock_->receive(incoming.stamp.hlc);

      StagedCommit::Slot& slot = staged.slot(store, remote.key);
      const StoredEntry& current = StagedCommit::current(slot);
      StoredEntry next;
      static_cast<merge::Entry&>(next) = std::move(incoming);
      next.pending = current.pending;
      if (next.pending > 0) {
        for (const auto& record : file_.outbox_for_entry(store.id, remote.key)) {
          const merge::Change change = merge::change_from_payload(
              record.op, json::parse(record.payload), {record.hlc, self_}, record.schema_version);
          merge::apply_change(next, change, store.schema.policy);
        }
      }
      if (same_state(next, current)) continue;  // what this replica has already
      ++result.applied;
      const StoredEntry& before = StagedCommit::committed(slot);
      if (notify && !(next.deleted && before.deleted) &&
          (next.deleted != before.deleted || next.value != before.value)) {
        staged.record(store.schema.name, remote.key, next, before, next.stamp.hlc);
      }
      std::string text = next.deleted ? std::string() : json_text(next.value);
      StagedCommit::set(slot, remote.key, std::move(next), std::move(text));
    }
  };

  try {
    sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
    {
      ReaderLock state_lock(state_mutex_);
      merge_entries(before_ack);

      // The acknowledgement: those changes are the server's now. Their outbox records go (the
      // entries' rows stay as they are); publish lowers the pending counts in memory.
      std::map<std::pair<std::uint32_t, std::string>, std::uint32_t> acked;
      file_.for_each_outbox_through(acked_through,
                                    [&](std::uint32_t store_id, std::string_view key) {
                                      ++acked[{store_id, std::string(key)}];
                                      ++result.acknowledged;
                                    });
      if (result.acknowledged > 0) file_.delete_outbox_through(acked_through);
      std::map<std::uint32_t, StoreState*> by_id;
      if (!acked.empty()) {
        for (auto& [name, store] : stores_)
          by_id[store.id] = &store;
      }
      for (auto& [id_key, count] : acked) {
        auto store = by_id.find(id_key.first);
        if (store != by_id.end()) staged.acknowledge(*store->second, id_key.second, count);
      }

      merge_entries(entries);
      if (refresh) {
        std::set<std::string_view> fetched;
        for (const RemoteEntry& entry : entries)
          fetched.insert(entry.key);
        StoreState& store = writable_store(refresh->store);
        // The key ranges of what the refresh replaces: the removed chunks' (everything, whole).
        std::vector<std::pair<std::string, std::optional<std::string>>> ranges;
        if (refresh->whole) {
          ranges.emplace_back("", std::nullopt);
          file_.clear_manifest(store.id);
        } else {
          std::map<std::string, LocalFile::ManifestChunk> held;
          for (auto& chunk : file_.manifest_chunks(store.id))
            held.emplace(chunk.name, std::move(chunk));
          for (const std::string& name : refresh->removed) {
            auto chunk = held.find(name);
            if (chunk == held.end()) continue;
            ranges.emplace_back(chunk->second.first_key, chunk->second.last_key);
            file_.delete_manifest_chunk(store.id, name);
          }
        }
        for (const auto& [first, last] : ranges) {
          const auto end = last ? store.entries.upper_bound(*last) : store.entries.end();
          for (auto it = store.entries.lower_bound(first); it != end; ++it) {
            // (fetched takes each key once: ranges of a verified manifest do not overlap, but a
            // held one is not trusted that far)
            if (it->second.pending > 0 || !fetched.insert(it->first).second) continue;
            file_.delete_entry(store.id, it->first);
            forgotten.emplace_back(&store, it->first);
          }
        }
        for (const LocalFile::ManifestChunk& chunk : refresh->added)
          file_.put_manifest_chunk(store.id, chunk);
        file_.save_manifest(store.id, refresh->manifest);
      }
    }
    file_.save_sync_state(state);
    file_.save_clock(clock_->last(), next_seq_);
    publish(staged, guard);
  } catch (...) {
    for (std::uint32_t ref : new_refs)
      replicas_.forget(ref);
    throw;
  }
  pending_ -= std::min<std::uint64_t>(pending_, result.acknowledged);
  if (!forgotten.empty()) {
    erase_forgotten(forgotten, staged.change_set());
    result.forgotten = forgotten.size();
  }

  if (!notify || staged.change_set().changes.empty()) return result;
  RecursiveLock notify_lock(notify_mutex_);
  write_lock.unlock();
  subscribers_.notify(staged.change_set());
  return result;
}

}  // namespace cairn
