// Migrations due when a database opens: a store whose data is older than its declaration runs
// its chain (docs/migrations.md), all or nothing.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "foundation/json_text.hpp"
#include "foundation/limits.hpp"
#include "migration/chain.hpp"
#include "migration/translate.hpp"
#include "store/store_engine.hpp"

namespace cairn {
namespace json = boost::json;

namespace {

// Counter fields must stay numbers, whatever a migration did to the value.
void check_counters(const json::value& value, const MergePolicy& policy) {
  const json::object* object = value.if_object();
  if (object == nullptr) return;
  for (const auto& counter : policy.counters) {
    const json::value* field = object->if_contains(counter);
    if (field != nullptr && !field->is_number()) {
      throw Error(
          ErrorCode::invalid_value,
          fmt::format("counter field '{}' must hold a number, not {}", counter, json_text(*field)));
    }
  }
}

constexpr std::size_t kBackupsKept = 3;

}  // namespace

void StoreEngine::emit(const MigrationEvent& event) const {
  if (!options_.on_migration) return;
  try {
    options_.on_migration(event);
  } catch (...) {
    // A listener's failure must not turn into a failed migration.
  }
}

namespace {

// The per-field stamps of an entry that a migration took from `before` to `after`: carried
// through the steps (translate_entry) when they are per-entry, so that what a field's writer
// wrote keeps its stamp; otherwise all at the entry's stamp, as nothing tells which field came
// from where.
std::vector<merge::FieldStamp> stamps_after_migration(const StoreSchema& schema,
                                                      merge::Entry before,
                                                      const merge::Entry& after) {
  if (before.value == after.value) return std::move(before.fields);
  try {
    translate_entry(schema, before, after.schema_version);
    if (before.value == after.value) return std::move(before.fields);
  } catch (const MigrationError&) {  // a whole-store step
  }
  return {};
}

}  // namespace

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
void StoreEngine::migrate(StoreState& state) {
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
    std::map<std::string_view, merge::Entry> with_field_stamps;  // as they were before
    for (auto& [key, entry] : state.entries) {
      if (entry.deleted || entry.schema_version >= to) continue;
      work.push_back({&key, &entry.value, &entry.schema_version});
      if (!entry.fields.empty()) with_field_stamps.emplace(key, entry);
    }
    // Progress is reported in entries: the share of (entry, step) pairs done.
    const std::size_t entries = work.size();
    const auto progress = [&](std::size_t done, std::size_t total) {
      const std::size_t share = total == 0 ? entries : entries * done / total;
      emit({MigrationEvent::Kind::progress, name, from, to, share, entries, elapsed(), {}});
    };
    StoreChanges changes = run_store_migration(state.schema, from, work, progress);

    std::optional<merge::Stamp> fresh;
    const auto fresh_stamp = [&]() REQUIRES(write_mutex_) {
      if (!fresh) fresh = merge::Stamp{clock_->now(), self_};
      return *fresh;
    };
    std::vector<std::pair<const std::string*, std::string>> dirty;  // key, value text if live
    const auto check = [&](const std::string& key, const StoredEntry& entry) {
      std::string text = json_text(entry.value);
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
      if (auto before = with_field_stamps.find(*item.key); before != with_field_stamps.end()) {
        entry.fields = stamps_after_migration(state.schema, before->second, entry);
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
      write_entry(state.id, *key, entry, text);
      entry.bytes = entry.deleted ? 0 : static_cast<std::uint32_t>(key->size() + text.size());
    }
    file_.update_store(state.id, to, json_text(state.schema.policy.to_json()));
    file_.save_clock(clock_->last(), next_seq_);
    guard.commit();

    state.recount();
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
