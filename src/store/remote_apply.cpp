// Database::Impl's side of sync: acknowledgements and the server's entry states, applied in one
// transaction, and the sync state kept in the file.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "protocol/wire.hpp"
#include "store/database_impl.hpp"

namespace cairn {
namespace json = boost::json;

LocalFile::SyncState Database::Impl::sync_state() {
  std::lock_guard lock(write_mutex_);
  return file_.sync_state();
}

void Database::Impl::save_sync_state(const LocalFile::SyncState& state) {
  std::lock_guard lock(write_mutex_);
  file_.save_sync_state(state);
}

void Database::Impl::renumber_outbox(std::uint64_t first) {
  std::lock_guard lock(write_mutex_);
  sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
  const std::uint64_t next = file_.renumber_outbox(first);
  file_.save_clock(clock_->last(), next);
  guard.commit();
  next_seq_ = next;
}

std::uint64_t Database::Impl::acknowledged_through() {
  std::lock_guard lock(write_mutex_);
  return next_seq_ - 1 - pending_.load();
}

void Database::Impl::become_new_replica() {
  std::lock_guard lock(write_mutex_);
  sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
  auto [ref, id] = file_.new_own_replica();
  const std::uint64_t next = file_.renumber_outbox(1);
  file_.save_clock(clock_->last(), next);
  guard.commit();
  self_ = replicas_.add(ref, std::move(id));
  next_seq_ = next;
}

std::size_t Database::Impl::requeue_own_writes() {
  std::lock_guard lock(write_mutex_);
  std::vector<std::pair<StoredEntry*, std::uint32_t>> queued;  // entry, records added
  std::uint64_t seq = next_seq_;
  sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
  for (auto& [name, store] : stores_) {
    if (store.status || store.id == 0) continue;  // not writable here
    for (auto& [key, entry] : store.entries) {
      const std::vector<merge::Change> changes =
          merge::own_writes(entry, store.schema.policy, *self_);
      if (changes.empty()) continue;
      for (const merge::Change& change : changes) {
        file_.append_outbox({seq++, store.id, key, std::string(merge::op_name(change.op)),
                             json::serialize(merge::change_payload(change)), change.stamp.hlc,
                             change.schema_version});
      }
      const auto records = static_cast<std::uint32_t>(changes.size());
      file_.add_pending(store.id, key, records);
      queued.emplace_back(&entry, records);
    }
  }
  const std::size_t added = seq - next_seq_;
  if (added == 0) return 0;
  file_.save_clock(clock_->last(), seq);
  guard.commit();
  next_seq_ = seq;
  pending_ += added;
  std::unique_lock state_lock(state_mutex_);
  for (auto& [entry, records] : queued)
    entry->pending += records;
  return added;
}

namespace {

bool same_state(const merge::Entry& a, const merge::Entry& b) {
  const auto same_fields = [&] {
    if (a.fields.size() != b.fields.size()) return false;
    for (std::size_t i = 0; i < a.fields.size(); ++i) {
      if (a.fields[i].name != b.fields[i].name || !(a.fields[i].stamp == b.fields[i].stamp) ||
          a.fields[i].deleted != b.fields[i].deleted) {
        return false;
      }
    }
    return true;
  };
  return a.deleted == b.deleted && (a.deleted || a.value == b.value) && a.stamp == b.stamp &&
         a.floor == b.floor && a.schema_version == b.schema_version && same_fields();
}

}  // namespace

Database::Impl::RemoteApplied Database::Impl::apply_sync(std::uint64_t acked_through,
                                                         const std::vector<RemoteEntry>& entries,
                                                         LocalFile::SyncState state) {
  if (options_.read_only) {
    throw Error(ErrorCode::read_only, "a read-only database cannot sync");
  }
  std::unique_lock write_lock(write_mutex_);
  RemoteApplied result;
  std::map<std::uint32_t, StoreState*> by_id;
  for (auto& [name, store] : stores_)
    by_id[store.id] = &store;

  struct Staged {
    StoreState* store;
    const StoredEntry* committed;
    StoredEntry next;
    std::string text;
  };
  std::map<std::pair<StoreState*, std::string>, Staged> staged;
  const auto slot = [&](StoreState& store, const std::string& key) -> Staged& {
    auto [it, inserted] = staged.try_emplace({&store, key});
    if (inserted) {
      auto found = store.entries.find(key);
      it->second.store = &store;
      it->second.committed = found == store.entries.end() ? nullptr : &found->second;
      if (it->second.committed) it->second.next = *it->second.committed;
    }
    return it->second;
  };
  const bool notify = !subscribers_->empty();
  ChangeSet change_set{Origin::remote, {}};
  std::vector<std::uint32_t> new_refs;
  const auto intern = [&](const merge::Stamp& stamp) -> merge::Stamp {
    if (stamp.replica == nullptr) return stamp;
    if (const std::string* known = replicas_.find(*stamp.replica)) return {stamp.hlc, known};
    const std::uint32_t ref = file_.insert_replica(*stamp.replica);
    new_refs.push_back(ref);
    return {stamp.hlc, replicas_.add(ref, *stamp.replica)};
  };

  try {
    sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);

    // 1. The acknowledgement: those changes are the server's now.
    std::map<std::pair<std::uint32_t, std::string>, std::uint32_t> acked;
    file_.for_each_outbox_through(acked_through, [&](std::uint32_t store_id, std::string_view key) {
      ++acked[{store_id, std::string(key)}];
      ++result.acknowledged;
    });
    if (result.acknowledged > 0) file_.delete_outbox_through(acked_through);
    for (const auto& [id_key, count] : acked) {
      auto store = by_id.find(id_key.first);
      if (store == by_id.end()) continue;
      Staged& s = slot(*store->second, id_key.second);
      s.next.pending = s.next.pending > count ? s.next.pending - count : 0;
    }

    // 2. The server's states, with this replica's pending changes rebased on top.
    protocol::ReplicaInterner wire_replicas;
    for (const RemoteEntry& remote : entries) {
      auto found = stores_.find(remote.store);
      if (found == stores_.end()) {  // a store this build does not declare: kept on the server
        ++result.skipped;
        state.skipped_stores = true;
        continue;
      }
      StoreState& store = found->second;
      merge::Entry incoming;
      protocol::entry_meta_from_json(remote.meta, incoming, wire_replicas);
      incoming.deleted = !remote.value.has_value();
      if (remote.value) incoming.value = *remote.value;
      const std::uint32_t declared = store.schema.version;
      if (incoming.schema_version != declared && !incoming.deleted) {
        // Older entries are migrated on arrival; newer ones translated down through lenses, or
        // held back untouched on the server until this application upgrades.
        if (!can_migrate_entry(store.schema, incoming.schema_version, declared)) {
          ++result.held;
          if (incoming.schema_version > declared) state.held_back = true;
          continue;
        }
        json::value migrated = migrate_entry(store.schema, incoming.value, incoming.schema_version,
                                             declared, remote.key);
        if (migrated != incoming.value) incoming.fields.clear();  // they name the old fields
        incoming.value = std::move(migrated);
      }
      if (incoming.deleted) incoming.value = nullptr;
      incoming.schema_version = std::max(incoming.schema_version, std::uint32_t{1});
      if (incoming.schema_version > declared) incoming.schema_version = declared;
      incoming.stamp = intern(incoming.stamp);
      incoming.floor = intern(incoming.floor);
      for (auto& field : incoming.fields)
        field.stamp = intern(field.stamp);
      clock_->receive(incoming.stamp.hlc);

      Staged& s = slot(store, remote.key);
      StoredEntry next;
      static_cast<merge::Entry&>(next) = std::move(incoming);
      next.pending = s.next.pending;
      if (next.pending > 0) {
        for (const auto& record : file_.outbox_for_entry(store.id, remote.key)) {
          const merge::Change change = merge::change_from_payload(
              record.op, json::parse(record.payload), {record.hlc, self_}, record.schema_version);
          merge::apply_change(next, change, store.schema.policy);
        }
      }
      s.text = next.deleted ? std::string() : json::serialize(next.value);
      next.bytes = next.deleted ? 0 : static_cast<std::uint32_t>(remote.key.size() + s.text.size());
      static const merge::Entry kAbsent;
      const merge::Entry& before =
          s.committed ? static_cast<const merge::Entry&>(*s.committed) : kAbsent;

      if (!same_state(next, s.next)) ++result.applied;
      if (notify && !(next.deleted && before.deleted) &&
          (next.deleted != before.deleted || next.value != before.value)) {
        change_set.changes.push_back(
            {store.schema.name, remote.key,
             next.deleted ? std::nullopt : std::optional<json::value>(next.value),
             before.deleted ? std::nullopt : std::optional<json::value>(before.value),
             next.stamp.hlc});
      }
      s.next = std::move(next);
    }

    for (auto& [key, s] : staged) {
      if (s.committed && same_state(s.next, *s.committed) &&
          s.next.pending == s.committed->pending) {
        continue;
      }
      if (s.text.empty() && !s.next.deleted) s.text = json::serialize(s.next.value);
      const std::string stamps = encode_field_stamps(s.next, replicas_);
      LocalFile::EntryRow row;
      row.key = key.second;
      if (!s.next.deleted) row.value = s.text;
      row.hlc = s.next.stamp.hlc;
      row.replica_ref = replicas_.ref_of(s.next.stamp.replica);
      row.schema_version = s.next.schema_version;
      row.field_stamps = stamps;
      row.pending = s.next.pending;
      file_.write_entry(s.store->id, row);
    }
    file_.save_sync_state(state);
    file_.save_clock(clock_->last(), next_seq_);
    guard.commit();
  } catch (...) {
    for (std::uint32_t ref : new_refs)
      replicas_.forget(ref);
    throw;
  }
  pending_ -= std::min<std::uint64_t>(pending_, result.acknowledged);

  {
    std::unique_lock state_lock(state_mutex_);
    for (auto& [key, s] : staged)
      s.store->replace(key.second, s.committed, std::move(s.next));
  }
  if (!notify || change_set.changes.empty()) return result;
  std::lock_guard notify_lock(notify_mutex_);
  write_lock.unlock();
  subscribers_->notify(change_set);
  return result;
}

}  // namespace cairn
