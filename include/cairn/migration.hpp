// cairn/migration.hpp — non-destructive schema migrations.
//
// A store declares its version N and the steps that take its data from version k to k+1
// (StoreSchema::migrations). When a database opens and a store's data is at a lower version, every
// step from that version up runs in order, inside one SQLite transaction per store, after the
// store's rows have been backed up (the last 3 backups per store are kept; `cairn backups` lists
// them and `cairn restore` brings one back). A step that throws or produces an invalid value rolls
// the whole store back: its rows stay byte-identical at the old version and the application gets
// a MigrationError naming the store, the versions, the entry and the cause. Data is never cleared.
//
// Steps are lists of operations. The declarative ones cover the roadmap's patterns A-D and run
// backwards too (see MigrationOp::invertible), so that entries from a newer schema can be
// translated down for older readers; custom operations are C++ callables, per entry or over the
// whole store.
//
// Paths name fields inside an entry's value: "info.preferences.theme" (dot-separated), or a JSON
// Pointer such as "/info/odd.name" when a name contains a dot. The empty path "" is the value
// itself.
#pragma once

#include <boost/json/value.hpp>
#include <cairn/error.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cairn {

// A store's entries, key -> value, as whole-store operations see them.

using EntryMap = std::map<std::string, boost::json::value>;

class MigrationOp {
 public:
  using EntryFunction = std::function<boost::json::value(boost::json::value)>;
  using StoreFunction = std::function<EntryMap(EntryMap)>;

  // Pattern A. Sets `path` to `value` where it is missing; its parent must be an object. Runs
  // backwards as remove_field(path).
  static MigrationOp add_field(std::string path, boost::json::value value);
  // Pattern B. Moves the value at `from` to `to` (whose parent must be an object, and which must
  // not exist yet); nothing when `from` is missing. Runs backwards as rename_field(to, from).
  static MigrationOp rename_field(std::string from, std::string to);
  // Pattern D. Removes `path` where present. Runs backwards (as add_field(path, *restore)) only
  // when `restore` is given: without it the removed data cannot be brought back.
  static MigrationOp remove_field(std::string path,
                                  std::optional<boost::json::value> restore = std::nullopt);
  // Pattern C. {"a": {...}, "b": {...}} at `path` becomes [{"id": "a", ...}, {"id": "b", ...}],
  // keeping the order. Members must be objects without an `id_field` already. Runs backwards as
  // array_to_object.
  static MigrationOp object_to_array(std::string path, std::string id_field = "id");
  // Pattern C, the other way: elements must be objects with a unique string `id_field`.
  static MigrationOp array_to_object(std::string path, std::string id_field = "id");
  // A custom step per entry. Runs backwards only when `backward` is given.
  static MigrationOp transform_entry(std::string name, EntryFunction forward,
                                     EntryFunction backward = {});
  // A custom step over the whole store; may add, remove and rename keys. Never runs backwards,
  // and a chain containing one cannot migrate single entries.
  static MigrationOp transform_store(std::string name, StoreFunction function);

  enum class Kind {
    add_field,
    rename_field,
    remove_field,
    object_to_array,
    array_to_object,
    transform_entry,
    transform_store
  };
  Kind kind() const;
  bool invertible() const;
  bool per_entry() const;
  // "add info.createdAt = \"1970-01-01T00:00:00Z\"", for plans and error messages.
  std::string describe() const;

  // JSON form, as in schema files: {"op": "add", "path": "...", "value": ...}, {"op": "rename",
  // "from": "...", "to": "..."}, {"op": "remove", "path": "...", "restore": ...},
  // {"op": "objectToArray" | "arrayToObject", "path": "...", "idField": "id"}. Custom operations
  // have no JSON form (to_json throws invalid_argument).
  boost::json::value to_json() const;
  static MigrationOp from_json(const boost::json::value& json);

  // Applies the operation to one entry's value, forwards or backwards. Throws Error
  // (invalid_value) when the value does not have the shape the operation needs, or when running
  // backwards an operation that is not invertible; transform_store throws invalid_argument.
  boost::json::value apply(boost::json::value value, bool backward = false) const;
  // Applies a transform_store operation.
  EntryMap apply_store(EntryMap entries) const;

 private:
  struct Rep;  // the operation's definition (migration_op.cpp)
  explicit MigrationOp(std::shared_ptr<const Rep> rep);
  std::shared_ptr<const Rep> rep_;
};

// The step that takes a store's data from version `from` to `from + 1`.
struct MigrationStep {
  std::uint32_t from = 1;
  std::vector<MigrationOp> ops;

  bool invertible() const;
};

// Thrown when a migration step fails. The store was rolled back and left at `from_version`.
class MigrationError : public Error {
 public:
  MigrationError(std::string store, std::uint32_t from_version, std::uint32_t to_version,
                 std::string key, std::string cause);

  const std::string& store() const { return store_; }
  std::uint32_t from_version() const { return from_version_; }
  std::uint32_t to_version() const { return to_version_; }
  const std::string& key() const { return key_; }  // empty when the step failed as a whole
  const std::string& cause() const { return cause_; }

 private:
  std::string store_;
  std::uint32_t from_version_, to_version_;
  std::string key_, cause_;
};

// What the application hears while its stores migrate, to show the roadmap's "UI notification
// for migrations". Delivered on the thread that opens the database.
struct MigrationEvent {
  enum class Kind { started, progress, finished, failed };
  Kind kind = Kind::started;
  std::string store;
  std::uint32_t from_version = 0;
  std::uint32_t to_version = 0;
  std::size_t entries_done = 0;
  std::size_t entries_total = 0;
  std::chrono::milliseconds elapsed{0};
  std::string error;  // failed: the MigrationError's message
};

using MigrationListener = std::function<void(const MigrationEvent&)>;

std::string_view migration_event_name(MigrationEvent::Kind kind) noexcept;

// What Database::open does when a store's migration fails.
enum class MigrationFailure {
  throw_error,     // open throws the MigrationError (the database is not opened)
  open_read_only,  // open succeeds; the store is readable at its old version and refuses writes
                   // with migration_failed (StoreInfo::status, StoreInfo::error say why)
};

}  // namespace cairn
