// StoreEngine — the store engine behind cairn::Database (and the only thing a Database holds).
//
// Its work is split by job: open.cpp opens the file, declares the stores and hydrates them;
// migrate_on_open.cpp runs pending migrations; reads.cpp answers reads from memory;
// commit.cpp plans a transaction's writes and commits them through StagedCommit, the one path by
// which entries reach the file and memory; remote_apply.cpp applies what sync brings through the
// same path.
//
// Locks, in the order they are taken (Clang's -Wthread-safety checks the annotations):
//   write_mutex_   serializes commits and every use of file_ (the SQLite connection), the HLC's
//                  persistence, next_seq_, self_ and replicas_. Held across disk I/O.
//   notify_mutex_  recursive; taken before write_mutex_ is released and held while listeners run,
//                  so listeners hear commits in commit order and may commit themselves.
//   state_mutex_   guards the stores' contents: shared by readers and by a committer while it
//                  plans; exclusive only while a durable commit is applied to memory. Readers
//                  therefore never wait for disk I/O.
// The set of stores is fixed when the constructor returns; only their contents change afterwards.
#pragma once

#include <atomic>
#include <boost/json/value.hpp>
#include <cairn/database.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "foundation/hybrid_clock.hpp"
#include "foundation/mutex.hpp"
#include "merge/entry.hpp"
#include "storage/entry_stamps.hpp"
#include "storage/file_lock.hpp"
#include "storage/local_file.hpp"
#include "store/replica_table.hpp"
#include "store/subscribers.hpp"

namespace cairn {

// One write of a Transaction, checked when it was added.
struct PendingWrite {
  enum class Kind { put, erase, increment, update };
  Kind kind = Kind::put;
  std::string store;
  std::string key;
  boost::json::value value;  // put: the value
  std::string serialized;    // put: the value as JSON text; update: the Yjs update (bytes)
  std::string field;         // increment: the counter field
  std::int64_t delta = 0;    // increment: the amount
};

// What a cairn::Transaction holds: its engine and the writes added so far.
struct PendingWrites {
  StoreEngine* engine = nullptr;
  std::vector<PendingWrite> writes;
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
  bool near_quota = false;  // as last told to DatabaseOptions::on_quota

  // Puts `next` in place of `committed` (null when the key is new), keeping the counts in step.
  // The caller holds the engine's state lock exclusively.
  void replace(std::string_view key, const StoredEntry* committed, StoredEntry next);
  // Removes `key`'s entry (there must be one), keeping the counts in step. The caller holds the
  // engine's state lock exclusively.
  void erase(std::string_view key);
  // Recounts live entries, bytes and tombstones from the entries.
  void recount();
};

// Throws Error(invalid_argument) unless the store holds documents (MergePolicy::document()).
void require_documents(const StoreState& state);

// An entry's per-field stamps and floor as the file keeps them (replicas by ref), and back.
// read_stamps throws Error(corrupt) for a replica ref the table does not know.
EntryStamps stored_stamps(const merge::Entry& entry, const ReplicaTable& replicas);
void read_stamps(const EntryStamps& stamps, const ReplicaTable& replicas, std::string_view store,
                 std::string_view key, merge::Entry& entry);

class StagedCommit;

class StoreEngine {
 public:
  // Opens the file, declares and hydrates the stores and migrates them (open.cpp). Throws Error.
  StoreEngine(const std::filesystem::path& path, DatabaseOptions options);

  const std::filesystem::path& path() const { return path_; }
  const DatabaseOptions& options() const { return options_; }
  std::string replica_id() EXCLUDES(write_mutex_);
  Timestamp clock() const { return clock_->last(); }
  std::size_t pending_count() const { return pending_.load(); }

