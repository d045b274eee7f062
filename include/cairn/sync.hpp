// cairn/sync.hpp — syncing a Database with cairnd.
//
// A SyncClient runs on its own background thread, so the application's reads and writes never
// wait for the network (stale-while-revalidate: open the database, work on local data at once,
// and let fresher data arrive). It drains the outbox in order, in batches, with each change
// numbered so that the server applies it exactly once however often it is resent; it pulls the
// server's changes since its cursor and merges them with the same rules as the server (local
// changes not yet acknowledged are rebased on top); subscribers hear them with origin `remote`.
//
// When: right after local commits (debounced), periodically, and on sync_now(). While online it
// also keeps a live connection (SyncOptions::live): the server pushes each change as it commits,
// local writes go out over it at once, and devices see each other's presence. Failures back off
// exponentially with full jitter into the `offline` state, probing until the server answers.
// Entries written by an older schema are migrated on arrival; newer ones are translated down
// through invertible steps, or held back on the server until the application upgrades.
//
// The server, token and cursor are kept in the database: a database syncs with one dataset of one
// server. With no token, a guest is created on first use and its token kept.
//
// Thread safety: all methods may be called from any thread. Status listeners run on the sync
// thread and must not destroy the SyncClient. A SyncClient must not outlive its Database.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cairn/change.hpp>
#include <cairn/database.hpp>
#include <cairn/schema.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cairn {

