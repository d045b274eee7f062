// A store's entries in memory, and their stamps as the file keeps them.
#include <fmt/format.h>

#include <cairn/error.hpp>

#include "store/store_engine.hpp"

namespace cairn {

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

void StoreState::erase(std::string_view key) {
  auto found = entries.find(key);
  if (found->second.deleted) {
    --tombstones;
  } else {
    --live;
    bytes -= found->second.bytes;
  }
  entries.erase(found);
}

void StoreState::recount() {
  live = bytes = tombstones = 0;
  for (const auto& [key, entry] : entries) {
    if (entry.deleted) {
      ++tombstones;
    } else {
      ++live;
      bytes += entry.bytes;
    }
  }
}

EntryStamps stored_stamps(const merge::Entry& entry, const ReplicaTable& replicas) {
  EntryStamps stamps;
  stamps.fields.reserve(entry.fields.size());
  for (const auto& field : entry.fields) {
    stamps.fields.push_back({field.name,
                             {field.stamp.hlc.packed(), replicas.ref_of(field.stamp.replica)},
                             field.deleted});
  }
  if (!entry.floor.is_zero()) {
    stamps.floor = StoredStamp{entry.floor.hlc.packed(), replicas.ref_of(entry.floor.replica)};
  }
  return stamps;
}

void read_stamps(const EntryStamps& stamps, const ReplicaTable& replicas, std::string_view store,
                 std::string_view key, merge::Entry& entry) {
  const auto stamp = [&](const StoredStamp& stored) {
    const std::string* replica = replicas.by_ref(stored.replica_ref);
    if (replica == nullptr) {
      throw Error(ErrorCode::corrupt,
                  fmt::format("store '{}', key '{}': damaged field stamps", store, key));
    }
    return merge::Stamp{Timestamp::from_packed(stored.hlc), replica};
  };
  for (const auto& field : stamps.fields)
    entry.fields.push_back({field.name, stamp(field.stamp), field.deleted});
  if (stamps.floor) entry.floor = stamp(*stamps.floor);
}

}  // namespace cairn