  // --- Reads, from memory (reads.cpp). Unknown stores throw Error(unknown_store). ---
  void require_store(std::string_view name) const EXCLUDES(state_mutex_);
  std::optional<boost::json::value> get(std::string_view store, std::string_view key) const
      EXCLUDES(state_mutex_);
  bool contains(std::string_view store, std::string_view key) const EXCLUDES(state_mutex_);
  std::size_t size(std::string_view store) const EXCLUDES(state_mutex_);
  std::optional<EntryInfo> entry_info(std::string_view store, std::string_view key) const
      EXCLUDES(state_mutex_);
  void scan(std::string_view store, std::string_view from, std::string_view to,
            const Database::Visitor& visit) const EXCLUDES(state_mutex_);
  StoreInfo store_info(std::string_view store) const EXCLUDES(state_mutex_);
  // A document's state (a Yjs update v1); empty when none. Error(invalid_argument) when the store
  // holds no documents.
  std::string document(std::string_view store, std::string_view key) const EXCLUDES(state_mutex_);
  // The Yjs client id of this replica's edits to documents (from its replica id).
  std::uint64_t document_client() EXCLUDES(write_mutex_);
  std::vector<StoreInfo> stores() const EXCLUDES(state_mutex_);
  // How many entries sync holds back from each store (written at a version this build cannot
  // read), by store name; stores with none are left out.
  std::map<std::string, std::uint64_t, std::less<>> held_back()
      EXCLUDES(write_mutex_, state_mutex_);
  // The schema version of each store as this database declares it: the versions sync asks the
  // server to serve (docs/migrations.md, "Old and new apps at once").
  std::map<std::string, std::uint32_t, std::less<>> declared_versions() const
      EXCLUDES(state_mutex_);
  // Reads of the file.
  std::vector<OutboxRecord> outbox(std::uint64_t after_seq, std::size_t limit)
      EXCLUDES(write_mutex_);
  // The same records as the file keeps them (payloads as JSON text, which sync sends unparsed),
  // with their store's name.
  void for_each_outbox_row(
      std::uint64_t after_seq, std::size_t limit,
      const std::function<void(const LocalFile::OutboxRow& row, std::string_view store)>& visit)
      EXCLUDES(write_mutex_);
  std::vector<BackupInfo> backups() EXCLUDES(write_mutex_);

  Subscription subscribe(Subscribers::Filter filter, Listener listener);

  // --- Local writes (commit.cpp). ---
  // Checks a write when it is added to a transaction; throws Error.
  void check_write(const PendingWrite& write) const EXCLUDES(state_mutex_);
  // Commits the writes atomically (see cairn/transaction.hpp); throws Error, changing nothing.
  void commit(const std::vector<PendingWrite>& writes) EXCLUDES(write_mutex_, state_mutex_);
  // The value `key` would have if `writes` were committed now: planned exactly as commit plans
  // them (Transaction::get).
  std::optional<boost::json::value> preview(const std::vector<PendingWrite>& writes,
                                            std::string_view store, std::string_view key) const
      EXCLUDES(state_mutex_);

  // --- Sync (remote_apply.cpp; src/sync drives these) ---
  LocalFile::SyncState sync_state() EXCLUDES(write_mutex_);
  void save_sync_state(const LocalFile::SyncState& state) EXCLUDES(write_mutex_);
  // An entry's state as the server sends it. The stamps' replica ids may point anywhere that
  // outlives the call: they are interned into the engine's own table.
  struct RemoteEntry {
    std::string store;
    std::string key;
    merge::Entry entry;
    // The server holds the entry back from this database (docs/migrations.md, "Old and new apps
    // at once"): `entry` only says the version it is written at.
    bool held_back = false;
  };
  struct RemoteApplied {
    std::size_t acknowledged = 0;  // outbox records removed
    std::size_t applied = 0;       // entries whose local state changed
    std::size_t held = 0;          // entries skipped: written by a newer schema than declared
    std::size_t skipped = 0;       // entries skipped: of stores this database does not declare
    std::size_t forgotten = 0;     // entries a manifest refresh forgot (apply_manifest)
  };
  // In one SQLite transaction: removes the outbox records up to `acked_through` (lowering their
  // entries' pending counts), merges the server's entry states (rebasing this replica's pending
  // changes on top, with the merge rules), and saves `state` (the new cursor). `before_ack` are
  // states from before the acknowledged changes committed on the server (a live push that raced
  // its batch's ack): merged first, with those changes still pending; `entries` hold them.
  // Subscribers then hear of the changes with origin remote. Throws Error on a malformed entry
  // (nothing applied).
  RemoteApplied apply_sync(std::uint64_t acked_through, std::vector<RemoteEntry> entries,
                           LocalFile::SyncState state, std::vector<RemoteEntry> before_ack = {})
      EXCLUDES(write_mutex_, state_mutex_);
  // Documents whose copy on the server moved past what this replica has: the server's feed only
  // marks that a document changed (apply_sync notes which), and the sync client fetches what
  // this replica lacks from the document itself (apply_document). Every document is noted when
  // the database opens, as what a crash lost of the notes is not known. Taking empties the set.
  using DocumentKey = std::pair<std::string, std::string>;  // (store, key)
  std::vector<DocumentKey> take_stale_documents() EXCLUDES(stale_mutex_);
  void note_stale_document(DocumentKey document) EXCLUDES(stale_mutex_);
  bool has_stale_documents() EXCLUDES(stale_mutex_);
  // Merges a Yjs update from the server (what this replica's copy of a document lacked) into the
  // document `key`, without an outbox record; subscribers hear of it with origin remote. Whether
  // it changed the document. Throws Error(invalid_value) when it does not decode.
  bool apply_document(std::string_view store, std::string_view key, std::string_view update)
      EXCLUDES(write_mutex_, state_mutex_);
  // The server expects this replica's next change to be number `first` (it was restored from a
  // backup and lost changes it had acknowledged): the outbox is renumbered from there.
  void renumber_outbox(std::uint64_t first) EXCLUDES(write_mutex_);
  // The number of this replica's last change the server acknowledged (its outbox follows it).
  std::uint64_t acknowledged_through() EXCLUDES(write_mutex_);
  // The server applied other changes under this replica's numbers (this database was restored
  // from a backup, or copied): it continues as a new replica, its outbox numbered from 1.
  void become_new_replica() EXCLUDES(write_mutex_);
  // Queues again, with their original stamps, this replica's writes that its entries still show
  // (merge::own_writes), for a server that lost changes it had acknowledged. Returns how many.
  std::size_t requeue_own_writes() EXCLUDES(write_mutex_, state_mutex_);

