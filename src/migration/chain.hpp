// Running migration chains over a whole store (the per-entry API is public, in schema.hpp).
#pragma once

#include <boost/json/value.hpp>
#include <cairn/schema.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace cairn {

// Throws Error(invalid_argument) unless the steps run contiguously up to schema.version.
void validate_migrations(const StoreSchema& schema);

struct VersionedValue {
  boost::json::value value;
  std::uint32_t version = 0;  // the schema version the value is written in
};
using VersionedEntries = std::map<std::string, VersionedValue>;
using MigrationProgress = std::function<void(std::size_t done, std::size_t total)>;

// Takes every live entry below schema.version up to it, one step at a time: at each step the
// entries at that version go through the step's operations together (so that whole-store
// operations see all of them). Entries at or above schema.version are left as they are. Returns
// the store's live entries afterwards. Throws MigrationError at the first failure; the input is
// consumed either way, so the caller keeps its own copy to fall back on.
VersionedEntries run_store_migration(const StoreSchema& schema, std::uint32_t stored_version,
                                     VersionedEntries entries, const MigrationProgress& progress);

}  // namespace cairn
