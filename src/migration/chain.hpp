// Running migration chains over a whole store (the per-entry API is public, in schema.hpp).
#pragma once

#include <boost/json/value.hpp>
#include <cairn/schema.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cairn {

// Throws Error(invalid_argument) unless the steps run contiguously up to schema.version.
void validate_migrations(const StoreSchema& schema);

struct VersionedValue {
  boost::json::value value;
  std::uint32_t version = 0;  // the schema version the value is written in
};
using MigrationProgress = std::function<void(std::size_t done, std::size_t total)>;

// Calls `visit` with each operation that takes one entry from version `from` to `to`, in order
// (backward: true when going down, through the inverses), as migrate_entry runs them. Throws
// MigrationError, naming `key` and the step, for a missing step, a whole-store or non-invertible
// operation on the way, or whatever `visit` throws.
using EntryOpVisitor = std::function<void(const MigrationOp& op, bool backward)>;
void for_each_entry_op(const StoreSchema& schema, std::uint32_t from, std::uint32_t to,
                       std::string_view key, const EntryOpVisitor& visit);

// One live entry that a migration rewrites in place: its value and version belong to the caller.
struct MigratingEntry {
  const std::string* key;
  boost::json::value* value;
  std::uint32_t* version;
};

// What whole-store steps did besides rewriting values in place.
struct StoreChanges {
  std::map<std::string, VersionedValue> created;  // keys they added
  std::set<std::string> dropped;                  // keys of `entries` they removed
};

// Takes every entry below schema.version up to it, one step at a time: at each step the entries
// at that version go through the step's operations together (so that whole-store operations see
// all of them). Values and versions are rewritten in place; entries at or above schema.version
// are left alone. Throws MigrationError at the first failure, leaving the entries part-way: the
// caller must fall back on its own copy (the database file, for Database).
StoreChanges run_store_migration(const StoreSchema& schema, std::uint32_t stored_version,
                                 std::vector<MigratingEntry>& entries,
                                 const MigrationProgress& progress);

// --- A dataset's schema, revision after revision (docs/migrations.md, "Old and new apps at once")

// A dataset's live entries: per store, how many are at each schema version.
using StoredVersions = std::map<std::string, std::map<std::uint32_t, std::uint64_t>>;

// Why a schema cannot follow another.
struct SuccessionProblem {
  std::string store;
  std::string message;
  std::uint32_t version = 0;  // the entries' version it concerns, when it concerns entries
  std::uint64_t entries = 0;  // how many entries it would strand
};

// Whether `next` may follow `previous` as a dataset's schema: schemas only move forward — every
// store of `previous` is still declared, at the same or a higher version, with the same merge
// policy, and a step both declare is the same step (devices have run it) — and every live entry
// can be taken to its store's new version: its version is not above it and the chain has every
// step from there. Nothing when it may.
std::optional<SuccessionProblem> check_succession(const std::vector<StoreSchema>& previous,
                                                  const std::vector<StoreSchema>& next,
                                                  const StoredVersions& stored);

}  // namespace cairn