  // Manifest-first hydration (manifest.cpp; docs/sync.md, "Large stores: manifests").
  struct ManifestStore {
    std::string store;
    ManifestHydration hydration;
    std::optional<LocalFile::ManifestRow> held;  // the manifest this copy was refreshed from
  };
  // The stores this database hydrates by manifest (StoreSchema::manifest), with the manifest each
  // holds (read on every sync, to check the TTLs).
  std::vector<ManifestStore> manifest_stores() EXCLUDES(write_mutex_, state_mutex_);
  // The names of the chunks of the manifest `store` holds (read only to refresh it).
  std::set<std::string> manifest_chunk_names(std::string_view store)
      EXCLUDES(write_mutex_, state_mutex_);
  // The names of those stores (the sync requests' "manifestStores").
  std::set<std::string, std::less<>> manifest_store_names() const EXCLUDES(state_mutex_);
  // Keeps `row` as the store's manifest (a 304: the copy is as fresh as the fetch).
  void touch_manifest(std::string_view store, const LocalFile::ManifestRow& row)
      EXCLUDES(write_mutex_, state_mutex_);
  // A refresh from the server's manifest, applied in one transaction by apply_manifest.
  struct ManifestRefresh {
    std::string store;
    LocalFile::ManifestRow manifest;
    std::vector<RemoteEntry> entries;             // the entries of the chunks fetched
    std::vector<LocalFile::ManifestChunk> added;  // the chunks fetched
    std::vector<std::string> removed;             // chunks of the held manifest that are gone
    bool whole = false;  // `added` is the whole store: entries beyond it go too
  };
  // Merges the entries as apply_sync does (this replica's pending changes rebased on top), then
  // forgets the entries that were in the removed chunks' key ranges (everywhere, when `whole`)
  // and are in no chunk fetched, unless a change to them is pending; and keeps the manifest.
  // Subscribers hear of it all with origin remote. Throws Error (nothing applied).
  RemoteApplied apply_manifest(ManifestRefresh refresh) EXCLUDES(write_mutex_, state_mutex_);
  // The database clock's physical time (DatabaseOptions::clock), in ms since the epoch.
  std::int64_t now_ms() const;

  // Tombstone compaction on this side (compaction.cpp; docs/sync.md, "Deletes and compaction").
  // The server compacted deletes this database had not seen: saves `state` (its cursor cleared,
  // to read the feed from its beginning) and marks every entry unconfirmed, in one transaction;
  // apply_sync confirms each entry the feed brings.
  void begin_resync(const LocalFile::SyncState& state) EXCLUDES(write_mutex_);
  // Once that resync has read the feed to its end: forgets the entries it left unconfirmed that
  // have no pending change (the server deleted them and has since dropped their tombstones);
  // subscribers hear the live ones deleted, with origin remote. Returns how many it forgot (0
  // when no resync was under way).
  std::size_t finish_resync() EXCLUDES(write_mutex_, state_mutex_);
  // Forgets tombstones stamped more than `retention` ago that the server has (no pending change):
  // the server drops its own after its retention window, and a device that has not seen them
  // resyncs. Returns how many.
  std::size_t drop_tombstones(std::chrono::milliseconds retention)
      EXCLUDES(write_mutex_, state_mutex_);

