// cairn/database.hpp — a local Cairn database: named, versioned stores kept in one SQLite file.
//
// Opening a database hydrates every store it loads into memory. After that, reads (get, contains,
// size, for_each, scan) are answered from memory and never touch the disk; writes go through a
// Transaction that commits atomically to SQLite (WAL mode), together with its outbox records and
// the advanced hybrid logical clock, and only then becomes visible to readers and subscribers.
//
// Thread safety: a Database may be used from any number of threads at once. Reads run
// concurrently with each other and with a committing writer's disk I/O; they wait only for the
// brief moment in which a commit that is already durable is applied to memory, and they always
// see whole transactions. Commits are serialized. A Transaction object belongs to one thread at a
// time. Listeners and for_each/scan visitors run with the guarantees stated where they are
// declared.
//
// Processes: one process at a time opens a database for writing; a second writer, in this or
// another process, gets Error(database_locked). Read-only opens (Options::read_only, which the
// `cairn` CLI uses for inspect/get/export) work beside a writer and see the last committed state
// at the moment they open.
//
// Errors: every failure throws cairn::Error (see error.hpp). Opening a file that is not a Cairn
// database, is corrupt, or was written by a newer format throws without modifying the file.
#pragma once

#include <boost/json/value.hpp>
#include <boost/json/value_to.hpp>
#include <cairn/change.hpp>
#include <cairn/clock.hpp>
#include <cairn/durability.hpp>
#include <cairn/entry.hpp>
#include <cairn/error.hpp>
#include <cairn/schema.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn {

class Transaction;
class StoreEngine;  // the implementation (src/store); opaque here

// A store's size crossed the warning share of its quota (Limits::quota_warning of
// Limits::max_store_bytes), upwards (`above`) or back down: told once per crossing, and at open
// for every store that is above already. Writes that would take a store past its quota fail
// with quota_exceeded; what sync brings is never refused, so a store may pass it.
struct QuotaEvent {
  std::string store;
  std::size_t bytes = 0;  // keys + serialized values of its live entries, now
  std::size_t limit = 0;  // Limits::max_store_bytes
  bool above = true;
};
// Runs on the thread that committed, before the commit returns (or while Database::open runs):
// it may read the database but must not write to it.
using QuotaListener = std::function<void(const QuotaEvent&)>;

struct DatabaseOptions {
  // The stores the application uses. Declared stores are created when missing and are the only
  // ones loaded. Leave empty to load every store recorded in the file with its recorded schema
  // (what tools do).
  std::vector<StoreSchema> stores;
  bool read_only = false;
  bool create_if_missing = true;
  Durability durability = Durability::normal;
  Limits limits;
  std::shared_ptr<Clock> clock;  // physical time for the HLC; the system clock when null
  // Migrations (see migration.hpp): who hears their progress, and what a failure does.
  MigrationListener on_migration;
  MigrationFailure migration_failure = MigrationFailure::throw_error;
  QuotaListener on_quota;  // stores nearing their quota (QuotaEvent)
};

// The state of one loaded store.
struct StoreInfo {
  StoreSchema schema;                // as declared (or as recorded, for tools)
  std::uint32_t stored_version = 0;  // the version the data in the file is at
  bool writable = true;              // false when the database or the store is read-only
  std::optional<ErrorCode> status;   // why it is not writable: read_only, schema_too_new or
                                     // migration_failed
  std::string error;                 // migration_failed: the MigrationError's message
  std::size_t entries = 0;           // live entries (tombstones are not counted)
  std::size_t bytes = 0;             // keys + serialized values of live entries
  std::size_t tombstones = 0;
  std::size_t quota_bytes = 0;  // Limits::max_store_bytes: `bytes` may not grow past it
  bool near_quota = false;      // bytes >= Limits::quota_warning of it
};

// A copy of a store's rows taken before it migrated.
struct BackupInfo {
  std::int64_t id = 0;
  std::string store;
  std::uint32_t from_version = 0;  // the version the rows are at
  std::uint32_t to_version = 0;    // the version the migration went to
  std::size_t entries = 0;         // rows, tombstones included
  Timestamp created;
};

class Database {
 public:
  // Opens (or creates) the database at `path`. Throws Error on failure; see the header comment.
  static Database open(const std::filesystem::path& path, DatabaseOptions options = {});

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  ~Database();

