#include "server/manifests.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

#include "protocol/errors.hpp"
#include "server/sync_service.hpp"

namespace cairn::server {

namespace {

constexpr std::size_t kVersionsKept = 4;                // per store, for deltas
constexpr std::size_t kAnswerBytes = 16 * 1024 * 1024;  // chunks per answer, about

// An entity tag as If-None-Match carries it: "<etag>" or W/"<etag>".
std::string_view unquoted(std::string_view tag) {
  if (tag.starts_with("W/")) tag.remove_prefix(2);
  if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"')
    tag = tag.substr(1, tag.size() - 2);
  return tag;
}

}  // namespace

Manifests::Manifests(Storage& storage, std::size_t cached_stores)
    : storage_(storage), cached_stores_(std::max<std::size_t>(cached_stores, 1)) {}

std::shared_ptr<const Manifests::Version> Manifests::current(StorageTransaction& tx,
                                                             const Key& key) {
  const auto& [dataset_id, store, span] = key;
  const std::optional<DatasetRow> dataset = tx.dataset(dataset_id);
  if (!dataset) throw protocol::Refusal(protocol::Code::not_found, "no such dataset");
  Cached known;
  {
    std::lock_guard lock(mutex_);
    if (auto found = cache_.find(key); found != cache_.end()) {
      found->second.used = ++uses_;
      known = found->second;
    }
  }
  if (!known.versions.empty() && known.retained_seq == dataset->retained_seq &&
      (known.last_seq == dataset->last_seq ||
       (known.last_seq < dataset->last_seq &&
        !tx.store_changed_since(dataset_id, store, known.last_seq)))) {
    std::lock_guard lock(mutex_);
    if (auto found = cache_.find(key);
        found != cache_.end() && found->second.versions.front() == known.versions.front()) {
      found->second.last_seq = std::max(found->second.last_seq, dataset->last_seq);
    }
    return known.versions.front();
  }

  // The store's entries in key order, cut after each key that ends a chunk.
  auto version = std::make_shared<Version>();
  const std::vector<EntryRow> rows = tx.store_entries(dataset_id, store, "", "");
  protocol::ReplicaInterner replicas;
  std::vector<protocol::FeedItem> items;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    items.push_back(feed_item(rows[i], replicas));
    if (i + 1 < rows.size() && !protocol::ends_chunk(rows[i].key, span)) continue;
    const std::string bytes = protocol::encode_chunk(items);
    std::string name = protocol::chunk_hash(bytes);
    version->bytes += bytes.size();
    version->chunks.emplace(name,
                            Chunk{items.front().key, items.back().key, version->names.size()});
    version->names.push_back(std::move(name));
    items.clear();
  }
  version->entries = rows.size();
  version->etag = protocol::manifest_etag(span, version->names);

  std::lock_guard lock(mutex_);
  Cached& cached = cache_[key];
  if (cached.versions.empty() || cached.last_seq <= dataset->last_seq) {
    if (!cached.versions.empty() && cached.versions.front()->etag == version->etag) {
      cached.versions.pop_front();
    }
    cached.versions.push_front(version);
    if (cached.versions.size() > kVersionsKept) cached.versions.pop_back();
    cached.last_seq = dataset->last_seq;
    cached.retained_seq = dataset->retained_seq;
  }
  cached.used = ++uses_;
  while (cache_.size() > cached_stores_) {
    auto oldest = std::min_element(cache_.begin(), cache_.end(), [](const auto& a, const auto& b) {
      return a.second.used < b.second.used;
    });
    cache_.erase(oldest);
  }
  return version;
}

std::shared_ptr<const Manifests::Version> Manifests::recent(const Key& key, std::string_view etag) {
  std::lock_guard lock(mutex_);
  auto found = cache_.find(key);
  if (found == cache_.end()) return nullptr;
  for (const auto& version : found->second.versions) {
    if (version->etag == etag) return version;
  }
  return nullptr;
}

Manifests::Answer Manifests::manifest(const std::string& dataset_id, std::string_view store,
                                      std::uint32_t span, std::string_view if_none_match) {
  const Key key{dataset_id, std::string(store), span};
  std::shared_ptr<const Version> version;
  {
    auto tx = storage_.begin(false);
    version = current(*tx, key);
  }
  const std::string tag = fmt::format("\"{}\"", version->etag);
  const std::string_view known = unquoted(if_none_match);
  if (known == version->etag) return {304, tag, ""};

  protocol::ManifestMessage message{std::string(store),
                                    span,
                                    version->etag,
                                    version->entries,
                                    version->bytes,
                                    std::nullopt,
                                    {},
                                    {}};
  const std::shared_ptr<const Version> base = known.empty() ? nullptr : recent(key, known);
  if (base) {
    message.base = base->etag;
    for (const auto& name : version->names) {
      if (!base->chunks.contains(name)) message.chunks.push_back(name);
    }
    for (const auto& name : base->names) {
      if (!version->chunks.contains(name)) message.removed.push_back(name);
    }
  } else {
    message.chunks = version->names;
  }
  return {200, tag, protocol::encode_manifest(message)};
}

std::string Manifests::chunks(const std::string& dataset_id, std::string_view store,
                              const protocol::ChunkRequest& request) {
  const Key key{dataset_id, std::string(store), request.span};
  auto tx = storage_.begin(false);
  const std::shared_ptr<const Version> version = current(*tx, key);
  // The chunks asked for that the manifest has, in key order.
  std::vector<std::pair<const std::string*, const Chunk*>> wanted;
  std::unordered_set<std::string_view> seen;
  for (const std::string& name : request.chunks) {
    auto found = version->chunks.find(name);
    if (found != version->chunks.end() && seen.insert(name).second) {
      wanted.emplace_back(&found->first, &found->second);
    }
  }
  std::sort(wanted.begin(), wanted.end(),
            [](const auto& a, const auto& b) { return a.second->position < b.second->position; });
  // Dense requests (a first hydration) read their whole key range at once, sparse ones (a
  // refresh) each chunk's own range.
  std::vector<EntryRow> rows;
  const bool dense = !wanted.empty() && 2 * wanted.size() > wanted.back().second->position -
                                                                wanted.front().second->position + 1;
  if (dense) {
    rows = tx->store_entries(dataset_id, store, wanted.front().second->first_key,
                             wanted.back().second->last_key);
  }
  std::string answer;
  auto row = rows.begin();
  for (const auto& [name, chunk] : wanted) {
    if (answer.size() >= kAnswerBytes) break;
    if (!dense) rows = tx->store_entries(dataset_id, store, chunk->first_key, chunk->last_key);
    if (!dense) row = rows.begin();
    while (row != rows.end() && row->key < chunk->first_key)
      ++row;
    protocol::ReplicaInterner replicas;
    std::vector<protocol::FeedItem> items;
    for (; row != rows.end() && row->key <= chunk->last_key; ++row)
      items.push_back(feed_item(*row, replicas));
    const std::string bytes = protocol::encode_chunk(items);
    if (protocol::chunk_hash(bytes) == *name) protocol::append_chunk(answer, *name, bytes);
  }
  return answer;
}

}  // namespace cairn::server
