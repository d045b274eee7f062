// cairn/schema.hpp — what an application declares about its stores.
//
// A store is a named map of entries, key -> JSON value. The application declares each store with a
// schema version and a merge policy (merge_policy.hpp); the database records the declaration, so
// that tools (the `cairn` CLI, and the server) can open it without the application's code.
#pragma once

#include <boost/json/value.hpp>
#include <cairn/limits.hpp>
#include <cairn/merge_policy.hpp>
#include <cairn/migration.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cairn {

// Manifest-first hydration (docs/sync.md, "Large stores: manifests"), for large, read-mostly
// stores: sync leaves the store out of the change feed and, once this database's copy is older
// than `ttl`, refreshes it from the server's manifest of content-addressed chunks, fetching only
// the chunks that changed. Reads never wait for it: they answer from the local copy.
struct ManifestHydration {
  static constexpr std::uint32_t kMaxChunkEntries = 4096;  // the server's bound on a chunk span

  std::chrono::seconds ttl{30 * 60};  // >= 0; 0: every sync refreshes
  // Entries per chunk on average, 1 to 4096. 1 fetches only the entries that changed; more make
  // the manifest smaller (one name of 22 characters per chunk) and each fetch larger.
  std::uint32_t chunk_entries = 1;
};

struct StoreSchema {
  StoreSchema() = default;
  StoreSchema(std::string name, std::uint32_t version = 1, MergePolicy policy = {},
              std::vector<MigrationStep> migrations = {})
      : name(std::move(name)),
        version(version),
        policy(std::move(policy)),
        migrations(std::move(migrations)) {}

  std::string name;           // non-empty, at most 128 bytes of [A-Za-z0-9_.-]
  std::uint32_t version = 1;  // >= 1
  MergePolicy policy;
  // Steps k -> k+1, contiguous and ending at `version` (the last has from == version - 1). Data
  // older than the first step's `from` cannot be migrated. See migration.hpp.
  std::vector<MigrationStep> migrations;
  // Set: the store is hydrated by manifest (not for document stores). Writes to it still go
  // through the outbox.
  std::optional<ManifestHydration> manifest;
};

// Checks the name, version, policy and migration chain; throws Error(invalid_argument).
void validate_store_schema(StoreSchema& schema);

// Migrates one entry's value from version `from` to version `to` through the store's chain:
// forwards when from < to, backwards (through invertible steps only) when from > to. This is how
// entries that arrive by sync from older or newer clients are translated. Throws MigrationError
// naming the step that is missing, not invertible, restructures the whole store, or failed.
boost::json::value migrate_entry(const StoreSchema& schema, boost::json::value value,
                                 std::uint32_t from, std::uint32_t to, std::string_view key = {});
// Whether migrate_entry(schema, ..., from, to) has every step it needs (it may still fail on a
// value of the wrong shape).
bool can_migrate_entry(const StoreSchema& schema, std::uint32_t from, std::uint32_t to);

// Schema files describe stores without the application's code, for the CLI and the server:
//   {"stores": {"userInformation": {"version": 3, "policy": {"merge": "field-lww"},
//     "migrations": [{"from": 1, "ops": [{"op": "add", "path": "info.createdAt", "value": ""}]},
//                    {"from": 2, "ops": [...]}]},
//   "graph": {"policy": {"merge": "lww"}, "manifest": {"ttlSeconds": 1800, "chunkEntries": 1}}}}
// Throws Error(invalid_argument) naming what is wrong.
std::vector<StoreSchema> schema_from_json(const boost::json::value& json);
boost::json::value schema_to_json(const std::vector<StoreSchema>& stores);
std::vector<StoreSchema> load_schema_file(const std::filesystem::path& path);

}  // namespace cairn