  const std::filesystem::path& path() const;
  // This database's replica id: 32 hex digits, created with the file. It changes only when a sync
  // finds that the server applied other changes under this replica's numbers (the file was
  // restored from a backup or copied; see SyncReport::new_replica).
  std::string replica_id() const;
  // The latest HLC reading the database has issued or received.
  Timestamp clock() const;

  // --- Reads: from memory, safe from any thread. Unknown stores throw Error(unknown_store). ---
  std::optional<boost::json::value> get(std::string_view store, std::string_view key) const;
  bool contains(std::string_view store, std::string_view key) const;
  std::size_t size(std::string_view store) const;
  std::vector<std::string> keys(std::string_view store) const;
  // Metadata of an entry, tombstones included; empty when the key was never written.
  std::optional<EntryInfo> entry_info(std::string_view store, std::string_view key) const;

  // Visits live entries in key order (bytewise, as SQLite orders TEXT). scan visits keys in
  // [from, to); an empty `to` means "to the end". The visitor returns false to stop early. It runs
  // under a read lock: it may read the database but must not commit (that would deadlock).
  using Visitor = std::function<bool(std::string_view key, const boost::json::value& value)>;
  void for_each(std::string_view store, const Visitor& visit) const;
  void scan(std::string_view store, std::string_view from, std::string_view to,
            const Visitor& visit) const;

  // Typed reads through Boost.JSON's value_to; Error(invalid_value) when the stored JSON does not
  // convert to T.
  template <class T>
  std::optional<T> get_as(std::string_view store, std::string_view key) const;

  std::vector<StoreInfo> stores() const;
  StoreInfo store_info(std::string_view store) const;

  // --- Documents: the entries of stores declared with MergePolicy::document() (see
  // docs/collaboration.md). Error(invalid_argument) for a store of another policy. ---
  // The document's whole state as a Yjs update v1 (bytes: Y.applyUpdate(doc, state) loads it);
  // empty when the key holds no document.
  std::string document(std::string_view store, std::string_view key) const;
  // Root text `root` of the document as UTF-8; empty when there is none.
  std::string document_text(std::string_view store, std::string_view key,
                            std::string_view root = "content") const;

  // --- Writes. ---
  // Starts a transaction. Nothing is locked until commit.
  Transaction transaction();
  // One-write transactions.
  void put(std::string_view store, std::string_view key, boost::json::value value);
  void erase(std::string_view store, std::string_view key);

  // --- Subscriptions (see change.hpp for when and where listeners run). ---
  Subscription subscribe(Listener listener);                          // every store
  Subscription subscribe(std::string_view store, Listener listener);  // one store
  Subscription subscribe(std::string_view store, std::string_view key, Listener listener);

  // --- Outbox: local changes not yet acknowledged by a server. Reads the file. ---
  std::size_t pending_count() const;
  // Records in sequence order, starting after `after_seq`, at most `limit` of them.
  std::vector<OutboxRecord> outbox(std::uint64_t after_seq = 0, std::size_t limit = 1000) const;

  const DatabaseOptions& options() const;

  // --- Migration backups (reads the file). The last 3 per store are kept. ---
  std::vector<BackupInfo> backups() const;
  // Puts a store's rows back as they were in backup `backup_id`, and the store back at the
  // backup's version, in one transaction. The database must not be open for writing elsewhere
  // (Error(database_locked)); the next open of the store by the application migrates it again.
  // Pending outbox records stay queued. Throws Error(not_found) for an unknown backup.
  static void restore_backup(const std::filesystem::path& path, std::string_view store,
                             std::int64_t backup_id);

  // For libcairn's own layers (the sync client): the engine behind a database.
  friend StoreEngine& engine_of(Database& db);

 private:
  explicit Database(std::unique_ptr<StoreEngine> engine);
  std::unique_ptr<StoreEngine> engine_;
};

template <class T>
std::optional<T> Database::get_as(std::string_view store, std::string_view key) const {
  auto value = get(store, key);
  if (!value) return std::nullopt;
  try {
    return boost::json::value_to<T>(*value);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::invalid_value,
                std::string("entry '") + std::string(key) + "' in store '" + std::string(store) +
                    "' does not convert to the requested type: " + e.what());
  }
}

}  // namespace cairn