 private:
  // open.cpp
  void load_replicas() REQUIRES(write_mutex_);
  bool declare_stores() REQUIRES(write_mutex_, state_mutex_);  // whether it added a store
  void hydrate() REQUIRES(write_mutex_, state_mutex_);
  void hydrate(StoreState& state) REQUIRES(write_mutex_, state_mutex_);
  // migrate_on_open.cpp
  void migrate(StoreState& state) REQUIRES(write_mutex_, state_mutex_);
  void emit(const MigrationEvent& event) const;
  // Tells DatabaseOptions::on_quota of each store in `stores` whose size crossed the warning
  // share of its quota since it was last told (commit.cpp).
  void check_quota(const std::vector<StoreState*>& stores) REQUIRES(write_mutex_)
      EXCLUDES(state_mutex_);
  // reads.cpp
  const StoreState& find_store(std::string_view name) const REQUIRES_SHARED(state_mutex_);
  StoreInfo info_of(const StoreState& state) const REQUIRES_SHARED(state_mutex_);
  // commit.cpp
  StoreState& writable_store(std::string_view name) REQUIRES_SHARED(state_mutex_);
  // Writes the staged entries that changed (in the caller's SQLite transaction `guard`), commits
  // it, and applies them to memory.
  void publish(StagedCommit& staged, sqlite::TransactionGuard& guard) REQUIRES(write_mutex_)
      EXCLUDES(state_mutex_);
  // remote_apply.cpp: apply_sync and apply_manifest.
  RemoteApplied apply_remote(std::uint64_t acked_through, std::vector<RemoteEntry> entries,
                             LocalFile::SyncState state, std::vector<RemoteEntry> before_ack,
                             const ManifestRefresh* refresh) EXCLUDES(write_mutex_, state_mutex_);
  // compaction.cpp: forgets the entries at `keys` (in file and memory), clearing the unconfirmed
  // marks too when `resync_done`; returns what subscribers are to hear (the live ones deleted).
  ChangeSet forget(const std::vector<std::pair<StoreState*, std::string>>& keys, bool resync_done)
      REQUIRES(write_mutex_) EXCLUDES(state_mutex_);
  // The memory side of forgetting, once the file's rows are gone: erases the entries at `keys`,
  // adds the live ones to `heard` as deleted (when anyone listens), and checks the stores' quota.
  void erase_forgotten(const std::vector<std::pair<StoreState*, std::string>>& keys,
                       ChangeSet& heard) REQUIRES(write_mutex_) EXCLUDES(state_mutex_);
  // Writes an entry's row; `text` is its value as JSON when live.
  void write_entry(std::uint32_t store_id, std::string_view key, const StoredEntry& entry,
                   std::string_view text) REQUIRES(write_mutex_);

  const std::filesystem::path path_;
  const DatabaseOptions options_;
  const std::optional<FileLock> lock_;
  std::unique_ptr<HybridClock> clock_;  // set once while opening; thread-safe itself
  std::atomic<std::uint64_t> pending_{0};
  Subscribers subscribers_;

  mutable Mutex write_mutex_ ACQUIRED_BEFORE(notify_mutex_, state_mutex_);
  LocalFile file_ GUARDED_BY(write_mutex_);
  ReplicaTable replicas_ GUARDED_BY(write_mutex_);
  const std::string* self_ GUARDED_BY(write_mutex_) = nullptr;
  std::uint64_t next_seq_ GUARDED_BY(write_mutex_) = 1;
  std::map<std::uint32_t, std::string> store_names_ GUARDED_BY(write_mutex_);  // every store, by id

  RecursiveMutex notify_mutex_ ACQUIRED_BEFORE(state_mutex_);

  Mutex stale_mutex_;
  std::set<DocumentKey> stale_documents_ GUARDED_BY(stale_mutex_);

  mutable SharedMutex state_mutex_;
  std::map<std::string, StoreState, std::less<>> stores_ GUARDED_BY(state_mutex_);
};

}  // namespace cairn
