// Local writes: a transaction's writes planned with the merge module, checked, and committed
// through StagedCommit, the one path by which entries reach the file and memory.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "crdt/doc.hpp"
#include "foundation/json_text.hpp"
#include "foundation/limits.hpp"
#include "store/staged_commit.hpp"

namespace cairn {
namespace json = boost::json;

namespace {

// A write planned against the entry as it stands: the entry as it will be, the change that
// describes it (for the outbox), and the next value's JSON text when it is live.
struct PlannedWrite {
  merge::LocalWrite write;
  std::string text;
};

// How a transaction's write changes `current`; nothing when it would change nothing. The one
// planning of local writes: commit applies it, and Transaction::get shows it (preview). Throws
// Error for a value the policy refuses or one that grows over the value limit.
std::optional<PlannedWrite> plan_write(const merge::Entry& current, const PendingWrite& write,
                                       const StoreState& store, merge::Stamp stamp,
                                       const Limits& limits) {
  const MergePolicy& policy = store.schema.policy;
  const std::uint32_t version = store.schema.version;
  switch (write.kind) {
    case PendingWrite::Kind::put:
      if (auto plan = merge::plan_put(current, write.value, policy, stamp, version)) {
        return PlannedWrite{std::move(*plan), write.serialized};
      }
      return std::nullopt;
    case PendingWrite::Kind::erase:
      if (auto plan = merge::plan_erase(current, policy, stamp, version)) {
        return PlannedWrite{std::move(*plan), {}};
      }
      return std::nullopt;
    case PendingWrite::Kind::update: {
      std::optional<merge::LocalWrite> plan =
          merge::plan_update(current, write.serialized, stamp, version);
      if (!plan) return std::nullopt;
      std::string text = json_text(plan->entry.value);
      check_value_size(write.store, write.key, text.size(), limits);
      return PlannedWrite{std::move(*plan), std::move(text)};
    }
    case PendingWrite::Kind::increment: {
      merge::LocalWrite plan =
          merge::plan_increment(current, write.field, write.delta, policy, stamp, version);
      std::string text = json_text(plan.entry.value);
      check_value_size(write.store, write.key, text.size(), limits);
      return PlannedWrite{std::move(plan), std::move(text)};
    }
  }
  return std::nullopt;
}

const StoredEntry kAbsent;

}  // namespace

StagedCommit::Slot& StagedCommit::slot(StoreState& store, std::string_view key) {
  auto [it, inserted] = slots_.try_emplace({&store, key});
  if (inserted) {
    auto found = store.entries.find(key);
    it->second.store = &store;
    it->second.committed = found == store.entries.end() ? nullptr : &found->second;
  }
  return it->second;
}

const StoredEntry& StagedCommit::committed(const Slot& slot) {
  return slot.committed ? *slot.committed : kAbsent;
}

const StoredEntry& StagedCommit::current(const Slot& slot) {
  return slot.next ? *slot.next : committed(slot);
}

StoredEntry& StagedCommit::edit(Slot& slot) {
  if (!slot.next) slot.next = current(slot);
  return *slot.next;
}

void StagedCommit::set(Slot& slot, std::string_view key, StoredEntry next, std::string text) {
  next.bytes = next.deleted ? 0 : static_cast<std::uint32_t>(key.size() + text.size());
  slot.next = std::move(next);
  slot.text = std::move(text);
}

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

StoreState& StoreEngine::writable_store(std::string_view name) {
  StoreState& state = const_cast<StoreState&>(find_store(name));
  if (state.status == ErrorCode::schema_too_new) {
    throw Error(ErrorCode::schema_too_new,
                fmt::format("store '{}' holds data at version {}, newer than the declared version "
                            "{}; it is read-only until the application upgrades",
                            name, state.stored_version, state.schema.version));
  }
  if (state.status == ErrorCode::migration_failed) {
    throw Error(
        ErrorCode::migration_failed,
        fmt::format("store '{}' is read-only because its migration failed: {}", name, state.error));
  }
  if (state.status) {
    throw Error(ErrorCode::read_only,
                fmt::format("store '{}' is read-only: the database was opened read-only", name));
  }
  return state;
}

void StoreEngine::check_write(const PendingWrite& write) const {
  ReaderLock lock(state_mutex_);
  const StoreState& state = find_store(write.store);
  check_key(write.store, write.key, options_.limits);
  if (write.kind == PendingWrite::Kind::put) {
    check_value_size(write.store, write.key, write.serialized.size(), options_.limits);
  }
  const bool documents = state.schema.policy.kind == MergePolicy::Kind::text;
  if (write.kind == PendingWrite::Kind::update) {
    require_documents(state);
    if (!valid_document_name(document_name(write.store, write.key))) {
      throw Error(ErrorCode::invalid_key,
                  fmt::format("store '{}': '{}' cannot name a document: with the store's name, "
                              "at most 256 characters of A-Z a-z 0-9 _ - . : /",
                              write.store, write.key));
    }
    // (Empty while edit_text checks a write it has not made yet.)
    if (!write.serialized.empty()) try {
        crdt::encode_state_vector_from_update_v1(crdt::bytes_of(write.serialized));
      } catch (const crdt::DecodeError& e) {
        throw Error(ErrorCode::invalid_value,
                    fmt::format("store '{}': the update to '{}' is not a Yjs update v1: {}",
                                write.store, write.key, e.what()));
      }
  } else if (documents) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("store '{}' holds documents: they change through update_document and "
                            "edit_text, not puts, deletes or increments",
                            write.store));
  }
  if (write.kind == PendingWrite::Kind::increment && !state.schema.policy.is_counter(write.field)) {
    throw Error(
        ErrorCode::invalid_value,
        fmt::format("store '{}': '{}' is not a declared counter field", write.store, write.field));
  }
}

std::optional<json::value> StoreEngine::preview(const std::vector<PendingWrite>& writes,
                                                std::string_view store,
                                                std::string_view key) const {
  ReaderLock lock(state_mutex_);
  const StoreState& state = find_store(store);
  auto found = state.entries.find(key);
  merge::Entry entry;
  if (found != state.entries.end()) entry = found->second;
  // Commit stamps each write after the one before; so does the preview.
  std::uint64_t stamp = clock_->last().packed();
  for (const PendingWrite& write : writes) {
    if (write.store != store || write.key != key) continue;
    const merge::Stamp next{Timestamp::from_packed(++stamp), nullptr};
    if (auto plan = plan_write(entry, write, state, next, options_.limits)) {
      entry = std::move(plan->write.entry);
    }
  }
  if (entry.deleted) return std::nullopt;
  return std::move(entry.value);
}

void StoreEngine::write_entry(std::uint32_t store_id, std::string_view key,
                              const StoredEntry& entry, std::string_view text) {
  const std::string stamps = encode_entry_stamps(stored_stamps(entry, replicas_));
  LocalFile::EntryRow row;
  row.key = key;
  if (!entry.deleted) row.value = text;
  row.hlc = entry.stamp.hlc;
  row.replica_ref = replicas_.ref_of(entry.stamp.replica);
  row.schema_version = entry.schema_version;
  row.field_stamps = stamps;
  file_.write_entry(store_id, row);
}

void StoreEngine::check_quota(const std::vector<StoreState*>& stores) {
  if (!options_.on_quota) return;
  const double warning =
      options_.limits.quota_warning * static_cast<double>(options_.limits.max_store_bytes);
  std::vector<QuotaEvent> events;
  {
    WriterLock state_lock(state_mutex_);
    for (StoreState* store : stores) {
      const bool above = static_cast<double>(store->bytes) >= warning;
      if (above == store->near_quota) continue;
      store->near_quota = above;
      events.push_back({store->schema.name, store->bytes, options_.limits.max_store_bytes, above});
    }
  }
  for (const QuotaEvent& event : events) {
    try {
      options_.on_quota(event);
    } catch (...) {
      // The commit has happened; a listener's failure changes nothing of it.
    }
  }
}

