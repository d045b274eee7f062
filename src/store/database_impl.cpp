#include "store/database_impl.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>
#include <cairn/transaction.hpp>
#include <set>

#include "migration/chain.hpp"
#include "store/limits.hpp"

namespace cairn {
namespace json = boost::json;

// Per-field stamps and the delete floor of field-lww entries are kept in the file as JSON:
// {"fields": [["field", hlc, replica_ref, deleted], ...], "floor": [hlc, replica_ref]}, each
// member only when there is something to say; no text at all when there is neither.
std::string encode_field_stamps(const merge::Entry& entry, const ReplicaTable& replicas) {
  if (entry.fields.empty() && entry.floor.is_zero()) return {};
  json::object object;
  if (!entry.fields.empty()) {
    json::array fields;
    fields.reserve(entry.fields.size());
    for (const auto& field : entry.fields) {
      fields.push_back(json::array{json::string(field.name), field.stamp.hlc.packed(),
                                   replicas.ref_of(field.stamp.replica), field.deleted ? 1 : 0});
    }
    object["fields"] = std::move(fields);
  }
  if (!entry.floor.is_zero()) {
    object["floor"] = json::array{entry.floor.hlc.packed(), replicas.ref_of(entry.floor.replica)};
  }
  return json::serialize(object);
}

void decode_field_stamps(std::string_view text, const ReplicaTable& replicas,
                         std::string_view store, std::string_view key, merge::Entry& entry) {
  const auto damaged = [&] {
    return Error(ErrorCode::corrupt,
                 fmt::format("store '{}', key '{}': damaged field stamps", store, key));
  };
  std::error_code error;
  const json::value parsed = json::parse(text, error);
  const json::object* object = parsed.if_object();
  if (error || object == nullptr) throw damaged();
  const auto stamp = [&](const json::value& hlc, const json::value& ref) {
    if (!hlc.is_number() || !ref.is_number()) throw damaged();
    const std::string* replica = replicas.by_ref(ref.to_number<std::uint32_t>(error));
    const auto packed = hlc.to_number<std::uint64_t>(error);
    if (error || replica == nullptr) throw damaged();
    return merge::Stamp{Timestamp::from_packed(packed), replica};
  };
  if (const json::value* fields = object->if_contains("fields")) {
    if (!fields->is_array()) throw damaged();
    for (const auto& item : fields->get_array()) {
      const json::array* parts = item.if_array();
      if (!parts || parts->size() != 4 || !(*parts)[0].is_string() || !(*parts)[3].is_number()) {
        throw damaged();
      }
      entry.fields.push_back({std::string((*parts)[0].get_string()),
                              stamp((*parts)[1], (*parts)[2]),
                              (*parts)[3].to_number<int>(error) != 0});
      if (error) throw damaged();
    }
  }
  if (const json::value* floor = object->if_contains("floor")) {
    const json::array* parts = floor->if_array();
    if (!parts || parts->size() != 2) throw damaged();
    entry.floor = stamp((*parts)[0], (*parts)[1]);
  }
}

namespace {

std::size_t entry_bytes(std::string_view key, std::size_t value_bytes) {
  return key.size() + value_bytes;
}

// Whether the schema's migration steps start at or below `version`.
bool covers(const StoreSchema& schema, std::uint32_t version) {
  return !schema.migrations.empty() && schema.migrations.front().from <= version;
}

// Counter fields must stay numbers, whatever a migration did to the value.
void check_counters(const json::value& value, const MergePolicy& policy) {
  const json::object* object = value.if_object();
  if (object == nullptr) return;
  for (const auto& counter : policy.counters) {
    const json::value* field = object->if_contains(counter);
    if (field != nullptr && !field->is_number()) {
      throw Error(ErrorCode::invalid_value,
                  fmt::format("counter field '{}' must hold a number, not {}", counter,
                              json::serialize(*field)));
    }
  }
}

constexpr std::size_t kBackupsKept = 3;

}  // namespace

Database::Impl::Impl(const std::filesystem::path& path, DatabaseOptions options)
    : path_(path),
      options_(std::move(options)),
      lock_(options_.read_only ? std::nullopt : std::optional<FileLock>(std::in_place, path)),
      file_(path, options_.read_only, options_.create_if_missing, options_.durability) {
  load_replicas();
  const bool added = declare_stores();
  hydrate();
  bool migrated = false;
  for (auto& [name, state] : stores_) {
    if (state.stored_version < state.schema.version) {
      migrate(state);
      migrated = migrated || state.stored_version == state.schema.version;
    }
  }
  // Sync skipped entries of newer store versions and of stores this build did not declare; now
  // that the application has upgraded, the next sync pulls the dataset from the beginning to
  // fetch them.
  if ((migrated || added) && !options_.read_only) {
    LocalFile::SyncState sync = file_.sync_state();
    if ((migrated && sync.held_back) || (added && sync.skipped_stores)) {
      sync.cursor.clear();
      sync.held_back = sync.skipped_stores = false;  // the next sync says again what it skips
      file_.save_sync_state(sync);
    }
  }
}

void Database::Impl::load_replicas() {
  const LocalFile::Replica replica = file_.replica();
  for (auto& [ref, id] : file_.replica_ids())
    replicas_.add(ref, std::move(id));
  self_ = replicas_.find(replica.id);
  if (self_ == nullptr) throw Error(ErrorCode::corrupt, "the database's own replica id is missing");
  clock_ = std::make_unique<HybridClock>(options_.clock, replica.hlc);
  next_seq_ = replica.next_seq;
}

// Records the declared stores in the file (creating missing ones, updating changed policies) and
// decides which stores this Database loads, and whether each may be written.
bool Database::Impl::declare_stores() {
  const bool read_only = options_.read_only;
  std::map<std::string, LocalFile::StoreRow, std::less<>> recorded;
  for (auto& row : file_.stores()) {
    store_names_[row.id] = row.name;
    recorded.emplace(row.name, std::move(row));
  }

  std::vector<StoreSchema> declared = options_.stores;
  std::set<std::string, std::less<>> names;
  for (auto& schema : declared) {
    validate_store_schema(schema);
    if (!names.insert(schema.name).second) {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("store '{}' is declared twice", schema.name));
    }
  }
  if (declared.empty()) {  // a tool: load every recorded store as recorded
    for (const auto& [name, row] : recorded) {
      declared.push_back({name, row.version, MergePolicy::from_json(json::parse(row.policy))});
    }
  }

