// Storage — everything cairnd keeps, behind one interface. SqliteStorage (the embedded default)
// implements it; a PostgreSQL implementation follows, so nothing here assumes SQLite: operations
// are domain-level, every write happens inside a StorageTransaction, and each implementation keeps
// all of its SQL in one file.
//
// Thread safety: begin() may be called from any thread. A write transaction that has read a
// dataset (dataset(), personal_dataset()) excludes other writers of that dataset until it ends
// (SQLite excludes every other writer; PostgreSQL locks the dataset's row); read transactions see
// a consistent snapshot and run beside writers. A StorageTransaction belongs to one thread and
// rolls back unless commit() is called.
//
// Several processes may share one storage (PostgreSQL): each learns of the others' commits
// through watch().
//
// Errors: failures throw cairn::Error (io_error, database_locked, corrupt, unavailable when a
// database server cannot be reached, ...), and TransactionConflict when a transaction lost a race
// with another one.
#pragma once

#include <algorithm>
#include <cairn/clock.hpp>
#include <cairn/error.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::server {

enum class Role { viewer, editor, owner };
std::string_view role_name(Role role);
std::optional<Role> role_from_name(std::string_view name);

struct UserRow {
  std::string id;
  std::string kind;  // "guest" or "google"
  std::string google_sub;
  std::string email;
  std::int64_t created_ms = 0;
};

struct TokenRow {
  std::string hash;  // hex SHA-256 of the token; the token itself is never stored
  std::string user_id;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  bool revoked = false;
};

struct DatasetRow {
  std::string id;
  std::string name;
  std::string owner;
  bool personal = false;  // a user's private dataset
  std::int64_t created_ms = 0;
  std::uint64_t last_seq = 0;  // the change feed's position: the seq of the latest change
  // Tombstone compaction (docs/sync.md, "Deletes and compaction"): the feed below `retained_seq`
  // lost tombstones, so a cursor in (0, retained_seq) must start again from 0; `floor_hlc` and
  // `floor_replica` are the greatest stamp of a dropped tombstone (zero when none was dropped).
  std::uint64_t retained_seq = 0;
  Timestamp floor_hlc{};
  std::string floor_replica{};
};

// An entry as the server keeps it. `stamps` is the JSON of per-field stamps and floor
// (protocol::stamps_to_json), empty when there are none.
struct EntryRow {
  std::string store;
  std::string key;
  std::optional<std::string> value;  // JSON text; empty for a tombstone
  Timestamp hlc;
  std::string replica;
  std::uint32_t schema_version = 0;
  std::string stamps;
  std::uint64_t seq = 0;  // position in the dataset's change feed
};

struct EntryKey {
  std::string store;
  std::string key;
};

struct HistoryRow {
  std::int64_t id = 0;
  std::string dataset_id;
  std::string store;
  std::string key;
  std::uint64_t seq = 0;  // feed position of the resulting entry; 0 when it changed nothing
  std::string user_id;
  std::string client_id;
  std::uint64_t client_seq = 0;  // the client's change number; 0 when none
  Timestamp hlc;
  std::string replica;
  std::int64_t server_ms = 0;
  std::string op;          // put, patch, delete
  std::string payload;     // JSON
  std::string outcome;     // applied, rejected, partial
  std::string resolution;  // client-won, server-won, or empty
};

// One update in a collaborative document's log (docs/collaboration.md): the document is its log's
// updates applied in order. A document is named within its dataset.
struct DocumentUpdateRow {
  std::uint64_t seq = 0;  // the position in the document's log, from 1
  std::string data;       // an update, format v1 (bytes)
  std::string user_id;    // who sent it; empty for what compaction merged
  std::int64_t server_ms = 0;
};

// A collaborative document as it was at one point of its log: its whole state as one update.
struct DocumentSnapshotRow {
  std::uint64_t id = 0;   // per document, from 1, in the order taken
  std::uint64_t seq = 0;  // the last update of the log it holds
  std::int64_t server_ms = 0;
  std::string user_id;  // who asked for it; empty when the server took it on its schedule
  std::string label;
  std::string data;  // an update, format v1 (bytes); empty when listed without data
};

