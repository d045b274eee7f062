// Manifests — cairnd's side of manifest-first hydration (docs/sync.md, "Large stores:
// manifests"; docs/protocol.md, "Manifests"): a store's manifest of content-addressed chunks
// (GET /api/manifest/<dataset>/<store>, with its ETag and 304 when the client has it) and the
// chunks themselves (POST …/chunks).
//
// A manifest is computed from the store's entries when first asked for and kept in memory, with
// the chunks' key ranges, until the store changes (each request checks, in its read transaction,
// whether any entry of the store moved past the feed position the manifest was computed at, or
// tombstones were compacted). The last few manifests of each store are kept too, so that a client
// holding one of them receives only the chunks added and removed since. At most
// `cached_stores` stores' manifests are kept, the least recently asked for going first. Chunks
// are read by their key range and served only when they still hash to their name.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "protocol/manifest.hpp"
#include "server/storage/storage.hpp"

namespace cairn::server {

class Manifests {
 public:
  explicit Manifests(Storage& storage, std::size_t cached_stores = 32);

  // The manifest of `store` in the dataset (which the caller has authorised): 304 when
  // `if_none_match` names it; 200 with it otherwise, as a delta when `if_none_match` names one of
  // the store's recent manifests.
  struct Answer {
    int status = 200;
    std::string etag;
    std::string body;
  };
  Answer manifest(const std::string& dataset_id, std::string_view store, std::uint32_t span,
                  std::string_view if_none_match);
  // The chunks of the store's current manifest that `request` names, as protocol::append_chunk
  // writes them, in the order asked, up to about 16 MiB (the client asks again for the rest);
  // those not in it (the store changed since the client's manifest) are left out.
  std::string chunks(const std::string& dataset_id, std::string_view store,
                     const protocol::ChunkRequest& request);

 private:
  struct Chunk {
    std::string first_key, last_key;
    std::size_t position = 0;  // in Version::names
  };
  struct Version {
    std::string etag;
    std::vector<std::string> names;  // in key order
    std::unordered_map<std::string, Chunk> chunks;
    std::uint64_t entries = 0, bytes = 0;
  };
  using Key = std::tuple<std::string, std::string, std::uint32_t>;  // dataset, store, span
  struct Cached {
    std::uint64_t last_seq = 0, retained_seq = 0;  // the dataset's, when `versions[0]` was current
    std::deque<std::shared_ptr<const Version>> versions;  // newest first
    std::uint64_t used = 0;
  };

  // The store's manifest as `tx` sees it, computed when the cached one is stale.
  std::shared_ptr<const Version> current(StorageTransaction& tx, const Key& key);
  // One of the store's recent manifests, by ETag.
  std::shared_ptr<const Version> recent(const Key& key, std::string_view etag);

  Storage& storage_;
  const std::size_t cached_stores_;
  std::mutex mutex_;
  std::map<Key, Cached> cache_;  // guarded by mutex_
  std::uint64_t uses_ = 0;       // guarded by mutex_
};

}  // namespace cairn::server
