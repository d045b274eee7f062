// LocalFile — a Cairn database file on disk. All SQL of the local database lives here.
//
// File format (recorded in PRAGMA user_version; application_id is 0x4341524E, "CARN"):
//
//   replica   one row: this database's replica id, the last HLC reading it issued or received
//             (packed, see Timestamp), the next outbox sequence number, its creation time.
//   replicas  replica ids interned to small integers for the entries table.
//   stores    one row per store: name, schema version of its data, merge policy (JSON).
//   entries   (store_id, key) -> value (JSON text; NULL for a tombstone), the HLC and replica of
//             the latest write, the schema version it was written under, per-field stamps
//             (JSON, only when a field-lww entry's fields carry different stamps).
//   outbox    local changes not yet acknowledged by a server, by sequence number, with the
//             schema version their payload is written in. An entry's pending count is the
//             number of its outbox records (read at open through the outbox_entry index), so an
//             acknowledgement deletes outbox rows and never rewrites entries.
//   sync_state one row: the server, token, dataset and change-feed cursor of sync (src/sync).
//   held_back  entries the feed up to the cursor held back from this database: written at a
//             version of their store it cannot read (format 3). Emptied with the cursor.
//   unconfirmed entries a resync from the feed's beginning has not yet found on the server
//             (format 4): what is left when it reaches the end, and not pending, the server
//             deleted and compacted away.
//   manifests, manifest_chunks
//             for each store hydrated by manifest, the server's manifest its entries were last
//             refreshed from: ETag, chunk span and when it was fetched; the chunks' names and key
//             ranges (format 5).
//   backups, backup_entries
//             copies of a store's entries rows taken before it migrated (the newest 3 per store).
//
// Formats are numbered; a file is readable when kMinReadableFormat <= user_version <= kFormat.
// Format 1 also kept each entry's pending count in entries.pending; opening a format-1 file for
// writing drops that column and records format 2 (a format-1 build then refuses the file as too
// new, rather than trusting counts it no longer finds maintained). Format 3 adds held_back, 4
// unconfirmed, 5 manifests and manifest_chunks.
// Opening checks the header through a read-only connection first, so a file that is not a Cairn
// database, is damaged or is too new is never modified.
//
// Not thread-safe: the owning Database serializes every call.
#pragma once

#include <cairn/clock.hpp>
#include <cairn/durability.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/sqlite.hpp"

namespace cairn {

class LocalFile {
 public:
  static constexpr std::int64_t kApplicationId = 0x4341524E;  // "CARN"
  static constexpr std::int64_t kFormat = 5;
  static constexpr std::int64_t kMinReadableFormat = 1;

  // Opens or creates the file. Throws Error: not_a_cairn_database, corrupt, format_too_new,
  // io_error, or not_found when the file is missing and may not be created.
  LocalFile(const std::filesystem::path& path, bool read_only, bool create_if_missing,
            Durability durability);

  struct Replica {
    std::string id;
    Timestamp hlc;
    std::uint64_t next_seq = 1;
  };
  Replica replica();
  void save_clock(Timestamp hlc, std::uint64_t next_seq);

  std::vector<std::pair<std::uint32_t, std::string>> replica_ids();
  std::uint32_t insert_replica(std::string_view replica_id);
  // Makes a new random id this database's own (recorded among the replicas); returns its ref and
  // the id. Rows stamped with the old id keep it.
  std::pair<std::uint32_t, std::string> new_own_replica();

  struct StoreRow {
    std::uint32_t id = 0;
    std::string name;
    std::uint32_t version = 0;
    std::string policy;  // MergePolicy JSON
  };
  std::vector<StoreRow> stores();
  std::uint32_t insert_store(std::string_view name, std::uint32_t version, std::string_view policy);
  void update_store(std::uint32_t id, std::uint32_t version, std::string_view policy);

  struct EntryRow {
    std::string_view key;
    std::optional<std::string_view> value;  // empty for a tombstone
    Timestamp hlc;
    std::uint32_t replica_ref = 0;
    std::uint32_t schema_version = 0;
    std::string_view field_stamps;  // empty when none
  };
  // Visits a store's rows in key order. The views are valid during the call only.
  void for_each_entry(std::uint32_t store_id, const std::function<void(const EntryRow&)>& visit);
  void write_entry(std::uint32_t store_id, const EntryRow& row);
  void delete_entry(std::uint32_t store_id, std::string_view key);