  bool added = false;
  std::optional<sqlite::TransactionGuard> guard;
  const auto begin = [&] {
    if (!guard) guard.emplace(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
  };
  for (auto& schema : declared) {
    StoreState state;
    state.schema = schema;
    const std::string policy = json::serialize(schema.policy.to_json());
    auto it = recorded.find(schema.name);
    if (it == recorded.end()) {
      state.stored_version = schema.version;
      if (!read_only) {
        begin();
        state.id = file_.insert_store(schema.name, schema.version, policy);
        store_names_[state.id] = schema.name;
        added = !recorded.empty();  // a store added to a database that had others
      }
    } else {
      const LocalFile::StoreRow& row = it->second;
      state.id = row.id;
      state.stored_version = row.version;
      if (row.version > schema.version) {
        state.status = ErrorCode::schema_too_new;
      } else if (row.version < schema.version) {
        if (!covers(schema, row.version)) {
          throw Error(ErrorCode::migration_required,
                      fmt::format("store '{}' holds data at version {} but version {} is "
                                  "declared, and its migrations do not start there; nothing was "
                                  "changed",
                                  schema.name, row.version, schema.version));
        }
        if (read_only) {
          throw Error(ErrorCode::read_only,
                      fmt::format("store '{}' must migrate from version {} to {}, but the "
                                  "database is open read-only",
                                  schema.name, row.version, schema.version));
        }
      } else if (row.policy != policy && !read_only) {
        begin();
        file_.update_store(row.id, row.version, policy);
      }
    }
    if (read_only && !state.status) state.status = ErrorCode::read_only;
    stores_.emplace(schema.name, std::move(state));
  }
  if (guard) guard->commit();
  return added;
}

void Database::Impl::hydrate() {
  // One read transaction, so that a read-only Database sees one consistent snapshot even while
  // another process writes.
  sqlite::TransactionGuard snapshot(file_.connection(), sqlite::TransactionGuard::Kind::deferred);
  for (auto& [name, state] : stores_)
    hydrate(state);
  pending_ = file_.outbox_count();
  snapshot.commit();
}

// Reads one store's rows into memory, replacing whatever it held.
void Database::Impl::hydrate(StoreState& state) {
  state.entries.clear();
  state.live = state.bytes = state.tombstones = 0;
  if (state.id == 0) return;
  const std::string& name = state.schema.name;
  json::parser parser;
  auto hint = state.entries.end();
  file_.for_each_entry(state.id, [&](const LocalFile::EntryRow& row) {
    StoredEntry entry;
    entry.stamp = {row.hlc, replicas_.by_ref(row.replica_ref)};
    if (entry.stamp.replica == nullptr) {
      throw Error(ErrorCode::corrupt,
                  fmt::format("store '{}', key '{}': unknown replica", name, row.key));
    }
    entry.schema_version = row.schema_version;
    entry.pending = row.pending;
    entry.deleted = !row.value.has_value();
    if (row.value) {
      std::error_code error;
      parser.reset();
      parser.write(row.value->data(), row.value->size(), error);
      if (error) {
        throw Error(ErrorCode::corrupt, fmt::format("store '{}', key '{}': damaged value: {}", name,
                                                    row.key, error.message()));
      }
      entry.value = parser.release();
      entry.bytes = static_cast<std::uint32_t>(entry_bytes(row.key, row.value->size()));
      ++state.live;
      state.bytes += entry.bytes;
    } else {
      ++state.tombstones;
    }
    if (!row.field_stamps.empty()) {
      decode_field_stamps(row.field_stamps, replicas_, name, row.key, entry);
    }
    hint = std::next(state.entries.emplace_hint(hint, row.key, std::move(entry)));
  });
}

void StoreState::replace(std::string_view key, const StoredEntry* committed, StoredEntry next) {
  if (committed) {
    if (committed->deleted) {
      --tombstones;
    } else {
      --live;
      bytes -= committed->bytes;
    }
  }
  if (next.deleted) {
    ++tombstones;
  } else {
    ++live;
    bytes += next.bytes;
  }
  entries.insert_or_assign(std::string(key), std::move(next));
}

const StoreState& Database::Impl::store(std::string_view name) const {
  auto it = stores_.find(name);
  if (it == stores_.end()) {
    throw Error(ErrorCode::unknown_store,
                fmt::format("store '{}' is not declared in this database", name));
  }
  return it->second;
}

StoreState& Database::Impl::writable_store(std::string_view name) {
  StoreState& state = const_cast<StoreState&>(store(name));
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

std::optional<json::value> Database::Impl::get(std::string_view store_name,
                                               std::string_view key) const {
  const StoreState& state = store(store_name);
  std::shared_lock lock(state_mutex_);
  auto it = state.entries.find(key);
  if (it == state.entries.end() || it->second.deleted) return std::nullopt;
  return it->second.value;
}

bool Database::Impl::contains(std::string_view store_name, std::string_view key) const {
  const StoreState& state = store(store_name);
  std::shared_lock lock(state_mutex_);
  auto it = state.entries.find(key);
  return it != state.entries.end() && !it->second.deleted;
}

std::size_t Database::Impl::size(std::string_view store_name) const {
  const StoreState& state = store(store_name);
  std::shared_lock lock(state_mutex_);
  return state.live;
}

std::optional<EntryInfo> Database::Impl::entry_info(std::string_view store_name,
                                                    std::string_view key) const {
  const StoreState& state = store(store_name);
  std::shared_lock lock(state_mutex_);
  auto it = state.entries.find(key);
  if (it == state.entries.end()) return std::nullopt;
  const StoredEntry& entry = it->second;
  EntryInfo info{entry.stamp.hlc,      std::string(entry.stamp.replica_view()),
                 entry.schema_version, entry.deleted,
                 entry.pending > 0,    {}};
  if (state.schema.policy.kind == MergePolicy::Kind::field_lww) {
    for (const auto& field : merge::field_stamps(entry)) {
      info.fields.push_back(
          {field.name, field.stamp.hlc, std::string(field.stamp.replica_view()), field.deleted});
    }
  }
  return info;
}

void Database::Impl::scan(std::string_view store_name, std::string_view from, std::string_view to,
                          const Visitor& visit) const {
  const StoreState& state = store(store_name);
  std::shared_lock lock(state_mutex_);
  auto it = from.empty() ? state.entries.begin() : state.entries.lower_bound(from);
  for (; it != state.entries.end(); ++it) {
    if (!to.empty() && std::string_view(it->first) >= to) break;
    if (it->second.deleted) continue;
    if (!visit(it->first, it->second.value)) break;
  }
}

StoreInfo Database::Impl::store_info(const StoreState& state) const {
  std::shared_lock lock(state_mutex_);
  return StoreInfo{state.schema, state.stored_version, !state.status, state.status,
                   state.error,  state.live,           state.bytes,   state.tombstones};
}

std::vector<StoreInfo> Database::Impl::stores() const {
  std::vector<StoreInfo> infos;
  for (const auto& [name, state] : stores_)
    infos.push_back(store_info(state));
  return infos;
}

void Database::Impl::check_write(const Transaction::Write& write) const {
  const StoreState& state = store(write.store);
  check_key(write.store, write.key, options_.limits);
  if (write.kind == Transaction::Write::Kind::put) {
    check_value_size(write.store, write.key, write.serialized.size(), options_.limits);
  }
  if (write.kind == Transaction::Write::Kind::increment &&
      !state.schema.policy.is_counter(write.field)) {
    throw Error(
        ErrorCode::invalid_value,
        fmt::format("store '{}': '{}' is not a declared counter field", write.store, write.field));
  }
}

// Commits a transaction's writes. Plans every write against the committed state overlaid with the
// transaction's earlier writes, checks quotas, writes entries, outbox records and the clock in one
// SQLite transaction, and only when that has committed applies the result to memory and tells the
// listeners. Any failure before the SQLite commit leaves file and memory as they were.
void Database::Impl::commit(const std::vector<Transaction::Write>& writes) {
  if (writes.empty()) return;
  std::unique_lock write_lock(write_mutex_);

  struct Staged {
    StoreState* store = nullptr;
    const StoredEntry* committed = nullptr;
    std::optional<StoredEntry> next;
    std::string text;  // the next value as JSON text, when live
  };
  std::map<std::pair<StoreState*, std::string_view>, Staged> staged;
  std::vector<LocalFile::OutboxRow> outbox;
  const bool notify = !subscribers_->empty();
  ChangeSet change_set{Origin::local, {}};
  std::uint64_t seq = next_seq_;
  static const StoredEntry kAbsent;

  for (const auto& write : writes) {
    StoreState& state = writable_store(write.store);
    auto [it, inserted] = staged.try_emplace({&state, write.key});
    Staged& slot = it->second;
    if (inserted) {
      slot.store = &state;
      auto found = state.entries.find(write.key);
      slot.committed = found == state.entries.end() ? nullptr : &found->second;
    }
    const StoredEntry& current = slot.next        ? *slot.next
                                 : slot.committed ? *slot.committed
                                                  : kAbsent;
    const merge::Stamp stamp{clock_->now(), self_};
    const std::uint32_t version = state.schema.version;

    std::optional<merge::LocalWrite> plan;
    std::string text;
    switch (write.kind) {
      case Transaction::Write::Kind::put:
        plan = merge::plan_put(current, write.value, state.schema.policy, stamp, version);
        text = write.serialized;
        break;
      case Transaction::Write::Kind::erase:
        plan = merge::plan_erase(current, state.schema.policy, stamp, version);
        break;
      case Transaction::Write::Kind::increment:
        plan = merge::plan_increment(current, write.field, write.delta, state.schema.policy, stamp,
                                     version);
        text = json::serialize(plan->entry.value);
        check_value_size(write.store, write.key, text.size(), options_.limits);
        break;
    }
    if (!plan) continue;

    StoredEntry next;
    static_cast<merge::Entry&>(next) = std::move(plan->entry);
    next.bytes = next.deleted ? 0 : static_cast<std::uint32_t>(entry_bytes(write.key, text.size()));
    next.pending = current.pending + 1;
    if (notify) {
      change_set.changes.push_back(
          {write.store, write.key,
           next.deleted ? std::nullopt : std::optional<json::value>(next.value),
           current.deleted ? std::nullopt : std::optional<json::value>(current.value), stamp.hlc});
    }
    outbox.push_back({seq++, state.id, write.key, std::string(merge::op_name(plan->change.op)),
                      json::serialize(merge::change_payload(plan->change)), stamp.hlc, version});

    slot.next = std::move(next);
    slot.text = std::move(text);
  }
  if (outbox.empty()) return;

  // Quotas: a store may not grow beyond its limit (it may still shrink when already over it).
  std::map<StoreState*, std::int64_t> growth;
  for (const auto& [key, slot] : staged) {
    if (!slot.next) continue;
    growth[slot.store] +=
        std::int64_t{slot.next->bytes} - (slot.committed ? slot.committed->bytes : 0);
  }
  for (const auto& [state, delta] : growth) {
    const std::size_t after = state->bytes + delta;
    if (delta > 0 && after > options_.limits.max_store_bytes) {
      throw Error(ErrorCode::quota_exceeded,
                  fmt::format("store '{}' would hold {} bytes, over its quota of {} bytes; nothing "
                              "was written",
                              state->schema.name, after, options_.limits.max_store_bytes));
    }
  }

  {
    sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
    for (const auto& [key, slot] : staged) {
      if (!slot.next) continue;
      const StoredEntry& entry = *slot.next;
      const std::string stamps = encode_field_stamps(entry, replicas_);
      LocalFile::EntryRow row;
      row.key = key.second;
      if (!entry.deleted) row.value = slot.text;
      row.hlc = entry.stamp.hlc;
      row.replica_ref = replicas_.ref_of(entry.stamp.replica);
      row.schema_version = entry.schema_version;
      row.field_stamps = stamps;
      row.pending = entry.pending;
      file_.write_entry(slot.store->id, row);
    }
    for (const auto& record : outbox)
      file_.append_outbox(record);
    file_.save_clock(clock_->last(), seq);
    guard.commit();
  }
  next_seq_ = seq;
  pending_ += outbox.size();

  {
    std::unique_lock state_lock(state_mutex_);
    for (auto& [key, slot] : staged) {
      if (slot.next) slot.store->replace(key.second, slot.committed, std::move(*slot.next));
    }
  }

  if (!notify) return;
  std::lock_guard notify_lock(notify_mutex_);
  write_lock.unlock();
  subscribers_->notify(change_set);
}

std::vector<OutboxRecord> Database::Impl::outbox(std::uint64_t after_seq, std::size_t limit) {
  std::lock_guard lock(write_mutex_);
  std::vector<OutboxRecord> records;
  for (auto& row : file_.outbox(after_seq, limit)) {
    std::error_code error;
    json::value payload = json::parse(row.payload, error);
    if (error) {
      throw Error(ErrorCode::corrupt, fmt::format("outbox record {} is damaged", row.seq));
    }
    auto name = store_names_.find(row.store_id);
    records.push_back({row.seq, name == store_names_.end() ? "" : name->second, std::move(row.key),
                       std::move(row.op), std::move(payload), row.hlc, row.schema_version});
  }
  return records;
}

std::vector<BackupInfo> Database::Impl::backups() {
  std::lock_guard lock(write_mutex_);
  std::vector<BackupInfo> infos;
  for (auto& row : file_.backups()) {
    infos.push_back(
        {row.id, std::move(row.store), row.from_version, row.to_version, row.entries, row.created});
  }
  return infos;
}

void Database::Impl::emit(const MigrationEvent& event) const {
  if (!options_.on_migration) return;
  try {
    options_.on_migration(event);
  } catch (...) {
    // A listener's failure must not turn into a failed migration.
  }
}

// Migrates one store from its stored version to the declared one: runs the chain over the
// entries in memory, in place, checks the result, then backs the rows up and writes the result in
// one SQLite transaction. Until that transaction commits nothing is written, so any failure leaves
// the store's rows byte-identical at the old version; the in-memory store, part-way migrated, is
// then read again from the file.
//
// Migrated entries keep their stamps (a migration translates a write, it does not make a new
// one) and move to the new schema version; a field-lww entry whose value changed loses its
// per-field stamps, which name the old fields. Keys that a whole-store step creates or drops are
// stamped now, by this replica. Migrations write no outbox records: every replica runs the same
// chain, and the schema version travels with each entry.
void Database::Impl::migrate(StoreState& state) {
  const auto started = std::chrono::steady_clock::now();
  const std::uint32_t from = state.stored_version, to = state.schema.version;
  const std::string& name = state.schema.name;
  const auto elapsed = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started);
  };
  emit({MigrationEvent::Kind::started, name, from, to, 0, state.live, elapsed(), {}});
  try {
    std::vector<MigratingEntry> work;
    std::map<std::string_view, json::value> with_field_stamps;  // their values before
    for (auto& [key, entry] : state.entries) {
      if (entry.deleted || entry.schema_version >= to) continue;
      work.push_back({&key, &entry.value, &entry.schema_version});
      if (!entry.fields.empty()) with_field_stamps.emplace(key, entry.value);
    }
    // Progress is reported in entries: the share of (entry, step) pairs done.
    const std::size_t entries = work.size();
    const auto progress = [&](std::size_t done, std::size_t total) {
      const std::size_t share = total == 0 ? entries : entries * done / total;
      emit({MigrationEvent::Kind::progress, name, from, to, share, entries, elapsed(), {}});
    };
    StoreChanges changes = run_store_migration(state.schema, from, work, progress);

    std::optional<merge::Stamp> fresh;
    const auto fresh_stamp = [&] {
      if (!fresh) fresh = merge::Stamp{clock_->now(), self_};
      return *fresh;
    };
    std::vector<std::pair<const std::string*, std::string>> dirty;  // key, value text if live
    const auto check = [&](const std::string& key, const StoredEntry& entry) {
      std::string text = json::serialize(entry.value);
      try {
        check_key(name, key, options_.limits);
        check_value_size(name, key, text.size(), options_.limits);
        check_counters(entry.value, state.schema.policy);
      } catch (const Error& e) {
        throw MigrationError(name, from, to, key,
                             std::string("the migrated value is invalid: ") + e.what());
      }
      return text;
    };
    for (const MigratingEntry& item : work) {
      if (changes.dropped.count(*item.key)) continue;
      StoredEntry& entry = state.entries.find(*item.key)->second;
      if (auto before = with_field_stamps.find(*item.key);
          before != with_field_stamps.end() && before->second != entry.value) {
        entry.fields.clear();
      }
      dirty.emplace_back(item.key, check(*item.key, entry));
    }
    for (const auto& key : changes.dropped) {
      StoredEntry& entry = state.entries.find(key)->second;
      entry.deleted = true;
      entry.value = nullptr;
      entry.fields.clear();
      entry.stamp = fresh_stamp();
      entry.schema_version = to;
      dirty.emplace_back(&state.entries.find(key)->first, std::string());
    }
    for (auto& [key, created] : changes.created) {
      StoredEntry& entry = state.entries[key];  // may revive a tombstone
      if (!entry.deleted && entry.schema_version >= to) {
        throw MigrationError(name, from, to, key,
                             "a whole-store step produced the key of an entry held at a newer "
                             "version");
      }
      entry.value = std::move(created.value);
      entry.deleted = false;
      entry.fields.clear();
      entry.stamp = fresh_stamp();
      entry.schema_version = created.version;
      dirty.emplace_back(&state.entries.find(key)->first, check(key, entry));
    }

    sqlite::TransactionGuard guard(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
    file_.backup_store(state.id, from, to, clock_->now(), kBackupsKept);
    for (const auto& [key, text] : dirty) {
      StoredEntry& entry = state.entries.find(*key)->second;
      const std::string stamps = encode_field_stamps(entry, replicas_);
      LocalFile::EntryRow row;
      row.key = *key;
      if (!entry.deleted) row.value = text;
      row.hlc = entry.stamp.hlc;
      row.replica_ref = replicas_.ref_of(entry.stamp.replica);
      row.schema_version = entry.schema_version;
      row.field_stamps = stamps;
      row.pending = entry.pending;
      file_.write_entry(state.id, row);
      entry.bytes = entry.deleted ? 0 : static_cast<std::uint32_t>(entry_bytes(*key, text.size()));
    }
    file_.update_store(state.id, to, json::serialize(state.schema.policy.to_json()));
    file_.save_clock(clock_->last(), next_seq_);
    guard.commit();

    state.live = state.bytes = state.tombstones = 0;
    for (const auto& [key, entry] : state.entries) {
      if (entry.deleted) {
        ++state.tombstones;
      } else {
        ++state.live;
        state.bytes += entry.bytes;
      }
    }
    state.stored_version = to;
    emit({MigrationEvent::Kind::finished, name, from, to, state.live, state.live, elapsed(), {}});
  } catch (const MigrationError& e) {
    hydrate(state);  // the file still holds the store as it was
    emit({MigrationEvent::Kind::failed, name, from, to, 0, state.live, elapsed(), e.what()});
    if (options_.migration_failure == MigrationFailure::throw_error) throw;
    state.status = ErrorCode::migration_failed;
    state.error = e.what();
  } catch (...) {
    hydrate(state);
    throw;
  }
}

}  // namespace cairn
