// StoreEngine's side of manifest-first hydration (docs/sync.md, "Large stores: manifests"): which
// stores hydrate by manifest and what manifest each copy holds. Refreshes are applied by
// apply_manifest (remote_apply.cpp), through the same merge as the change feed.
#include <cairn/error.hpp>

#include "store/store_engine.hpp"

namespace cairn {

std::vector<StoreEngine::ManifestStore> StoreEngine::manifest_stores() {
  MutexLock lock(write_mutex_);
  std::vector<ManifestStore> stores;
  {
    ReaderLock state_lock(state_mutex_);
    for (const auto& [name, store] : stores_) {
      if (!store.schema.manifest || store.status || store.id == 0) continue;
      stores.push_back({name, *store.schema.manifest, file_.manifest(store.id)});
    }
  }
  return stores;
}

std::set<std::string> StoreEngine::manifest_chunk_names(std::string_view store) {
  MutexLock lock(write_mutex_);
  std::uint32_t id = 0;
  {
    ReaderLock state_lock(state_mutex_);
    id = find_store(store).id;
  }
  std::set<std::string> names;
  for (LocalFile::ManifestChunk& chunk : file_.manifest_chunks(id))
    names.insert(std::move(chunk.name));
  return names;
}

std::set<std::string, std::less<>> StoreEngine::manifest_store_names() const {
  ReaderLock state_lock(state_mutex_);
  std::set<std::string, std::less<>> names;
  for (const auto& [name, store] : stores_) {
    if (store.schema.manifest) names.insert(name);
  }
  return names;
}

void StoreEngine::touch_manifest(std::string_view store, const LocalFile::ManifestRow& row) {
  if (options_.read_only) {
    throw Error(ErrorCode::read_only, "a read-only database cannot sync");
  }
  MutexLock lock(write_mutex_);
  std::uint32_t id = 0;
  {
    ReaderLock state_lock(state_mutex_);
    id = writable_store(store).id;
  }
  file_.save_manifest(id, row);
}

std::int64_t StoreEngine::now_ms() const {
  return static_cast<std::int64_t>(clock_->physical_now_ms());
}

}  // namespace cairn
