// Reads: answered from memory under the state lock held shared, so they run beside each other
// and beside a committer's disk I/O. The outbox and backups are read from the file.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "store/store_engine.hpp"

namespace cairn {
namespace json = boost::json;

const StoreState& StoreEngine::find_store(std::string_view name) const {
  auto it = stores_.find(name);
  if (it == stores_.end()) {
    throw Error(ErrorCode::unknown_store,
                fmt::format("store '{}' is not declared in this database", name));
  }
  return it->second;
}

void require_documents(const StoreState& state) {
  if (state.schema.policy.kind != MergePolicy::Kind::text) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("store '{}' holds no documents (its merge policy is not text; "
                            "declare it with MergePolicy::document())",
                            state.schema.name));
  }
}

std::string StoreEngine::replica_id() {
  MutexLock lock(write_mutex_);
  return *self_;
}

void StoreEngine::require_store(std::string_view name) const {
  ReaderLock lock(state_mutex_);
  find_store(name);
}

std::optional<json::value> StoreEngine::get(std::string_view store, std::string_view key) const {
  ReaderLock lock(state_mutex_);
  const StoreState& state = find_store(store);
  auto it = state.entries.find(key);
  if (it == state.entries.end() || it->second.deleted) return std::nullopt;
  return it->second.value;
}

bool StoreEngine::contains(std::string_view store, std::string_view key) const {
  ReaderLock lock(state_mutex_);
  const StoreState& state = find_store(store);
  auto it = state.entries.find(key);
  return it != state.entries.end() && !it->second.deleted;
}

std::size_t StoreEngine::size(std::string_view store) const {
  ReaderLock lock(state_mutex_);
  return find_store(store).live;
}

std::optional<EntryInfo> StoreEngine::entry_info(std::string_view store,
                                                 std::string_view key) const {
  ReaderLock lock(state_mutex_);
  const StoreState& state = find_store(store);
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

void StoreEngine::scan(std::string_view store, std::string_view from, std::string_view to,
                       const Database::Visitor& visit) const {
  ReaderLock lock(state_mutex_);
  const StoreState& state = find_store(store);
  auto it = from.empty() ? state.entries.begin() : state.entries.lower_bound(from);
  for (; it != state.entries.end(); ++it) {
    if (!to.empty() && std::string_view(it->first) >= to) break;
    if (it->second.deleted) continue;
    if (!visit(it->first, it->second.value)) break;
  }
}

StoreInfo StoreEngine::info_of(const StoreState& state) const {
  const Limits& limits = options_.limits;
  return StoreInfo{state.schema,
                   state.stored_version,
                   !state.status,
                   state.status,
                   state.error,
                   state.live,
                   state.bytes,
                   state.tombstones,
                   limits.max_store_bytes,
                   static_cast<double>(state.bytes) >=
                       limits.quota_warning * static_cast<double>(limits.max_store_bytes)};
}

StoreInfo StoreEngine::store_info(std::string_view store) const {
  ReaderLock lock(state_mutex_);
  return info_of(find_store(store));
}

std::string StoreEngine::document(std::string_view store, std::string_view key) const {
  ReaderLock lock(state_mutex_);
  const StoreState& state = find_store(store);
  require_documents(state);
  auto found = state.entries.find(key);
  return found == state.entries.end() ? std::string() : merge::document_state(found->second);
}

std::uint64_t StoreEngine::document_client() {
  // FNV-1a of the replica id, to Yjs's 32 bits: distinct replicas' edits need distinct clients.
  std::uint32_t hash = 2166136261u;
  for (const char c : replica_id()) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619u;
  }
  return hash;
}

std::vector<StoreInfo> StoreEngine::stores() const {
  ReaderLock lock(state_mutex_);
  std::vector<StoreInfo> infos;
  for (const auto& [name, state] : stores_)
    infos.push_back(info_of(state));
  return infos;
}

std::map<std::string, std::uint64_t, std::less<>> StoreEngine::held_back() {
  MutexLock write_lock(write_mutex_);
  ReaderLock state_lock(state_mutex_);
  std::map<std::string, std::uint64_t, std::less<>> counts;
  for (const auto& [store_id, entries] : file_.held_back_counts()) {
    for (const auto& [name, state] : stores_) {
      if (state.id == store_id) counts.emplace(name, entries);
    }
  }
  return counts;
}

std::map<std::string, std::uint32_t, std::less<>> StoreEngine::declared_versions() const {
  ReaderLock lock(state_mutex_);
  std::map<std::string, std::uint32_t, std::less<>> versions;
  for (const auto& [name, state] : stores_)
    versions.emplace(name, state.schema.version);
  return versions;
}

Subscription StoreEngine::subscribe(Subscribers::Filter filter, Listener listener) {
  if (filter.store) require_store(*filter.store);
  return subscribers_.add(std::move(filter), std::move(listener));
}

void StoreEngine::for_each_outbox_row(
    std::uint64_t after_seq, std::size_t limit,
    const std::function<void(const LocalFile::OutboxRow& row, std::string_view store)>& visit) {
  MutexLock lock(write_mutex_);
  for (const auto& row : file_.outbox(after_seq, limit)) {
    auto name = store_names_.find(row.store_id);
    visit(row, name == store_names_.end() ? std::string_view() : std::string_view(name->second));
  }
}

std::vector<OutboxRecord> StoreEngine::outbox(std::uint64_t after_seq, std::size_t limit) {
  std::vector<OutboxRecord> records;
  for_each_outbox_row(
      after_seq, limit, [&](const LocalFile::OutboxRow& row, std::string_view store) {
        std::error_code error;
        json::value payload = json::parse(row.payload, error);
        if (error) {
          throw Error(ErrorCode::corrupt, fmt::format("outbox record {} is damaged", row.seq));
        }
        records.push_back({row.seq, std::string(store), row.key, row.op, std::move(payload),
                           row.hlc, row.schema_version});
      });
  return records;
}

std::vector<BackupInfo> StoreEngine::backups() {
  MutexLock lock(write_mutex_);
  std::vector<BackupInfo> infos;
  for (auto& row : file_.backups()) {
    infos.push_back(
        {row.id, std::move(row.store), row.from_version, row.to_version, row.entries, row.created});
  }
  return infos;
}

}  // namespace cairn
