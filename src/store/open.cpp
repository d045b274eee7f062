// Opening a database: the file, the replica and its clock, the declared stores, hydration, and
// the migrations that are due.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>
#include <set>

#include "foundation/json_text.hpp"
#include "store/store_engine.hpp"

namespace cairn {
namespace json = boost::json;

namespace {

// Whether the schema's migration steps start at or below `version`.
bool covers(const StoreSchema& schema, std::uint32_t version) {
  return !schema.migrations.empty() && schema.migrations.front().from <= version;
}

}  // namespace

StoreEngine::StoreEngine(const std::filesystem::path& path, DatabaseOptions options)
    : path_(path),
      options_(std::move(options)),
      lock_(options_.read_only ? std::nullopt : std::optional<FileLock>(std::in_place, path)),
      file_(path, options_.read_only, options_.create_if_missing, options_.durability) {
  // Nobody else can see the engine yet; the locks are taken for the analysis' sake (and cost
  // nothing uncontended).
  MutexLock write_lock(write_mutex_);
  WriterLock state_lock(state_mutex_);
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
  for (const auto& [name, state] : stores_) {
    if (state.schema.policy.kind != MergePolicy::Kind::text) continue;
    for (const auto& [key, entry] : state.entries)
      note_stale_document({name, key});
  }
  // Sync skipped entries of newer store versions and of stores this build did not declare, and
  // the server translated entries down to the versions this build ran, leaving out what they do
  // not know (a field added since); now that the application has upgraded, the next sync pulls
  // the dataset from the beginning, at the new versions.
  if ((migrated || added) && !options_.read_only) {
    LocalFile::SyncState sync = file_.sync_state();
    if ((migrated && !sync.cursor.empty()) || (added && sync.skipped_stores)) {
      sync.cursor.clear();
      sync.held_back = sync.skipped_stores = false;  // the next sync says again what it skips
      file_.save_sync_state(sync);
    }
  }
  std::vector<StoreState*> all;  // stores already near their quota are told of now
  for (auto& [name, state] : stores_)
    all.push_back(&state);
  state_lock.unlock();
  check_quota(all);
}

void StoreEngine::load_replicas() {
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
bool StoreEngine::declare_stores() {
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
  const auto begin = [&]() REQUIRES(write_mutex_) {
    if (!guard) guard.emplace(file_.connection(), sqlite::TransactionGuard::Kind::immediate);
  };
  for (auto& schema : declared) {
    StoreState state;
    state.schema = schema;
    const std::string policy = json_text(schema.policy.to_json());
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

void StoreEngine::hydrate() {
  // One read transaction, so that a read-only Database sees one consistent snapshot even while
  // another process writes.
  sqlite::TransactionGuard snapshot(file_.connection(), sqlite::TransactionGuard::Kind::deferred);
  for (auto& [name, state] : stores_)
    hydrate(state);
  pending_ = file_.outbox_count();
  snapshot.commit();
}

// Reads one store's rows into memory, replacing whatever it held.
void StoreEngine::hydrate(StoreState& state) {
  state.entries.clear();
  state.live = state.bytes = state.tombstones = 0;
  if (state.id == 0) return;
  const std::string& name = state.schema.name;
  json::parser parser;
  auto hint = state.entries.end();
  file_.for_each_entry(state.id, [&](const LocalFile::EntryRow& row) REQUIRES(write_mutex_) {
    StoredEntry entry;
    entry.stamp = {row.hlc, replicas_.by_ref(row.replica_ref)};
    if (entry.stamp.replica == nullptr) {
      throw Error(ErrorCode::corrupt,
                  fmt::format("store '{}', key '{}': unknown replica", name, row.key));
    }
    entry.schema_version = row.schema_version;
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
      entry.bytes = static_cast<std::uint32_t>(row.key.size() + row.value->size());
      ++state.live;
      state.bytes += entry.bytes;
    } else {
      ++state.tombstones;
    }
    if (!row.field_stamps.empty()) {
      read_stamps(decode_entry_stamps(row.field_stamps, name, row.key), replicas_, name, row.key,
                  entry);
    }
    hint = std::next(state.entries.emplace_hint(hint, row.key, std::move(entry)));
  });
  file_.for_each_pending(state.id, [&](std::string_view key, std::uint32_t count) {
    if (auto it = state.entries.find(key); it != state.entries.end()) it->second.pending = count;
  });
}

}  // namespace cairn