struct SyncOptions {
  std::string server;  // "http://127.0.0.1:8787" or "https://…"; empty: the one kept
  // For https:// servers: a PEM file of CAs to trust besides the system's (a private CA). The
  // server's certificate is always verified; one that does not verify is an error, never ignored.
  std::string ca_file;
  std::string token;         // a bearer token; empty: the one kept in the database, or a new guest
  std::string dataset;       // empty: the user's personal dataset
  bool create_guest = true;  // when there is no token at all
  std::chrono::milliseconds debounce{50};          // after a local commit
  std::chrono::milliseconds interval{5 * 60'000};  // between periodic syncs
  std::chrono::milliseconds backoff_base{250};
  std::chrono::milliseconds backoff_cap{30'000};
  std::chrono::milliseconds request_timeout{30'000};
  std::size_t batch_changes = 500;        // outbox records per request, at most
  std::size_t batch_bytes = 1024 * 1024;  // and about this many bytes
  // While online, keep a live connection to the server (GET /api/live): the dataset's changes
  // arrive by push, the outbox drains over it with several batches in flight, and presence works.
  // When it fails, syncing falls back to polling and the connection is tried again with backoff.
  bool live = true;
  std::size_t batches_in_flight = 8;  // on the live connection
  std::uint64_t jitter_seed = 0;      // 0: seeded from the system
  // Tombstones (deleted entries' markers) the server has are dropped here once this old; the
  // server drops its own after its own window (cairnd --tombstone-retention-days). 0: kept.
  std::chrono::milliseconds tombstone_retention{std::chrono::hours(24 * 90)};
};

enum class SyncState {
  idle,     // nothing to do, or waiting for the next sync
  syncing,  // talking to the server
  offline,  // the server cannot be reached; retrying with backoff
  error,    // the server refused (for example, the token is no longer valid); see last_error
};

std::string_view sync_state_name(SyncState state) noexcept;

struct SyncStatus {
  SyncState state = SyncState::idle;
  std::size_t pending = 0;           // local changes not yet acknowledged
  std::int64_t last_success_ms = 0;  // wall-clock time of the last complete sync; 0 if never
  std::int64_t last_error_ms = 0;
  std::string last_error;
  std::string user_id;
  std::string dataset;
  bool held_back = false;  // the server holds entries newer than this application's schema
  bool live = false;       // connected to the live channel: changes arrive by push
  // By store: how many entries are written at a version of it this build cannot read (no
  // invertible way down). They stay on the server, untouched, and arrive once the application
  // runs that version (docs/migrations.md, "Old and new apps at once").
  std::map<std::string, std::uint64_t, std::less<>> held_back_entries;
};

// Another device (a live connection) present in the dataset, with the state it set
// (SyncClient::set_presence): who, which device, what it is editing...
struct Peer {
  std::string connection;
  std::string user_id;
  boost::json::object state;
};

// What one sync moved.
struct SyncReport {
  std::size_t sent = 0;          // changes sent
  std::size_t acknowledged = 0;  // outbox records the server acknowledged
  std::size_t received = 0;      // entry states received
  std::size_t applied = 0;       // of which changed something here
  std::size_t held_back = 0;     // received entries written by a newer schema, not applied
  std::size_t skipped = 0;       // received entries of stores this database does not declare
  std::size_t conflicts = 0;     // conflicts the server reported for this database's changes
  std::size_t documents = 0;     // documents (MergePolicy::document()) that took in others' edits
  bool full = false;             // the sync pulled the whole dataset (first use, or resync)
  // Entries forgotten because the server no longer has them: deleted on the server, their
  // tombstones compacted away before this database saw them (docs/sync.md).
  std::size_t forgotten = 0;
  std::size_t tombstones_dropped = 0;  // tombstones older than SyncOptions::tombstone_retention
  // Manifest-first hydration (StoreSchema::manifest): stores whose manifest was fetched (their
  // copy was older than its TTL), chunks fetched, and the bytes of manifests and chunks received.
  std::size_t manifests = 0;
  std::size_t chunks = 0;
  std::uint64_t manifest_bytes = 0;
  // The server had lost changes it acknowledged (restored from a backup): the outbox was numbered
  // again from where the server stands, and this database's writes that its entries still show
  // were queued again with their original stamps (`resent` of them) so that the server regains
  // them; the server merges each at most once more, harmlessly.
  bool renumbered = false;
  std::size_t resent = 0;
  // The server had applied other changes under this database's numbers (the database was restored
  // from a backup, or copied): it continues as a new replica, with a new id.
  bool new_replica = false;
};

// A dataset's schema on the server (docs/migrations.md, "Old and new apps at once").
struct DatasetSchemaInfo {
  std::uint64_t revision = 0;  // 0: the dataset has none of its own; `stores` is the server's
  std::vector<StoreSchema> stores;
  std::string updated_by;  // who published the revision, and when (ms since the epoch)
  std::int64_t updated_ms = 0;
};

class SyncClient {
 public:
  // Starts the background thread; a sync begins at once. Throws Error(invalid_argument) when no
  // server is configured or kept, or the database is read-only.
  SyncClient(Database& db, SyncOptions options);
  ~SyncClient();  // stops the thread (an exchange in flight is abandoned; nothing is lost)
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;

  // Wakes the background thread to sync now (also while offline).
  void sync_now();
  // Like sync_now(), pulling the whole dataset again from the beginning (a full sync).
  void resync();
  // Waits until the outbox is empty and a sync has succeeded since the call, or the timeout.
  bool wait_until_synced(std::chrono::milliseconds timeout);
  SyncStatus status() const;
  Subscription subscribe(std::function<void(const SyncStatus&)> listener);

  // Presence, over the live connection. This device's state in the dataset (a JSON object of at
  // most 4 KiB), shown to the other devices present; kept and set again after every reconnect.
  void set_presence(boost::json::object state);
  // The other devices present in the dataset now (none while the live connection is down).
  std::vector<Peer> peers() const;
  // Called on the sync thread with all peers whenever one joins, leaves or changes its state.
  Subscription subscribe_presence(std::function<void(const std::vector<Peer>&)> listener);

  // One complete sync on the calling thread, without a SyncClient (the `cairn sync` command).
  // Throws Error: io_error when the server cannot be reached, invalid_argument when it refuses.
  // With `full`, the dataset is pulled again from the beginning.
  static SyncReport sync_once(Database& db, const SyncOptions& options, bool full = false);
  // The dataset's schema on the server, and publishing one as its next revision (owners only;
  // the `cairn schema` command). A schema only moves forward: Error(refused) naming the server's
  // reason (schema_conflict, invalid_schema) otherwise; invalid_argument for a custom step, which
  // has no JSON form. Other errors as sync_once.
  static DatasetSchemaInfo pull_schema(Database& db, const SyncOptions& options);
  static DatasetSchemaInfo push_schema(Database& db, const SyncOptions& options,
                                       const std::vector<StoreSchema>& stores);
  // What the database keeps about sync, without a server.
  static SyncStatus stored_status(Database& db);
  // The bearer token kept in the database (empty before the first sync): a secret, shown only so
  // that a second device can join as the same user (`cairn sync DB --token TOKEN`).
  static std::string stored_token(Database& db);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Another peer of a document's live session: its Yjs client id and its awareness state (what
// a y-websocket editor sets with awareness.setLocalState: its user, cursor…).
struct DocumentPeer {
  std::uint64_t client = 0;
  boost::json::value state;
};

// This device as a peer of a document's live session on cairnd (docs/collaboration.md), as a
// browser editor with y-websocket is one: while the session lives and the server can be
// reached, editors' changes reach the document here as they are made, this device's edits to it
// go to them as they commit, and each side sees the other's awareness. The outbox still
// delivers every edit exactly once (with a SyncClient); the session makes it immediate and
// shows who is here. It reconnects after failures; a server that refuses the document for good
// (not a member, a bad token: close codes 4400-4499) ends it, and error() says why.
//
// The server, token and dataset are SyncOptions' or, when empty, those a sync kept in the
// database. Runs its own thread; its methods are safe from any thread. Destroying it leaves the
// session (the others see this device go).
class DocumentSession {
 public:
  // Joins document `key` of `store` (a store declared with MergePolicy::document()), showing
  // `awareness` (a JSON object; may be empty) to the other peers. Throws Error(invalid_argument)
  // when the store holds no documents, Error(read_only) for a read-only database.
  DocumentSession(Database& db, std::string store, std::string key,
                  boost::json::object awareness = {}, SyncOptions options = {});
  ~DocumentSession();
  DocumentSession(const DocumentSession&) = delete;
  DocumentSession& operator=(const DocumentSession&) = delete;

  // Connected and in step with the server's copy (the initial exchange done).
  bool connected() const;
  // Why the session ended for good; empty while it goes on.
  std::string error() const;
  // The other peers, as last heard; none while disconnected.
  std::vector<DocumentPeer> peers() const;
  void set_awareness(boost::json::object state);
  // Called (on the session's thread) when it connects or disconnects and when peers change. The
  // Subscription may outlive the session.
  Subscription subscribe(std::function<void()> listener);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn
