// cairn/schema.hpp — what an application declares about its stores.
//
// A store is a named map of entries, key -> JSON value. The application declares each store with a
// schema version and a merge policy; the database records the declaration, so that tools (the
// `cairn` CLI, and later the server) can open it without the application's code.
//
// Merge policies decide how concurrent writes from different replicas combine:
//   lww        the whole entry: the write with the greatest (HLC, replica) wins.
//   field_lww  each top-level field of an object separately, so that concurrent edits to
//              different fields both survive. A value that is not an object is merged whole.
// Either policy may name counter fields (top-level numeric fields of object values): concurrent
// increments add up instead of overwriting each other. Counter fields require field_lww.
#pragma once

#include <boost/json/value.hpp>
#include <cairn/migration.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cairn {

struct MergePolicy {
  enum class Kind { lww, field_lww };

  Kind kind = Kind::lww;
  std::vector<std::string> counters;  // counter fields; sorted and unique once validated

  static MergePolicy whole_entry() { return {}; }
  static MergePolicy per_field(std::vector<std::string> counter_fields = {}) {
    return {Kind::field_lww, std::move(counter_fields)};
  }

  bool is_counter(std::string_view field) const;

  // JSON form: {"merge": "lww"} or {"merge": "field-lww", "counters": ["xp"]}.
  boost::json::value to_json() const;
  // Throws Error(invalid_argument) on an unknown policy or counters without field-lww.
  static MergePolicy from_json(const boost::json::value& json);

  friend bool operator==(const MergePolicy&, const MergePolicy&) = default;
};

// Checks and normalizes (sorts counters); throws Error(invalid_argument).
void validate_policy(MergePolicy& policy);

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
//                    {"from": 2, "ops": [...]}]}}}
// Throws Error(invalid_argument) naming what is wrong.
std::vector<StoreSchema> schema_from_json(const boost::json::value& json);
boost::json::value schema_to_json(const std::vector<StoreSchema>& stores);
std::vector<StoreSchema> load_schema_file(const std::filesystem::path& path);

// Bounds that every write is checked against. A write that would exceed one fails whole with a
// typed error (invalid_key, value_too_large, quota_exceeded) and nothing of it is written.
struct Limits {
  std::size_t max_key_bytes = 1024;                // keys: non-empty UTF-8, at most this long
  std::size_t max_value_bytes = 1024 * 1024;       // one value, serialized as JSON
  std::size_t max_store_bytes = 50 * 1024 * 1024;  // keys + serialized values of live entries
};

}  // namespace cairn