// A dataset's schema as its owner published it (docs/migrations.md, "Old and new apps at once"):
// each accepted upload is a revision, numbered from 1.
struct DatasetSchemaRow {
  std::uint64_t revision = 0;
  std::string schema;  // JSON text in the form `cairn migrate --schema` reads
  std::string user_id;
  std::int64_t server_ms = 0;
};

// How many live entries (not tombstones) of a store are at one schema version.
struct StoreVersionCount {
  std::string store;
  std::uint32_t version = 0;
  std::uint64_t entries = 0;
  friend bool operator==(const StoreVersionCount&, const StoreVersionCount&) = default;
};

// What the storage holds, for /metrics (Housekeeper reads it each round).
struct StoreHoldings {
  std::string store;
  std::uint64_t entries = 0;  // live
  std::uint64_t tombstones = 0;
  std::uint64_t bytes = 0;       // keys + values of live entries, as a device counts its quota
  std::uint64_t largest = 0;     // the bytes of the dataset that holds the most of this store
  std::uint64_t near_quota = 0;  // datasets whose store holds at least holdings()' `near_bytes`
};
struct Holdings {
  std::vector<StoreHoldings> stores;  // every dataset's, by store name
  std::uint64_t history_rows = 0;     // entries' history
  std::uint64_t audit_rows = 0;       // documents' updates' records
  std::uint64_t documents = 0;
  std::uint64_t document_log_bytes = 0;
  std::uint64_t snapshots = 0;
  std::uint64_t snapshot_bytes = 0;
};

// This transaction lost a race with a concurrent one (PostgreSQL: a serialization failure, a
// deadlock, a duplicate key inserted by both) and was rolled back: running the same work again,
// from the start, sees the winner's work. retry_conflicts does that.
class TransactionConflict : public Error {
 public:
  explicit TransactionConflict(const std::string& message)
      : Error(ErrorCode::database_locked, message) {}
};

// Runs `work` (which begins and commits its own transaction) again while it loses races, at most
// `attempts` times; the last conflict propagates (for a client: busy, retry later).
template <class Work>
decltype(auto) retry_conflicts(Work&& work, int attempts = 10) {
  for (int attempt = 1;; ++attempt) {
    try {
      return work();
    } catch (const TransactionConflict&) {
      if (attempt == attempts) throw;
    }
  }
}

// The tables every backend keeps, as cairnd --copy-to moves them between backends: each with its
// columns and its primary key (rows are read in its order, text compared byte by byte). The
// clock is not among them: copies move it with clock() and save_clock().
struct StoredTable {
  std::string_view name;
  std::vector<std::string_view> columns;
  std::vector<std::string_view> key;
  std::vector<std::string_view> integer_keys = {};  // key columns of integers; the rest are text
  std::vector<std::string_view> binary = {};        // columns of bytes, moved as lowercase hex
  bool is_integer_key(std::string_view column) const {
    return std::find(integer_keys.begin(), integer_keys.end(), column) != integer_keys.end();
  }
  bool is_binary(std::string_view column) const {
    return std::find(binary.begin(), binary.end(), column) != binary.end();
  }
};
inline const std::vector<StoredTable>& stored_tables() {
  static const std::vector<StoredTable> tables = {
      {"users", {"id", "kind", "google_sub", "email", "created_ms"}, {"id"}},
      {"tokens", {"hash", "user_id", "created_ms", "expires_ms", "revoked"}, {"hash"}},
      {"datasets",
       {"id", "name", "owner", "personal", "created_ms", "last_seq", "retained_seq", "floor_hlc",
        "floor_replica"},
       {"id"}},
      {"members", {"dataset_id", "user_id", "role"}, {"dataset_id", "user_id"}},
      {"entries",
       {"dataset_id", "store", "key", "value", "hlc", "replica", "schema_version", "stamps", "seq"},
       {"dataset_id", "store", "key"}},
      {"clients", {"dataset_id", "client_id", "applied_seq"}, {"dataset_id", "client_id"}},
      {"history",
       {"id", "dataset_id", "store", "key", "seq", "user_id", "client_id", "client_seq", "hlc",
        "replica", "server_ms", "op", "payload", "outcome", "resolution"},
       {"id"},
       {"id"}},
      {"document_updates",
       {"dataset_id", "name", "seq", "data", "user_id", "server_ms"},
       {"dataset_id", "name", "seq"},
       {"seq"},
       {"data"}},
      {"document_snapshots",
       {"dataset_id", "name", "id", "seq", "server_ms", "user_id", "label", "data"},
       {"dataset_id", "name", "id"},
       {"id"},
       {"data"}},
      {"dataset_schemas",
       {"dataset_id", "revision", "schema", "user_id", "server_ms"},
       {"dataset_id", "revision"},
       {"revision"}},
  };
  return tables;
}
// One row of a StoredTable, its columns as text in the table's order: integers in decimal,
// booleans "0" or "1", bytes in lowercase hex, NULL as nullopt.
using StoredRow = std::vector<std::optional<std::string>>;
// The bytes a binary column's text in a StoredRow stands for; Error(invalid_value) when it is not
// lowercase or uppercase hex.
std::string stored_bytes(std::string_view hex);