void StoreEngine::publish(StagedCommit& staged, sqlite::TransactionGuard& guard) {
  for (auto& [key, slot] : staged.slots()) {
    if (!slot.next) continue;
    if (slot.committed && same_state(*slot.next, *slot.committed)) {
      // Nothing to write (the pending count lives in the outbox); memory only when it changed.
      if (slot.next->pending == slot.committed->pending) slot.next.reset();
      continue;
    }
    if (slot.text.empty() && !slot.next->deleted) slot.text = json_text(slot.next->value);
    write_entry(slot.store->id, key.second, *slot.next, slot.text);
  }
  guard.commit();

  WriterLock state_lock(state_mutex_);
  for (auto& [key, slot] : staged.slots()) {
    if (slot.next) slot.store->replace(key.second, slot.committed, std::move(*slot.next));
  }
  for (const StagedCommit::Acknowledged& acked : staged.acknowledged()) {
    auto entry = acked.store->entries.find(acked.key);
    if (entry == acked.store->entries.end()) continue;
    entry->second.pending -= std::min(entry->second.pending, acked.records);
  }
  std::vector<StoreState*> grown;  // or shrunk
  for (auto& [key, slot] : staged.slots()) {
    if (slot.next && (grown.empty() || grown.back() != slot.store)) grown.push_back(slot.store);
  }
  state_lock.unlock();
  check_quota(grown);
}

// Commits a transaction's writes. Plans every write against the committed state overlaid with the
// transaction's earlier writes, checks quotas, writes entries, outbox records and the clock in one
// SQLite transaction, and only when that has committed applies the result to memory and tells the
// listeners. Any failure before the SQLite commit leaves file and memory as they were.
void StoreEngine::commit(const std::vector<PendingWrite>& writes) {
  if (writes.empty()) return;
  MutexLock write_lock(write_mutex_);
  StagedCommit staged(Origin::local);
  std::vector<LocalFile::OutboxRow> outbox;
  const bool notify = !subscribers_.empty();
  std::uint64_t seq = next_seq_;
  {
    ReaderLock state_lock(state_mutex_);
    for (const PendingWrite& write : writes) {
      StoreState& state = writable_store(write.store);
      StagedCommit::Slot& slot = staged.slot(state, write.key);
      const StoredEntry& current = StagedCommit::current(slot);
      const merge::Stamp stamp{clock_->now(), self_};
      std::optional<PlannedWrite> plan = plan_write(current, write, state, stamp, options_.limits);
      if (!plan) continue;

      StoredEntry next;
      static_cast<merge::Entry&>(next) = std::move(plan->write.entry);
      next.pending = current.pending + 1;
      if (notify) {
        staged.record(write.store, write.key, next, current, stamp.hlc);
      }
      const merge::Change& change = plan->write.change;
      outbox.push_back({seq++, state.id, write.key, std::string(merge::op_name(change.op)),
                        json_text(merge::change_payload(change)), stamp.hlc, state.schema.version});
      StagedCommit::set(slot, write.key, std::move(next), std::move(plan->text));
    }
    if (outbox.empty()) return;

    // Quotas: a store may not grow beyond its limit (it may still shrink when already over it).
    std::map<StoreState*, std::int64_t> growth;
    for (const auto& [key, slot] : staged.slots()) {
      if (!slot.next) continue;
      growth[slot.store] +=
          std::int64_t{slot.next->bytes} - (slot.committed ? slot.committed->bytes : 0);
    }
    for (const auto& [state, delta] : growth) {
      const std::size_t after = state->bytes + delta;
      if (delta > 0 && after > options_.limits.max_store_bytes) {
        throw Error(ErrorCode::quota_exceeded,
                    fmt::format("store '{}' would hold {} bytes, over its quota of {} bytes; "
                                "nothing was written",
                                state->schema.name, after, options_.limits.max_store_bytes));
      }
    }
  }

  sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
  for (const auto& record : outbox)
    file_.append_outbox(record);
  file_.save_clock(clock_->last(), seq);
  publish(staged, guard);
  next_seq_ = seq;
  pending_ += outbox.size();

  if (!notify) return;
  RecursiveLock notify_lock(notify_mutex_);
  write_lock.unlock();
  subscribers_.notify(staged.change_set());
}

}  // namespace cairn
