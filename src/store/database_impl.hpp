// Database::Impl — the store engine behind cairn::Database.
//
// Locks, in the order they are taken:
//   write_mutex_   serializes commits and every use of file_ (the SQLite connection), the HLC's
//                  persistence, next_seq_ and replicas_' lookups. Held across disk I/O.
//   notify_mutex_  recursive; taken before write_mutex_ is released and held while listeners run,
//                  so listeners hear commits in commit order and may commit themselves.
//   state_mutex_   shared by readers; exclusive only while a durable commit is applied to memory.
//                  Readers therefore never wait for disk I/O.
// The set of stores is fixed when open() returns; only their contents change afterwards, and
// only under state_mutex_ held exclusively by the thread that holds write_mutex_. That thread may
// therefore read the stores without state_mutex_.
#pragma once

#include <atomic>
#include <boost/json/value.hpp>
#include <cairn/database.hpp>
#include <cairn/transaction.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "clock/hybrid_clock.hpp"
#include "merge/entry.hpp"
#include "storage/file_lock.hpp"
#include "storage/local_file.hpp"
#include "store/replica_table.hpp"
#include "store/subscribers.hpp"

namespace cairn {

// One write of a Transaction, checked when it was added.
struct Transaction::Write {
  enum class Kind { put, erase, increment };
  Kind kind;
  std::string store;
  std::string key;
  boost::json::value value;  // put: the value
  std::string serialized;    // put: the value as JSON text
  std::string field;         // increment: the counter field
  std::int64_t delta = 0;    // increment: the amount
};

struct StoredEntry : merge::Entry {
  std::uint32_t bytes = 0;    // key + serialized value while live; 0 for a tombstone
  std::uint32_t pending = 0;  // outbox records not yet acknowledged
};

struct StoreState {
  std::uint32_t id = 0;  // row in the stores table; 0 when the store is not in the file
  StoreSchema schema;
  std::uint32_t stored_version = 0;
  std::optional<ErrorCode> status;  // read_only, schema_too_new or migration_failed
  std::string error;                // migration_failed: why
  std::map<std::string, StoredEntry, std::less<>> entries;
  std::size_t live = 0;
  std::size_t bytes = 0;
  std::size_t tombstones = 0;

  // Puts `next` in place of `committed` (null when the key is new), keeping the counts in step.
  // The caller holds the database's state lock exclusively.
  void replace(std::string_view key, const StoredEntry* committed, StoredEntry next);
};

// The per-field stamps and floor of an entry as the entries table keeps them (database_impl.cpp).
std::string encode_field_stamps(const merge::Entry& entry, const ReplicaTable& replicas);
void decode_field_stamps(std::string_view text, const ReplicaTable& replicas,
                         std::string_view store, std::string_view key, merge::Entry& entry);

class Database::Impl {
 public:
  Impl(const std::filesystem::path& path, DatabaseOptions options);

  // Reads (take state_mutex_ shared).
  const StoreState& store(std::string_view name) const;
  std::optional<boost::json::value> get(std::string_view store, std::string_view key) const;
  bool contains(std::string_view store, std::string_view key) const;
  std::size_t size(std::string_view store) const;
  std::optional<EntryInfo> entry_info(std::string_view store, std::string_view key) const;
  void scan(std::string_view store, std::string_view from, std::string_view to,
            const Visitor& visit) const;
  StoreInfo store_info(const StoreState& state) const;
  std::vector<StoreInfo> stores() const;

  // Checks a write when it is added to a transaction; throws Error.
  void check_write(const Transaction::Write& write) const;
  void commit(const std::vector<Transaction::Write>& writes);

  std::vector<OutboxRecord> outbox(std::uint64_t after_seq, std::size_t limit);
  std::vector<BackupInfo> backups();

  // --- Sync (src/sync drives these) ---
  LocalFile::SyncState sync_state();
  void save_sync_state(const LocalFile::SyncState& state);
  // An entry's state as the server sends it (protocol::entry_meta_to_json for `meta`).
  struct RemoteEntry {
    std::string store;
    std::string key;
    std::optional<boost::json::value> value;  // empty for a tombstone
    boost::json::value meta;
  };
  struct RemoteApplied {
    std::size_t acknowledged = 0;  // outbox records removed
    std::size_t applied = 0;       // entries whose local state changed
    std::size_t held = 0;          // entries skipped: written by a newer schema than declared
    std::size_t skipped = 0;       // entries skipped: of stores this database does not declare
  };
  // In one SQLite transaction: removes the outbox records up to `acked_through` (clearing their
  // entries' pending counts), merges the server's entry states (rebasing this replica's pending
  // changes on top, with the merge rules), and saves `state` (the new cursor). Subscribers then
  // hear of the changes with origin remote. Throws Error on a malformed entry (nothing applied).
  RemoteApplied apply_sync(std::uint64_t acked_through, const std::vector<RemoteEntry>& entries,
                           LocalFile::SyncState state);
  // The server expects this replica's next change to be number `first` (it was restored from a
  // backup and lost changes it had acknowledged): the outbox is renumbered from there.
  void renumber_outbox(std::uint64_t first);
  // The number of this replica's last change the server acknowledged (its outbox follows it).
  std::uint64_t acknowledged_through();
  // The server applied other changes under this replica's numbers (this database was restored
  // from a backup, or copied): it continues as a new replica, its outbox numbered from 1.
  void become_new_replica();
  // Queues again, with their original stamps, this replica's writes that its entries still show
  // (merge::own_writes), for a server that lost changes it had acknowledged. Returns how many.
  std::size_t requeue_own_writes();

  std::filesystem::path path_;
  DatabaseOptions options_;
  std::optional<FileLock> lock_;
  LocalFile file_;
  ReplicaTable replicas_;
  const std::string* self_ = nullptr;
  std::unique_ptr<HybridClock> clock_;
  std::uint64_t next_seq_ = 1;
  std::atomic<std::uint64_t> pending_{0};
  std::map<std::uint32_t, std::string> store_names_;  // every store in the file, by id
  std::map<std::string, StoreState, std::less<>> stores_;
  std::shared_ptr<Subscribers> subscribers_ = std::make_shared<Subscribers>();

  std::mutex write_mutex_;
  std::recursive_mutex notify_mutex_;
  mutable std::shared_mutex state_mutex_;

 private:
  void load_replicas();
  bool declare_stores();  // whether it added a store to the file
  void hydrate();
  void hydrate(StoreState& state);
  void migrate(StoreState& state);
  void emit(const MigrationEvent& event) const;
  StoreState& writable_store(std::string_view name);
};

}  // namespace cairn