class StorageTransaction {
 public:
  virtual ~StorageTransaction() = default;
  virtual void commit() = 0;

  // The last hybrid logical clock reading any cairnd process saved (each process stamps with
  // its own replica id; the clock is shared so that it never runs backwards).
  virtual Timestamp clock() = 0;
  virtual void save_clock(Timestamp hlc) = 0;

  virtual void insert_user(const UserRow& user) = 0;
  virtual std::optional<UserRow> user(std::string_view id) = 0;
  virtual std::optional<UserRow> user_by_google(std::string_view sub) = 0;
  virtual void link_google(std::string_view user_id, std::string_view sub,
                           std::string_view email) = 0;

  virtual void insert_token(const TokenRow& token) = 0;
  virtual std::optional<TokenRow> token(std::string_view hash) = 0;
  virtual void revoke_token(std::string_view hash) = 0;

  virtual void insert_dataset(const DatasetRow& dataset) = 0;
  virtual std::optional<DatasetRow> dataset(std::string_view id) = 0;
  virtual std::optional<DatasetRow> personal_dataset(std::string_view user_id) = 0;
  virtual void set_last_seq(std::string_view dataset_id, std::uint64_t seq) = 0;
  // Moves every dataset's feed position forward by `by`; returns how many datasets there are.
  virtual std::uint64_t advance_feeds(std::uint64_t by) = 0;
  virtual void set_member(std::string_view dataset_id, std::string_view user_id, Role role) = 0;
  virtual void remove_member(std::string_view dataset_id, std::string_view user_id) = 0;
  virtual std::optional<Role> role(std::string_view dataset_id, std::string_view user_id) = 0;
  virtual std::vector<std::pair<DatasetRow, Role>> datasets_of(std::string_view user_id) = 0;
  virtual std::vector<std::pair<std::string, Role>> members(std::string_view dataset_id) = 0;

  // The entries at `keys` (each nullopt when there is none), in the order of `keys`: a sync
  // request's entries are read in one go, and written in one go, for a database server a round
  // trip each rather than one per change.
  virtual std::vector<std::optional<EntryRow>> entries(std::string_view dataset_id,
                                                       const std::vector<EntryKey>& keys) = 0;
  // Inserts or replaces each entry; at most one row per key.
  virtual void put_entries(std::string_view dataset_id, const std::vector<EntryRow>& entries) = 0;
  std::optional<EntryRow> entry(std::string_view dataset_id, std::string_view store,
                                std::string_view key) {
    return entries(dataset_id, {{std::string(store), std::string(key)}}).front();
  }
  void put_entry(std::string_view dataset_id, const EntryRow& entry) {
    put_entries(dataset_id, {entry});
  }
  // Entries whose seq is greater than `after_seq`, in seq order, at most `limit`.
  virtual std::vector<EntryRow> changes_since(std::string_view dataset_id, std::uint64_t after_seq,
                                              std::size_t limit) = 0;
  // Every entry of the dataset, tombstones included, by store and key.
  virtual std::vector<EntryRow> all_entries(std::string_view dataset_id) = 0;
  // Manifests (docs/sync.md, "Large stores: manifests"): the store's entries, tombstones
  // included, with keys from `first` to `last` (both included; `last` empty: to the end), in key
  // (byte) order.
  virtual std::vector<EntryRow> store_entries(std::string_view dataset_id, std::string_view store,
                                              std::string_view first, std::string_view last) = 0;
  // Whether any entry of the store has a seq greater than `after_seq`.
  virtual bool store_changed_since(std::string_view dataset_id, std::string_view store,
                                   std::uint64_t after_seq) = 0;