  struct OutboxRow {
    std::uint64_t seq = 0;
    std::uint32_t store_id = 0;
    std::string key;
    std::string op;
    std::string payload;  // JSON text
    Timestamp hlc;
    std::uint32_t schema_version = 0;  // the store version the payload is written in
  };
  void append_outbox(const OutboxRow& row);
  std::vector<OutboxRow> outbox(std::uint64_t after_seq, std::size_t limit);
  std::uint64_t outbox_count();
  // Renumbers the outbox in order so that its oldest record is `first`; returns the number after
  // its newest (`first` when it is empty).
  std::uint64_t renumber_outbox(std::uint64_t first);
  // Visits the keys of a store that have outbox records, with how many (their pending counts).
  void for_each_pending(
      std::uint32_t store_id,
      const std::function<void(std::string_view key, std::uint32_t count)>& visit);

  // Where this database syncs, and how far it got (see src/sync). `cursor` is empty before the
  // first sync.
  struct SyncState {
    std::string server;
    std::string token;
    std::string user_id;
    std::string dataset;
    std::string cursor;
    bool held_back = false;       // entries newer than the declared schema were skipped
    bool skipped_stores = false;  // entries of stores not declared here were skipped
    std::int64_t last_success_ms = 0;
    std::int64_t last_error_ms = 0;
    std::string last_error;
  };
  SyncState sync_state();
  // Saving an empty cursor also forgets the entries held back (the feed is read again).
  void save_sync_state(const SyncState& state);

  // Entries the server holds back from this database (docs/migrations.md, "Old and new apps at
  // once"): kept by (store, key) with the version they are written at.
  void hold_back(std::uint32_t store_id, std::string_view key, std::uint32_t version);
  // Forgets (store, key): it arrived.
  void release_held(std::uint32_t store_id, std::string_view key);
  // (store_id, entries held back) for every store with some, by store id.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> held_back_counts();

  // A resync after the server compacted deletes away (docs/sync.md, "Deletes and compaction"):
  // every entry starts unconfirmed, each the server's feed brings is confirmed, and those left
  // when the feed's end is reached are read back and cleared.
  void mark_unconfirmed();
  void confirm(std::uint32_t store_id, std::string_view key);
  bool has_unconfirmed();
  std::vector<std::pair<std::uint32_t, std::string>> unconfirmed();
  void clear_unconfirmed();

  // Manifest-first hydration (docs/sync.md, "Large stores: manifests").
  struct ManifestRow {
    std::string etag;
    std::uint32_t span = 1;
    std::int64_t fetched_ms = 0;
  };
  struct ManifestChunk {
    std::string name;
    std::string first_key, last_key;
  };
  std::optional<ManifestRow> manifest(std::uint32_t store_id);
  std::vector<ManifestChunk> manifest_chunks(std::uint32_t store_id);
  void save_manifest(std::uint32_t store_id, const ManifestRow& row);
  void put_manifest_chunk(std::uint32_t store_id, const ManifestChunk& chunk);
  void delete_manifest_chunk(std::uint32_t store_id, std::string_view name);
  // Forgets the store's manifest and its chunks (the next refresh fetches it whole).
  void clear_manifest(std::uint32_t store_id);

  // The (store, key) of every outbox record up to `seq`, in order; then deleting them.
  void for_each_outbox_through(std::uint64_t seq,
                               const std::function<void(std::uint32_t, std::string_view)>& visit);
  void delete_outbox_through(std::uint64_t seq);
  // One entry's outbox records, in order.
  std::vector<OutboxRow> outbox_for_entry(std::uint32_t store_id, std::string_view key);

  struct BackupRow {
    std::int64_t id = 0;
    std::string store;
    std::uint32_t store_id = 0;
    std::uint32_t from_version = 0;
    std::uint32_t to_version = 0;
    std::size_t entries = 0;
    Timestamp created;
  };
  // Copies a store's rows into a new backup and keeps only the newest `keep` of its backups.
  std::int64_t backup_store(std::uint32_t store_id, std::uint32_t from_version,
                            std::uint32_t to_version, Timestamp created, std::size_t keep);
  std::vector<BackupRow> backups();
  // Replaces the store's rows by the backup's and sets the store back to its version.
  void restore_backup(const BackupRow& backup);

  bool created() const { return created_; }
  sqlite::Connection& connection() { return connection_; }

 private:
  void create_schema();
  void upgrade_format();
  static OutboxRow read_outbox_row(const sqlite::Statement& row);

  bool created_ = false;  // declared first: open_connection() sets it while connection_ is built
  sqlite::Connection connection_;
};

}  // namespace cairn