  // Tombstone compaction. Datasets (by id, after `after`) holding tombstones stamped before
  // `before`, at most `limit`.
  virtual std::vector<std::string> datasets_with_tombstones(Timestamp before,
                                                            std::string_view after,
                                                            std::size_t limit) = 0;
  // The dataset's tombstones stamped before `before`, oldest first, at most `limit`.
  virtual std::vector<EntryRow> tombstones_before(std::string_view dataset_id, Timestamp before,
                                                  std::size_t limit) = 0;
  // Removes the entries at `keys`.
  virtual void erase_entries(std::string_view dataset_id, const std::vector<EntryKey>& keys) = 0;
  // Records what compaction dropped: DatasetRow::retained_seq and the floor.
  virtual void set_compaction(std::string_view dataset_id, std::uint64_t retained_seq,
                              Timestamp floor_hlc, std::string_view floor_replica) = 0;

  // The highest change sequence number applied for a client in a dataset (0 when none).
  virtual std::uint64_t applied_seq(std::string_view dataset_id, std::string_view client_id) = 0;
  virtual void set_applied_seq(std::string_view dataset_id, std::string_view client_id,
                               std::uint64_t seq) = 0;

  // Appends rows; the ids given to them here rise in the rows' order.
  virtual void append_history(const std::vector<HistoryRow>& rows) = 0;
  void append_history(const HistoryRow& row) { append_history(std::vector<HistoryRow>{row}); }
  // The history row of a client's numbered change to an entry, if the server decided one.
  virtual std::optional<HistoryRow> client_change(std::string_view dataset_id,
                                                  std::string_view store, std::string_view key,
                                                  std::string_view client_id,
                                                  std::uint64_t client_seq) = 0;
  // An entry's history, oldest first, at most `limit` rows.
  virtual std::vector<HistoryRow> history(std::string_view dataset_id, std::string_view store,
                                          std::string_view key, std::size_t limit) = 0;

  // A collaborative document's log after `after_seq`, in order (empty for a document never
  // written).
  virtual std::vector<DocumentUpdateRow> document_updates(std::string_view dataset_id,
                                                          std::string_view name,
                                                          std::uint64_t after_seq) = 0;
  // Appends `row` to the end of the document's log (its seq is not read); the seq it took.
  virtual std::uint64_t append_document_update(std::string_view dataset_id, std::string_view name,
                                               const DocumentUpdateRow& row) = 0;
  // Replaces the log's updates through `through_seq` with `merged` (their merge, at seq
  // `through_seq`, sent by nobody): compaction.
  virtual void compact_document(std::string_view dataset_id, std::string_view name,
                                std::uint64_t through_seq, std::string_view merged) = 0;

  // Keeps a snapshot of a document (its id is not read); the id it took.
  virtual std::uint64_t add_document_snapshot(std::string_view dataset_id, std::string_view name,
                                              const DocumentSnapshotRow& snapshot) = 0;
  // A document's snapshots, oldest first, without their data.
  virtual std::vector<DocumentSnapshotRow> document_snapshots(std::string_view dataset_id,
                                                              std::string_view name) = 0;
  // One snapshot with its data.
  virtual std::optional<DocumentSnapshotRow> document_snapshot(std::string_view dataset_id,
                                                               std::string_view name,
                                                               std::uint64_t id) = 0;

  // The dataset's latest schema revision, if its owner published one.
  virtual std::optional<DatasetSchemaRow> dataset_schema(std::string_view dataset_id) = 0;
  // Keeps `row` as a revision of the dataset's schema (the caller numbers it: the latest + 1).
  virtual void add_dataset_schema(std::string_view dataset_id, const DatasetSchemaRow& row) = 0;
  // The dataset's live entries counted per store and schema version, by store and version.
  virtual std::vector<StoreVersionCount> entry_versions(std::string_view dataset_id) = 0;

  // Retention (Housekeeper), each at most `limit` rows or groups, returning the rows removed.
  // History rows written before `before_ms`: of entries, or (`audit`) of documents' updates; the
  // newest row of all stays, so that ids go on rising.
  virtual std::size_t drop_history(bool audit, std::int64_t before_ms, std::size_t limit) = 0;
  // Entries' history rows beyond the newest `keep` of their entry and written before
  // `before_ms`, for at most `limit` entries.
  virtual std::size_t trim_history(std::size_t keep, std::int64_t before_ms, std::size_t limit) = 0;
  // Document snapshots taken before `before_ms`, but the newest of each document.
  virtual std::size_t drop_snapshots(std::int64_t before_ms, std::size_t limit) = 0;
  // Snapshots beyond the newest `keep` (at least 1) of their document, for at most `limit`
  // documents.
  virtual std::size_t trim_snapshots(std::size_t keep, std::size_t limit) = 0;
  virtual Holdings holdings(std::uint64_t near_bytes) = 0;

  // Moving a server between backends: the rows of `table` in its key's order, after `after` (a
  // row's key columns; empty: from the first), at most `limit`.
  virtual std::vector<StoredRow> table_rows(const StoredTable& table, const StoredRow& after,
                                            std::size_t limit) = 0;
  // Inserts rows as table_rows reads them, keys and all.
  virtual void insert_rows(const StoredTable& table, const std::vector<StoredRow>& rows) = 0;
};

// What other cairnd processes sharing the storage commit, told as they commit it (PostgreSQL
// relays it with LISTEN/NOTIFY). Calls come from the storage's own thread, one at a time; a call
// must not block for long.
class StorageEvents {
 public:
  virtual ~StorageEvents() = default;
  // A dataset's feed moved to `position` (DatasetRow::last_seq).
  virtual void feed_moved(std::string_view dataset_id, std::uint64_t position) = 0;
  virtual void token_revoked(std::string_view token_hash) = 0;
  virtual void member_removed(std::string_view dataset_id, std::string_view user_id) = 0;
  // A collaborative document's log grew to `seq` (DocumentUpdateRow::seq).
  virtual void document_moved(std::string_view dataset_id, std::string_view name,
                              std::uint64_t seq) = 0;
  // Awareness a peer of a document sent to another process (relay_awareness there).
  virtual void awareness_relayed(std::string_view dataset_id, std::string_view name,
                                 std::string_view update) = 0;
  // Events may have been missed (the relay lost its connection and has it back): everything that
  // depends on them must be read again from storage.
  virtual void missed_events() = 0;
};

// Relays StorageEvents until destroyed; no call to them is running after that.
class StorageWatch {
 public:
  virtual ~StorageWatch() = default;
};

// A figure for /metrics, in Prometheus terms.
struct StorageFigure {
  std::string name;  // cairnd_db_…
  std::string help;
  std::string type;  // gauge or counter
  double value = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual std::unique_ptr<StorageTransaction> begin(bool write) = 0;

  // Starts relaying other processes' commits to `events`; null when no other process can share
  // this storage (SQLite).
  virtual std::unique_ptr<StorageWatch> watch(StorageEvents& /*events*/) { return nullptr; }
  // Passes an awareness update of a document's peer to the other processes sharing the storage
  // (their StorageEvents::awareness_relayed), at most once, if it fits (PostgreSQL: a
  // notification, under 8000 bytes); awareness is not stored. SQLite: nobody else to tell.
  virtual void relay_awareness(std::string_view /*dataset_id*/, std::string_view /*name*/,
                               std::string_view /*update*/) {}
  // Whether the database answers now: Error(unavailable) when it does not.
  virtual void check() { begin(false)->clock(); }
  // The storage's own figures for /metrics (a PostgreSQL pool's, for instance).
  virtual std::vector<StorageFigure> figures() const { return {}; }
};

}  // namespace cairn::server
