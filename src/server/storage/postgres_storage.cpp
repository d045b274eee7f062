// PostgresStorage: cairnd on PostgreSQL, for several cairnd processes ("nodes") behind one
// database. All of the server's SQL for PostgreSQL is in this file.
//
// Why it is correct with several nodes writing at once:
//  - Write transactions run at READ COMMITTED, and every read of a dataset's row in a write
//    transaction takes its row lock (SELECT … FOR UPDATE): writers to one dataset queue on it, so
//    a dataset's feed positions (datasets.last_seq, entries.seq) are handed out one transaction
//    at a time, dense and monotone, and each writer reads, after the lock, everything its
//    predecessor committed (READ COMMITTED takes a new snapshot per statement). The same lock
//    makes a client's exactly-once record (clients.applied_seq) a read-then-write with no race, so
//    a numbered change is applied once even when its retry lands on another node, and writes to
//    one entry merge one after the other, exactly as on SQLite's single writer.
//  - A reader of the feed never skips a position: a position becomes visible only when the
//    transaction that took it commits, together with datasets.last_seq, and readers (REPEATABLE
//    READ, one snapshot) read last_seq and the entries up to it from the same snapshot. Since
//    positions of one dataset are committed in order (the row lock), a snapshot that holds
//    position N holds every position below it.
//  - A write transaction locks its dataset's row first and the rows under it after, always in
//    that order, so sync requests cannot deadlock with one another; the only race left is two
//    transactions inserting the same key (a Google account signing in on two nodes at once),
//    which surfaces as TransactionConflict and is run again (retry_conflicts).
//  - Each pooled connection saves the hybrid logical clock in a row of its own (clocks), so that
//    saving it never makes writers of different datasets wait for one another; clock() is the
//    greatest of them.
//  - synchronous_commit is at least `on` on every connection: an acknowledged change is on
//    PostgreSQL's disk (and on its synchronous standbys, when it has any).
//  - set_last_seq notifies channel cairn_feed with "<dataset> <position>" inside the transaction,
//    revoke_token and remove_member channel cairn_access with "revoke <token hash>" and "member
//    <dataset> <user>"; PostgreSQL delivers them at commit, in commit order, to every node's
//    listening connection (PostgresWatch), which tells the node's StorageEvents: other nodes push
//    the changes to their live subscribers (reading them from the feed) and close what lost its
//    access. A node passes over the feed notifications of its own pooled connections (known by
//    their backend process ids): it announces its own commits itself, after they commit. A node
//    whose listening connection broke reconnects and then reads everything again (missed_events),
//    so a notification lost meanwhile loses nothing.
//  - Collaborative documents: append_document_update notifies cairn_doc with "<dataset> <seq>
//    <name>" inside its transaction (two nodes appending at once take the same seq; the second
//    insert fails as TransactionConflict and runs again), and relay_awareness cairn_awareness
//    with "<dataset> <name> <base64url awareness update>" (not stored; under 8000 bytes).
//
// Schema versions: cairn_schema holds the version the newest binary that upgraded it wrote, and
// the oldest version a binary must know to use it (min_binary). Changes are additive (new tables,
// new columns with defaults), so older nodes keep working beside upgraded ones while min_binary
// stays; a binary older than min_binary refuses to start.
#include "server/storage/postgres_storage.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cairn/error.hpp>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "foundation/base64.hpp"
#include "server/auth/tokens.hpp"
#include "server/storage/pq.hpp"

namespace cairn::server {

namespace {

// pg_advisory_lock key for creating and upgrading the schema: "CAID".
constexpr std::int64_t kSchemaLock = 0x43414944;
// PostgreSQL's type oid of boolean (pg_type.h's BOOLOID).
constexpr Oid kBooleanType = 16;
// The oldest schema version a binary must know to use a database this binary created.
constexpr int kMinBinary = 1;

// Version 1. Text columns that are sorted on are COLLATE "C": byte order, as SQLite sorts.
constexpr const char* kSchemaV1 = R"sql(
  CREATE TABLE cairn_schema (
    id         integer PRIMARY KEY CHECK (id = 1),
    version    integer NOT NULL,
    min_binary integer NOT NULL
  );
  CREATE TABLE clocks (
    holder text PRIMARY KEY,  -- a node's pooled connection
    hlc    bigint NOT NULL
  );
  CREATE TABLE users (
    id         text COLLATE "C" PRIMARY KEY,
    kind       text NOT NULL,
    google_sub text UNIQUE,
    email      text NOT NULL DEFAULT '',
    created_ms bigint NOT NULL
  );
  CREATE TABLE tokens (
    hash       text PRIMARY KEY,
    user_id    text NOT NULL,
    created_ms bigint NOT NULL,
    expires_ms bigint NOT NULL,
    revoked    boolean NOT NULL DEFAULT false
  );
  CREATE TABLE datasets (
    id         text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    owner      text NOT NULL,
    personal   boolean NOT NULL,
    created_ms bigint NOT NULL,
    last_seq   bigint NOT NULL
  );
  CREATE UNIQUE INDEX datasets_personal ON datasets (owner) WHERE personal;
  CREATE TABLE members (
    dataset_id text NOT NULL,
    user_id    text COLLATE "C" NOT NULL,
    role       text NOT NULL,
    PRIMARY KEY (dataset_id, user_id)
  );
  CREATE INDEX members_user ON members (user_id);
  CREATE TABLE entries (
    dataset_id     text NOT NULL,
    store          text COLLATE "C" NOT NULL,
    key            text COLLATE "C" NOT NULL,
    value          text,
    hlc            bigint NOT NULL,
    replica        text NOT NULL,
    schema_version integer NOT NULL,
    stamps         text NOT NULL,
    seq            bigint NOT NULL,
    PRIMARY KEY (dataset_id, store, key)
  );
  CREATE INDEX entries_feed ON entries (dataset_id, seq);
  CREATE TABLE clients (
    dataset_id  text NOT NULL,
    client_id   text NOT NULL,
    applied_seq bigint NOT NULL,
    PRIMARY KEY (dataset_id, client_id)
  );
  CREATE TABLE history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset_id text NOT NULL,
    store      text NOT NULL,
    key        text NOT NULL,
    seq        bigint NOT NULL,
    user_id    text NOT NULL,
    client_id  text NOT NULL,
    client_seq bigint NOT NULL,
    hlc        bigint NOT NULL,
    replica    text NOT NULL,
    server_ms  bigint NOT NULL,
    op         text NOT NULL,
    payload    text NOT NULL,
    outcome    text NOT NULL,
    resolution text NOT NULL
  );
  CREATE INDEX history_entry ON history (dataset_id, store, key, id);
)sql";

// Version 2: collaborative documents' logs.
constexpr const char* kSchemaV2 = R"sql(
  CREATE TABLE document_updates (
    dataset_id text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    seq        bigint NOT NULL,
    data       bytea NOT NULL,
    user_id    text NOT NULL,
    server_ms  bigint NOT NULL,
    PRIMARY KEY (dataset_id, name, seq)
  );
  CREATE TABLE document_snapshots (
    dataset_id text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    id         bigint NOT NULL,
    seq        bigint NOT NULL,
    server_ms  bigint NOT NULL,
    user_id    text NOT NULL,
    label      text NOT NULL,
    data       bytea NOT NULL,
    PRIMARY KEY (dataset_id, name, id)
  );
)sql";

// Version 3: datasets' schemas.
constexpr const char* kSchemaV3 = R"sql(
  CREATE TABLE dataset_schemas (
    dataset_id text COLLATE "C" NOT NULL,
    revision   bigint NOT NULL,
    schema     text NOT NULL,
    user_id    text NOT NULL,
    server_ms  bigint NOT NULL,
    PRIMARY KEY (dataset_id, revision)
  );
)sql";

// Version 4: compaction and retention (what each dataset dropped; tombstones and history by age).
constexpr const char* kSchemaV4 = R"sql(
  ALTER TABLE datasets ADD COLUMN retained_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN floor_hlc bigint NOT NULL DEFAULT 0,
    ADD COLUMN floor_replica text NOT NULL DEFAULT '';
  CREATE INDEX entries_tombstones ON entries (dataset_id, hlc) WHERE value IS NULL;
  CREATE INDEX history_age ON history (server_ms) WHERE store <> '';
  CREATE INDEX audit_age ON history (server_ms) WHERE store = '';
)sql";

// Brings the schema to kSchemaVersion; runs with the schema lock held.
void create_or_upgrade(pq::Connection& db, const std::string& where) {
  const pq::Result exists = db.run("SELECT to_regclass('cairn_schema') IS NOT NULL");
  if (!exists.boolean(0, 0)) {
    db.exec("BEGIN");
    db.exec(kSchemaV1);
    db.exec(kSchemaV2);
    db.exec(kSchemaV3);
    db.exec(kSchemaV4);
    db.run("INSERT INTO cairn_schema (id, version, min_binary) VALUES (1, $1, $2)",
           pq::Params()
               .add(std::int64_t{PostgresStorage::kSchemaVersion})
               .add(std::int64_t{kMinBinary}));
    db.exec("COMMIT");
    return;
  }
  const pq::Result row = db.run("SELECT version, min_binary FROM cairn_schema WHERE id = 1");
  if (row.empty()) {
    throw Error(ErrorCode::not_a_cairn_database,
                fmt::format("{} has a cairn_schema table without its row; it is not a cairnd "
                            "database, or it is damaged",
                            where));
  }
  const std::int64_t version = row.integer(0, 0);
  const std::int64_t min_binary = row.integer(0, 1);
  if (min_binary > PostgresStorage::kSchemaVersion) {
    throw Error(ErrorCode::format_too_new,
                fmt::format("{} has cairnd schema version {} and needs a cairnd that knows at "
                            "least version {}; this cairnd knows up to version {}: upgrade it",
                            where, version, min_binary, PostgresStorage::kSchemaVersion));
  }
  // Upgrades from `version` to kSchemaVersion, one additive step per version, each in one
  // transaction that also records the new version.
  if (version < 2) {
    db.exec("BEGIN");
    db.exec(kSchemaV2);
    db.exec("UPDATE cairn_schema SET version = 2 WHERE id = 1");
    db.exec("COMMIT");
  }
  if (version < 3) {
    db.exec("BEGIN");
    db.exec(kSchemaV3);
    db.exec("UPDATE cairn_schema SET version = 3 WHERE id = 1");
    db.exec("COMMIT");
  }
  if (version < 4) {
    db.exec("BEGIN");
    db.exec(kSchemaV4);
    db.exec("UPDATE cairn_schema SET version = 4 WHERE id = 1");
    db.exec("COMMIT");
  }
}

// What every connection is set to before use.
void configure(pq::Connection& db) {
  db.exec("SET application_name = 'cairnd'; SET client_encoding = 'UTF8'");
  // At least `on`: an acknowledgement means the change is on disk. remote_apply, stricter, stays.
  const pq::Result current = db.run("SELECT current_setting('synchronous_commit')");
  const std::string_view level = current.text(0, 0);
  if (level == "off" || level == "local" || level == "remote_write") {
    db.exec("SET synchronous_commit = on");
  }
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

constexpr const char* kDatasetColumns =
    "id, name, owner, personal, created_ms, last_seq, retained_seq, floor_hlc, floor_replica";
constexpr const char* kEntryColumns =
    "store, key, value, hlc, replica, schema_version, stamps, seq";
constexpr const char* kHistoryColumns =
    "SELECT id, dataset_id, store, key, seq, user_id, client_id, client_seq, hlc, replica, "
    "server_ms, op, payload, outcome, resolution FROM history ";

Timestamp timestamp(const pq::Result& r, int row, int column) {
  return Timestamp::from_packed(static_cast<std::uint64_t>(r.integer(row, column)));
}
std::int64_t packed(Timestamp hlc) {
  return static_cast<std::int64_t>(hlc.packed());
}

DatasetRow read_dataset(const pq::Result& r, int row) {
  return {std::string(r.text(row, 0)),
          std::string(r.text(row, 1)),
          std::string(r.text(row, 2)),
          r.boolean(row, 3),
          r.integer(row, 4),
          static_cast<std::uint64_t>(r.integer(row, 5)),
          static_cast<std::uint64_t>(r.integer(row, 6)),
          timestamp(r, row, 7),
          std::string(r.text(row, 8))};
}

// An entry's columns (kEntryColumns) from column `first` on.
EntryRow read_entry(const pq::Result& r, int row, int first = 0) {
  EntryRow entry;
  entry.store = r.text(row, first);
  entry.key = r.text(row, first + 1);
  entry.value = r.optional_text(row, first + 2);
  entry.hlc = timestamp(r, row, first + 3);
  entry.replica = r.text(row, first + 4);
  entry.schema_version = static_cast<std::uint32_t>(r.integer(row, first + 5));
  entry.stamps = r.text(row, first + 6);
  entry.seq = static_cast<std::uint64_t>(r.integer(row, first + 7));
  return entry;
}

// "p.a, p.b, …" of a column list "a, b, …".
std::string qualified(std::string_view prefix, std::string_view columns) {
  std::string out;
  while (!columns.empty()) {
    const std::size_t comma = columns.find(", ");
    if (!out.empty()) out += ", ";
    out += prefix;
    out += columns.substr(0, comma);
    if (comma == std::string_view::npos) break;
    columns.remove_prefix(comma + 2);
  }
  return out;
}

HistoryRow read_history(const pq::Result& r, int row) {
  return {r.integer(row, 0),
          std::string(r.text(row, 1)),
          std::string(r.text(row, 2)),
          std::string(r.text(row, 3)),
          static_cast<std::uint64_t>(r.integer(row, 4)),
          std::string(r.text(row, 5)),
          std::string(r.text(row, 6)),
          static_cast<std::uint64_t>(r.integer(row, 7)),
          timestamp(r, row, 8),
          std::string(r.text(row, 9)),
          r.integer(row, 10),
          std::string(r.text(row, 11)),
          std::string(r.text(row, 12)),
          std::string(r.text(row, 13)),
          std::string(r.text(row, 14))};
}

std::vector<EntryRow> read_entries(const pq::Result& r) {
  std::vector<EntryRow> rows;
  rows.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i)
    rows.push_back(read_entry(r, i));
  return rows;
}

}  // namespace

// A pooled connection and the row of `clocks` it saves the clock in.
struct Slot {
  std::unique_ptr<pq::Connection> db;  // null until connected, and after it broke
  std::string clock_holder;
  int backend_pid = 0;  // db's, while it is open
};

struct PostgresPool {
  PostgresOptions options;
  std::string description;
  std::string node = random_id(6);

  std::mutex mutex;
  std::condition_variable freed;
  std::vector<std::unique_ptr<Slot>> idle;
  std::size_t open = 0;
  std::size_t in_use = 0;
  std::uint64_t waits = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t reconnects = 0;
  std::set<int> backend_pids;  // of the open pooled connections: this node's own

  // The listening connection's (PostgresWatch).
  std::atomic<bool> listening{false};
  std::atomic<std::uint64_t> listen_reconnects{0};
  std::atomic<std::uint64_t> notifications{0};

  std::unique_ptr<Slot> acquire() {
    std::unique_lock lock(mutex);
    if (idle.empty() && open >= options.pool_size) {
      ++waits;
      if (!freed.wait_for(lock, options.acquire_timeout,
                          [&] { return !idle.empty() || open < options.pool_size; })) {
        ++timeouts;
        throw Error(ErrorCode::unavailable,
                    fmt::format("all {} PostgreSQL connections stayed busy for {} ms",
                                options.pool_size, options.acquire_timeout.count()));
      }
    }
    ++in_use;
    if (!idle.empty()) {
      std::unique_ptr<Slot> slot = std::move(idle.back());
      idle.pop_back();
      return slot;
    }
    auto slot = std::make_unique<Slot>();
    slot->clock_holder = fmt::format("{}/{}", node, open++);
    return slot;
  }

  void release(std::unique_ptr<Slot> slot) {
    // A connection that broke goes now, so that its backend's id stops counting as this node's;
    // the slot's next user connects again.
    const bool broken = slot->db && slot->db->broken();
    if (broken) drop(*slot);
    {
      std::lock_guard lock(mutex);
      if (broken) ++reconnects;
      --in_use;
      idle.push_back(std::move(slot));
    }
    freed.notify_one();
  }

  // (Re)connects a slot whose connection is missing (new, or dropped when it broke in use) or
  // found broken before use.
  void connect(Slot& slot) {
    if (slot.db && !slot.db->broken()) return;
    if (slot.db) {
      std::lock_guard lock(mutex);
      ++reconnects;
    }
    drop(slot);
    auto db = std::make_unique<pq::Connection>(options.conninfo);
    configure(*db);
    {
      std::lock_guard lock(mutex);
      slot.backend_pid = db->backend_pid();
      backend_pids.insert(slot.backend_pid);
    }
    slot.db = std::move(db);
  }

  // Closes a slot's connection. Its backend's id is forgotten first: once the backend is gone,
  // the server may give the id to another node's connection.
  void drop(Slot& slot) {
    {
      std::lock_guard lock(mutex);
      backend_pids.erase(slot.backend_pid);
      slot.backend_pid = 0;
    }
    slot.db.reset();
  }

  // Whether a notification came from one of this node's own connections.
  bool own(int backend_pid) {
    std::lock_guard lock(mutex);
    return backend_pids.contains(backend_pid);
  }
};

namespace {

class PostgresTransaction final : public StorageTransaction {
 public:
  PostgresTransaction(PostgresPool& pool, std::unique_ptr<Slot> slot, bool write)
      : pool_(pool), slot_(std::move(slot)), write_(write) {}

  // Tells every node's listening connection `payload` on `channel` when this commits.
  void notify(std::string_view channel, std::string_view payload) {
    db().run("SELECT pg_notify($1, $2)", pq::Params().add(channel).add(payload));
  }
  ~PostgresTransaction() override {
    if (open_ && slot_->db) {
      try {
        slot_->db->exec("ROLLBACK");
      } catch (...) {
        pool_.drop(*slot_);  // the next user reconnects
      }
    }
    pool_.release(std::move(slot_));
  }

  void commit() override {
    open_ = false;  // whatever happens: after a failed COMMIT the transaction is over
    db().exec("COMMIT");
  }

  Timestamp clock() override {
    const pq::Result r = db().run("SELECT coalesce(max(hlc), 0) FROM clocks");
    return timestamp(r, 0, 0);
  }

  void save_clock(Timestamp hlc) override {
    db().run(
        "INSERT INTO clocks (holder, hlc) VALUES ($1, $2) ON CONFLICT (holder) "
        "DO UPDATE SET hlc = greatest(clocks.hlc, excluded.hlc)",
        pq::Params().add(slot_->clock_holder).add(packed(hlc)));
  }

  void insert_user(const UserRow& user) override {
    db().run(
        "INSERT INTO users (id, kind, google_sub, email, created_ms) VALUES ($1, $2, $3, $4, $5)",
        pq::Params()
            .add(user.id)
            .add(user.kind)
            .add(user.google_sub.empty() ? std::nullopt : std::optional(user.google_sub))
            .add(user.email)
            .add(user.created_ms));
  }

  std::optional<UserRow> user(std::string_view id) override {
    return find_user("SELECT id, kind, google_sub, email, created_ms FROM users WHERE id = $1", id);
  }

  std::optional<UserRow> user_by_google(std::string_view sub) override {
    return find_user(
        "SELECT id, kind, google_sub, email, created_ms FROM users WHERE google_sub = $1", sub);
  }

  void link_google(std::string_view user_id, std::string_view sub,
                   std::string_view email) override {
    db().run("UPDATE users SET kind = 'google', google_sub = $2, email = $3 WHERE id = $1",
             pq::Params().add(user_id).add(sub).add(email));
  }

  void insert_token(const TokenRow& token) override {
    db().run(
        "INSERT INTO tokens (hash, user_id, created_ms, expires_ms, revoked) "
        "VALUES ($1, $2, $3, $4, false)",
        pq::Params()
            .add(token.hash)
            .add(token.user_id)
            .add(token.created_ms)
            .add(token.expires_ms));
  }

  std::optional<TokenRow> token(std::string_view hash) override {
    const pq::Result r = db().run(
        "SELECT hash, user_id, created_ms, expires_ms, revoked FROM tokens WHERE hash = $1",
        pq::Params().add(hash));
    if (r.empty()) return std::nullopt;
    return TokenRow{std::string(r.text(0, 0)), std::string(r.text(0, 1)), r.integer(0, 2),
                    r.integer(0, 3), r.boolean(0, 4)};
  }

  void revoke_token(std::string_view hash) override {
    db().run("UPDATE tokens SET revoked = true WHERE hash = $1", pq::Params().add(hash));
    db().run("SELECT pg_notify('cairn_access', $1)",
             pq::Params().add(fmt::format("revoke {}", hash)));
  }

  void insert_dataset(const DatasetRow& dataset) override {
    db().run(
        "INSERT INTO datasets (id, name, owner, personal, created_ms, last_seq) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        pq::Params()
            .add(dataset.id)
            .add(dataset.name)
            .add(dataset.owner)
            .add(dataset.personal)
            .add(dataset.created_ms)
            .add(dataset.last_seq));
  }

  // In a write transaction, reading a dataset locks its row until the transaction ends (the
  // file's header says why).
  std::optional<DatasetRow> dataset(std::string_view id) override {
    static const std::string read =
        fmt::format("SELECT {} FROM datasets WHERE id = $1", kDatasetColumns);
    static const std::string lock = read + " FOR UPDATE";
    return find_dataset(write_ ? lock : read, id);
  }

  std::optional<DatasetRow> personal_dataset(std::string_view user_id) override {
    static const std::string read =
        fmt::format("SELECT {} FROM datasets WHERE owner = $1 AND personal", kDatasetColumns);
    static const std::string lock = read + " FOR UPDATE";
    return find_dataset(write_ ? lock : read, user_id);
  }

  void set_last_seq(std::string_view dataset_id, std::uint64_t seq) override {
    db().run("UPDATE datasets SET last_seq = $2 WHERE id = $1",
             pq::Params().add(dataset_id).add(seq));
    db().run("SELECT pg_notify('cairn_feed', $1)",
             pq::Params().add(fmt::format("{} {}", dataset_id, seq)));
  }

  std::uint64_t advance_feeds(std::uint64_t by) override {
    return db()
        .run("UPDATE datasets SET last_seq = last_seq + $1", pq::Params().add(by))
        .affected();
  }

  void set_member(std::string_view dataset_id, std::string_view user_id, Role role) override {
    db().run(
        "INSERT INTO members (dataset_id, user_id, role) VALUES ($1, $2, $3) "
        "ON CONFLICT (dataset_id, user_id) DO UPDATE SET role = excluded.role",
        pq::Params().add(dataset_id).add(user_id).add(role_name(role)));
  }

  void remove_member(std::string_view dataset_id, std::string_view user_id) override {
    db().run("DELETE FROM members WHERE dataset_id = $1 AND user_id = $2",
             pq::Params().add(dataset_id).add(user_id));
    db().run("SELECT pg_notify('cairn_access', $1)",
             pq::Params().add(fmt::format("member {} {}", dataset_id, user_id)));
  }

  std::optional<Role> role(std::string_view dataset_id, std::string_view user_id) override {
    const pq::Result r = db().run("SELECT role FROM members WHERE dataset_id = $1 AND user_id = $2",
                                  pq::Params().add(dataset_id).add(user_id));
    if (r.empty()) return std::nullopt;
    return role_from_name(r.text(0, 0));
  }

  std::vector<std::pair<DatasetRow, Role>> datasets_of(std::string_view user_id) override {
    const pq::Result r = db().run(
        fmt::format("SELECT {}, m.role FROM members m JOIN datasets d ON d.id = m.dataset_id "
                    "WHERE m.user_id = $1 ORDER BY d.created_ms, d.id",
                    qualified("d.", kDatasetColumns)),
        pq::Params().add(user_id));
    std::vector<std::pair<DatasetRow, Role>> rows;
    for (int i = 0; i < r.rows(); ++i)
      rows.emplace_back(read_dataset(r, i), role_from_name(r.text(i, 9)).value_or(Role::viewer));
    return rows;
  }

  std::vector<std::pair<std::string, Role>> members(std::string_view dataset_id) override {
    const pq::Result r =
        db().run("SELECT user_id, role FROM members WHERE dataset_id = $1 ORDER BY user_id",
                 pq::Params().add(dataset_id));
    std::vector<std::pair<std::string, Role>> rows;
    for (int i = 0; i < r.rows(); ++i) {
      rows.emplace_back(std::string(r.text(i, 0)),
                        role_from_name(r.text(i, 1)).value_or(Role::viewer));
    }
    return rows;
  }

  std::vector<std::optional<EntryRow>> entries(std::string_view dataset_id,
                                               const std::vector<EntryKey>& keys) override {
    static const std::string sql = fmt::format(
        "SELECT k.i, {} FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS k(store, key, i) "
        "JOIN entries e ON e.dataset_id = $1 AND e.store = k.store AND e.key = k.key",
        qualified("e.", kEntryColumns));
    pq::Array stores, names;
    for (const EntryKey& key : keys) {
      stores.add(key.store);
      names.add(key.key);
    }
    const pq::Result r = db().run(sql, pq::Params().add(dataset_id).add(stores).add(names));
    std::vector<std::optional<EntryRow>> rows(keys.size());
    for (int i = 0; i < r.rows(); ++i)
      rows[static_cast<std::size_t>(r.integer(i, 0) - 1)] = read_entry(r, i, 1);
    return rows;
  }

  void put_entries(std::string_view dataset_id, const std::vector<EntryRow>& entries) override {
    pq::Array stores, keys, values, hlcs, replicas, versions, stamps, seqs;
    for (const EntryRow& entry : entries) {
      stores.add(entry.store);
      keys.add(entry.key);
      values.add(entry.value);
      hlcs.add(packed(entry.hlc));
      replicas.add(entry.replica);
      versions.add(std::int64_t{entry.schema_version});
      stamps.add(entry.stamps);
      seqs.add(entry.seq);
    }
    db().run(
        "INSERT INTO entries (dataset_id, store, key, value, hlc, replica, schema_version, "
        "stamps, seq) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], "
        "$6::text[], $7::integer[], $8::text[], $9::bigint[]) "
        "ON CONFLICT (dataset_id, store, key) DO UPDATE SET value = excluded.value, "
        "hlc = excluded.hlc, replica = excluded.replica, "
        "schema_version = excluded.schema_version, stamps = excluded.stamps, seq = excluded.seq",
        pq::Params()
            .add(dataset_id)
            .add(stores)
            .add(keys)
            .add(values)
            .add(hlcs)
            .add(replicas)
            .add(versions)
            .add(stamps)
            .add(seqs));
  }

  std::vector<EntryRow> changes_since(std::string_view dataset_id, std::uint64_t after_seq,
                                      std::size_t limit) override {
    static const std::string sql = fmt::format(
        "SELECT {} FROM entries WHERE dataset_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        kEntryColumns);
    return read_entries(db().run(
        sql, pq::Params().add(dataset_id).add(after_seq).add(static_cast<std::uint64_t>(limit))));
  }

  std::vector<EntryRow> all_entries(std::string_view dataset_id) override {
    static const std::string sql = fmt::format(
        "SELECT {} FROM entries WHERE dataset_id = $1 ORDER BY store, key", kEntryColumns);
    return read_entries(db().run(sql, pq::Params().add(dataset_id)));
  }

  std::vector<EntryRow> store_entries(std::string_view dataset_id, std::string_view store,
                                      std::string_view first, std::string_view last) override {
    // Two statements, so that each is one range scan of the primary key.
    static const std::string bounded = fmt::format(
        "SELECT {} FROM entries WHERE dataset_id = $1 AND store = $2 AND key >= $3 AND key <= $4 "
        "ORDER BY key",
        kEntryColumns);
    static const std::string open_ended = fmt::format(
        "SELECT {} FROM entries WHERE dataset_id = $1 AND store = $2 AND key >= $3 ORDER BY key",
        kEntryColumns);
    if (last.empty()) {
      return read_entries(db().run(open_ended, pq::Params().add(dataset_id).add(store).add(first)));
    }
    return read_entries(
        db().run(bounded, pq::Params().add(dataset_id).add(store).add(first).add(last)));
  }

  bool store_changed_since(std::string_view dataset_id, std::string_view store,
                           std::uint64_t after_seq) override {
    const pq::Result r = db().run(
        "SELECT EXISTS (SELECT 1 FROM entries WHERE dataset_id = $1 AND seq > $2 AND store = $3)",
        pq::Params().add(dataset_id).add(after_seq).add(store));
    return r.boolean(0, 0);
  }

  std::vector<std::string> datasets_with_tombstones(Timestamp before, std::string_view after,
                                                    std::size_t limit) override {
    const pq::Result r = db().run(
        "SELECT DISTINCT dataset_id FROM entries WHERE value IS NULL AND hlc < $1 "
        "AND dataset_id > $2 ORDER BY dataset_id LIMIT $3",
        pq::Params().add(packed(before)).add(after).add(static_cast<std::uint64_t>(limit)));
    std::vector<std::string> ids;
    for (int i = 0; i < r.rows(); ++i)
      ids.emplace_back(r.text(i, 0));
    return ids;
  }

  std::vector<EntryRow> tombstones_before(std::string_view dataset_id, Timestamp before,
                                          std::size_t limit) override {
    static const std::string sql = fmt::format(
        "SELECT {} FROM entries WHERE dataset_id = $1 AND value IS NULL AND hlc < $2 "
        "ORDER BY hlc LIMIT $3",
        kEntryColumns);
    return read_entries(db().run(
        sql,
        pq::Params().add(dataset_id).add(packed(before)).add(static_cast<std::uint64_t>(limit))));
  }

  void erase_entries(std::string_view dataset_id, const std::vector<EntryKey>& keys) override {
    pq::Array stores, names;
    for (const EntryKey& key : keys) {
      stores.add(key.store);
      names.add(key.key);
    }
    db().run(
        "DELETE FROM entries e USING unnest($2::text[], $3::text[]) AS k(store, key) "
        "WHERE e.dataset_id = $1 AND e.store = k.store AND e.key = k.key",
        pq::Params().add(dataset_id).add(stores).add(names));
  }

  void set_compaction(std::string_view dataset_id, std::uint64_t retained_seq, Timestamp floor_hlc,
                      std::string_view floor_replica) override {
    db().run(
        "UPDATE datasets SET retained_seq = $2, floor_hlc = $3, floor_replica = $4 WHERE id = $1",
        pq::Params().add(dataset_id).add(retained_seq).add(packed(floor_hlc)).add(floor_replica));
  }

  std::size_t drop_history(bool audit, std::int64_t before_ms, std::size_t limit) override {
    const pq::Result r = db().run(
        audit ? "DELETE FROM history WHERE id IN (SELECT id FROM history WHERE store = '' AND "
                "server_ms < $1 LIMIT $2) AND id < (SELECT max(id) FROM history)"
              : "DELETE FROM history WHERE id IN (SELECT id FROM history WHERE store <> '' AND "
                "server_ms < $1 LIMIT $2) AND id < (SELECT max(id) FROM history)",
        pq::Params().add(before_ms).add(static_cast<std::uint64_t>(limit)));
    return static_cast<std::size_t>(r.affected());
  }

  std::size_t trim_history(std::size_t keep, std::int64_t before_ms, std::size_t limit) override {
    // An entry over the count with a row old enough: its oldest row is beyond the newest `keep`.
    const pq::Result r = db().run(
        "WITH over AS (SELECT dataset_id, store, key FROM history WHERE store <> '' "
        "GROUP BY dataset_id, store, key HAVING count(*) > $1 AND min(server_ms) < $3 LIMIT $2), "
        "ranked AS (SELECT h.id, h.server_ms, row_number() OVER (PARTITION BY h.dataset_id, "
        "h.store, h.key ORDER BY h.id DESC) AS rank FROM history h JOIN over o ON "
        "h.dataset_id = o.dataset_id AND h.store = o.store AND h.key = o.key) "
        "DELETE FROM history WHERE id IN (SELECT id FROM ranked WHERE rank > $1 AND "
        "server_ms < $3)",
        pq::Params()
            .add(static_cast<std::uint64_t>(keep))
            .add(static_cast<std::uint64_t>(limit))
            .add(before_ms));
    return static_cast<std::size_t>(r.affected());
  }

  std::size_t drop_snapshots(std::int64_t before_ms, std::size_t limit) override {
    const pq::Result r = db().run(
        "DELETE FROM document_snapshots d USING (SELECT dataset_id, name, id FROM "
        "document_snapshots s WHERE server_ms < $1 AND id < (SELECT max(id) FROM "
        "document_snapshots n WHERE n.dataset_id = s.dataset_id AND n.name = s.name) LIMIT $2) "
        "old WHERE d.dataset_id = old.dataset_id AND d.name = old.name AND d.id = old.id",
        pq::Params().add(before_ms).add(static_cast<std::uint64_t>(limit)));
    return static_cast<std::size_t>(r.affected());
  }

  std::size_t trim_snapshots(std::size_t keep, std::size_t limit) override {
    keep = std::max<std::size_t>(keep, 1);
    const pq::Result r = db().run(
        "WITH over AS (SELECT dataset_id, name FROM document_snapshots GROUP BY dataset_id, name "
        "HAVING count(*) > $1 LIMIT $2), "
        "ranked AS (SELECT s.dataset_id, s.name, s.id, row_number() OVER (PARTITION BY "
        "s.dataset_id, s.name ORDER BY s.id DESC) AS rank FROM document_snapshots s JOIN over o "
        "ON s.dataset_id = o.dataset_id AND s.name = o.name) "
        "DELETE FROM document_snapshots d USING ranked r WHERE r.rank > $1 AND "
        "d.dataset_id = r.dataset_id AND d.name = r.name AND d.id = r.id",
        pq::Params().add(static_cast<std::uint64_t>(keep)).add(static_cast<std::uint64_t>(limit)));
    return static_cast<std::size_t>(r.affected());
  }

  Holdings holdings(std::uint64_t near_bytes) override {
    Holdings holdings;
    const pq::Result stores = db().run(
        "SELECT store, sum(live), sum(dead), sum(bytes), max(bytes), "
        "count(*) FILTER (WHERE bytes >= $1) FROM "
        "(SELECT dataset_id, store, count(value) AS live, count(*) - count(value) AS dead, "
        "coalesce(sum(octet_length(key) + octet_length(value)), 0) AS bytes "
        "FROM entries GROUP BY dataset_id, store) s GROUP BY store ORDER BY store",
        pq::Params().add(near_bytes));
    for (int i = 0; i < stores.rows(); ++i) {
      const auto at = [&](int column) {
        return static_cast<std::uint64_t>(stores.integer(i, column));
      };
      holdings.stores.push_back(
          {std::string(stores.text(i, 0)), at(1), at(2), at(3), at(4), at(5)});
    }
    const pq::Result r = db().run(
        "SELECT (SELECT count(*) FROM history WHERE store <> ''), "
        "(SELECT count(*) FROM history WHERE store = ''), "
        "(SELECT count(*) FROM (SELECT DISTINCT dataset_id, name FROM document_updates) d), "
        "(SELECT coalesce(sum(octet_length(data)), 0) FROM document_updates), "
        "(SELECT count(*) FROM document_snapshots), "
        "(SELECT coalesce(sum(octet_length(data)), 0) FROM document_snapshots)");
    const auto at = [&](int column) { return static_cast<std::uint64_t>(r.integer(0, column)); };
    holdings.history_rows = at(0);
    holdings.audit_rows = at(1);
    holdings.documents = at(2);
    holdings.document_log_bytes = at(3);
    holdings.snapshots = at(4);
    holdings.snapshot_bytes = at(5);
    return holdings;
  }

  std::uint64_t applied_seq(std::string_view dataset_id, std::string_view client_id) override {
    const pq::Result r =
        db().run("SELECT applied_seq FROM clients WHERE dataset_id = $1 AND client_id = $2",
                 pq::Params().add(dataset_id).add(client_id));
    return r.empty() ? 0 : static_cast<std::uint64_t>(r.integer(0, 0));
  }

  void set_applied_seq(std::string_view dataset_id, std::string_view client_id,
                       std::uint64_t seq) override {
    db().run(
        "INSERT INTO clients (dataset_id, client_id, applied_seq) VALUES ($1, $2, $3) "
        "ON CONFLICT (dataset_id, client_id) DO UPDATE SET applied_seq = excluded.applied_seq",
        pq::Params().add(dataset_id).add(client_id).add(seq));
  }

  void append_history(const std::vector<HistoryRow>& rows) override {
    pq::Array datasets, stores, keys, seqs, users, clients, client_seqs, hlcs, replicas, times, ops,
        payloads, outcomes, resolutions;
    for (const HistoryRow& row : rows) {
      datasets.add(row.dataset_id);
      stores.add(row.store);
      keys.add(row.key);
      seqs.add(row.seq);
      users.add(row.user_id);
      clients.add(row.client_id);
      client_seqs.add(row.client_seq);
      hlcs.add(packed(row.hlc));
      replicas.add(row.replica);
      times.add(row.server_ms);
      ops.add(row.op);
      payloads.add(row.payload);
      outcomes.add(row.outcome);
      resolutions.add(row.resolution);
    }
    // In the rows' order, so that their ids rise with it.
    db().run(
        "INSERT INTO history (dataset_id, store, key, seq, user_id, client_id, client_seq, hlc, "
        "replica, server_ms, op, payload, outcome, resolution) "
        "SELECT dataset_id, store, key, seq, user_id, client_id, client_seq, hlc, replica, "
        "server_ms, op, payload, outcome, resolution FROM unnest($1::text[], $2::text[], "
        "$3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], "
        "$10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[]) WITH ORDINALITY AS "
        "r(dataset_id, store, key, seq, user_id, client_id, client_seq, hlc, replica, server_ms, "
        "op, payload, outcome, resolution, i) ORDER BY i",
        pq::Params()
            .add(datasets)
            .add(stores)
            .add(keys)
            .add(seqs)
            .add(users)
            .add(clients)
            .add(client_seqs)
            .add(hlcs)
            .add(replicas)
            .add(times)
            .add(ops)
            .add(payloads)
            .add(outcomes)
            .add(resolutions));
  }

  std::vector<HistoryRow> history(std::string_view dataset_id, std::string_view store,
                                  std::string_view key, std::size_t limit) override {
    static const std::string sql =
        std::string(kHistoryColumns) +
        "WHERE dataset_id = $1 AND store = $2 AND key = $3 ORDER BY id LIMIT $4";
    const pq::Result r = db().run(
        sql,
        pq::Params().add(dataset_id).add(store).add(key).add(static_cast<std::uint64_t>(limit)));
    std::vector<HistoryRow> rows;
    for (int i = 0; i < r.rows(); ++i)
      rows.push_back(read_history(r, i));
    return rows;
  }

  std::optional<HistoryRow> client_change(std::string_view dataset_id, std::string_view store,
                                          std::string_view key, std::string_view client_id,
                                          std::uint64_t client_seq) override {
    static const std::string sql = std::string(kHistoryColumns) +
                                   "WHERE dataset_id = $1 AND store = $2 AND key = $3 AND "
                                   "client_id = $4 AND client_seq = $5 ORDER BY id DESC LIMIT 1";
    const pq::Result r = db().run(
        sql, pq::Params().add(dataset_id).add(store).add(key).add(client_id).add(client_seq));
    if (r.empty()) return std::nullopt;
    return read_history(r, 0);
  }

  std::vector<DocumentUpdateRow> document_updates(std::string_view dataset_id,
                                                  std::string_view name,
                                                  std::uint64_t after_seq) override {
    const pq::Result r = db().run(
        "SELECT seq, encode(data, 'hex'), user_id, server_ms FROM document_updates "
        "WHERE dataset_id = $1 AND name = $2 AND seq > $3 ORDER BY seq",
        pq::Params().add(dataset_id).add(name).add(after_seq));
    std::vector<DocumentUpdateRow> rows;
    rows.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      rows.push_back({static_cast<std::uint64_t>(r.integer(i, 0)), stored_bytes(r.text(i, 1)),
                      std::string(r.text(i, 2)), r.integer(i, 3)});
    }
    return rows;
  }

  std::uint64_t append_document_update(std::string_view dataset_id, std::string_view name,
                                       const DocumentUpdateRow& row) override {
    // Two nodes appending at once both take the same seq: the second insert conflicts
    // (TransactionConflict), and its caller runs again.
    const pq::Result r = db().run(
        "INSERT INTO document_updates (dataset_id, name, seq, data, user_id, server_ms) "
        "SELECT $1, $2, coalesce(max(seq), 0) + 1, decode($3, 'hex'), $4, $5 "
        "FROM document_updates WHERE dataset_id = $1 AND name = $2 RETURNING seq",
        pq::Params()
            .add(dataset_id)
            .add(name)
            .add(hex(row.data))
            .add(row.user_id)
            .add(row.server_ms));
    const auto seq = static_cast<std::uint64_t>(r.integer(0, 0));
    notify("cairn_doc", fmt::format("{} {} {}", dataset_id, seq, name));
    return seq;
  }

  void compact_document(std::string_view dataset_id, std::string_view name,
                        std::uint64_t through_seq, std::string_view merged) override {
    db().run("DELETE FROM document_updates WHERE dataset_id = $1 AND name = $2 AND seq <= $3",
             pq::Params().add(dataset_id).add(name).add(through_seq));
    db().run(
        "INSERT INTO document_updates (dataset_id, name, seq, data, user_id, server_ms) "
        "VALUES ($1, $2, $3, decode($4, 'hex'), '', 0)",
        pq::Params().add(dataset_id).add(name).add(through_seq).add(hex(merged)));
  }

  std::uint64_t add_document_snapshot(std::string_view dataset_id, std::string_view name,
                                      const DocumentSnapshotRow& snapshot) override {
    const pq::Result r = db().run(
        "INSERT INTO document_snapshots (dataset_id, name, id, seq, server_ms, user_id, label, "
        "data) SELECT $1, $2, coalesce(max(id), 0) + 1, $3, $4, $5, $6, decode($7, 'hex') "
        "FROM document_snapshots WHERE dataset_id = $1 AND name = $2 RETURNING id",
        pq::Params()
            .add(dataset_id)
            .add(name)
            .add(snapshot.seq)
            .add(snapshot.server_ms)
            .add(snapshot.user_id)
            .add(snapshot.label)
            .add(hex(snapshot.data)));
    return static_cast<std::uint64_t>(r.integer(0, 0));
  }

  std::vector<DocumentSnapshotRow> document_snapshots(std::string_view dataset_id,
                                                      std::string_view name) override {
    const pq::Result r = db().run(
        "SELECT id, seq, server_ms, user_id, label FROM document_snapshots "
        "WHERE dataset_id = $1 AND name = $2 ORDER BY id",
        pq::Params().add(dataset_id).add(name));
    std::vector<DocumentSnapshotRow> rows;
    for (int i = 0; i < r.rows(); ++i) {
      rows.push_back({static_cast<std::uint64_t>(r.integer(i, 0)),
                      static_cast<std::uint64_t>(r.integer(i, 1)),
                      r.integer(i, 2),
                      std::string(r.text(i, 3)),
                      std::string(r.text(i, 4)),
                      {}});
    }
    return rows;
  }

  std::optional<DocumentSnapshotRow> document_snapshot(std::string_view dataset_id,
                                                       std::string_view name,
                                                       std::uint64_t id) override {
    const pq::Result r = db().run(
        "SELECT id, seq, server_ms, user_id, label, encode(data, 'hex') FROM document_snapshots "
        "WHERE dataset_id = $1 AND name = $2 AND id = $3",
        pq::Params().add(dataset_id).add(name).add(id));
    if (r.empty()) return std::nullopt;
    return DocumentSnapshotRow{static_cast<std::uint64_t>(r.integer(0, 0)),
                               static_cast<std::uint64_t>(r.integer(0, 1)),
                               r.integer(0, 2),
                               std::string(r.text(0, 3)),
                               std::string(r.text(0, 4)),
                               stored_bytes(r.text(0, 5))};
  }

  std::optional<DatasetSchemaRow> dataset_schema(std::string_view dataset_id) override {
    const pq::Result r = db().run(
        "SELECT revision, schema, user_id, server_ms FROM dataset_schemas "
        "WHERE dataset_id = $1 ORDER BY revision DESC LIMIT 1",
        pq::Params().add(dataset_id));
    if (r.empty()) return std::nullopt;
    return DatasetSchemaRow{static_cast<std::uint64_t>(r.integer(0, 0)), std::string(r.text(0, 1)),
                            std::string(r.text(0, 2)), r.integer(0, 3)};
  }

  void add_dataset_schema(std::string_view dataset_id, const DatasetSchemaRow& row) override {
    db().run(
        "INSERT INTO dataset_schemas (dataset_id, revision, schema, user_id, server_ms) "
        "VALUES ($1, $2, $3, $4, $5)",
        pq::Params()
            .add(dataset_id)
            .add(row.revision)
            .add(row.schema)
            .add(row.user_id)
            .add(row.server_ms));
  }

  std::vector<StoreVersionCount> entry_versions(std::string_view dataset_id) override {
    const pq::Result r = db().run(
        "SELECT store, schema_version, count(*) FROM entries "
        "WHERE dataset_id = $1 AND value IS NOT NULL "
        "GROUP BY store, schema_version ORDER BY store, schema_version",
        pq::Params().add(dataset_id));
    std::vector<StoreVersionCount> rows;
    for (int i = 0; i < r.rows(); ++i) {
      rows.push_back({std::string(r.text(i, 0)), static_cast<std::uint32_t>(r.integer(i, 1)),
                      static_cast<std::uint64_t>(r.integer(i, 2))});
    }
    return rows;
  }

  std::vector<StoredRow> table_rows(const StoredTable& table, const StoredRow& after,
                                    std::size_t limit) override {
    // Text keys in byte order, as SQLite sorts them.
    std::vector<std::string> keys;
    for (std::string_view key : table.key)
      keys.push_back(table.is_integer_key(key) ? std::string(key)
                                               : fmt::format("{} COLLATE \"C\"", key));
    std::vector<std::string> columns;
    for (std::string_view column : table.columns) {
      columns.push_back(table.is_binary(column) ? fmt::format("encode({}, 'hex')", column)
                                                : std::string(column));
    }
    std::string sql = fmt::format("SELECT {} FROM {}", fmt::join(columns, ", "), table.name);
    pq::Params params;
    if (!after.empty()) {
      std::vector<std::string> values;
      for (std::size_t i = 0; i < after.size(); ++i) {
        values.push_back(fmt::format("${}", i + 1));
        params.add(after[i]);
      }
      sql += fmt::format(" WHERE ({}) > ({})", fmt::join(keys, ", "), fmt::join(values, ", "));
    }
    sql += fmt::format(" ORDER BY {} LIMIT {}", fmt::join(keys, ", "), limit);
    const pq::Result r = db().run(sql, params);
    std::vector<StoredRow> rows;
    rows.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      StoredRow& row = rows.emplace_back();
      for (int c = 0; c < static_cast<int>(table.columns.size()); ++c) {
        if (r.is_null(i, c)) {
          row.emplace_back();
        } else if (PQftype(r.native(), c) == kBooleanType) {
          row.emplace_back(r.boolean(i, c) ? "1" : "0");
        } else {
          row.emplace_back(std::string(r.text(i, c)));
        }
      }
    }
    return rows;
  }

  void insert_rows(const StoredTable& table, const std::vector<StoredRow>& rows) override {
    std::vector<std::string> values;
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      values.push_back(table.is_binary(table.columns[c]) ? fmt::format("decode(${}, 'hex')", c + 1)
                                                         : fmt::format("${}", c + 1));
    }
    // history.id is an identity column: copied ids are kept, and the identity goes on after them.
    const bool identity = table.name == "history";
    const std::string sql =
        fmt::format("INSERT INTO {} ({}) {}VALUES ({})", table.name, fmt::join(table.columns, ", "),
                    identity ? "OVERRIDING SYSTEM VALUE " : "", fmt::join(values, ", "));
    for (const StoredRow& row : rows) {
      pq::Params params;
      for (const std::optional<std::string>& value : row)
        params.add(value);  // "0" and "1" read as booleans too
      db().run(sql, params);
    }
    if (identity && !rows.empty()) {
      db().run(
          "SELECT setval(pg_get_serial_sequence('history', 'id'), (SELECT max(id) FROM history))");
    }
  }

 private:
  pq::Connection& db() {
    if (!slot_->db) {
      throw Error(ErrorCode::unavailable, "the connection to PostgreSQL broke mid-transaction");
    }
    return *slot_->db;
  }

  std::optional<UserRow> find_user(const std::string& sql, std::string_view value) {
    const pq::Result r = db().run(sql, pq::Params().add(value));
    if (r.empty()) return std::nullopt;
    return UserRow{std::string(r.text(0, 0)), std::string(r.text(0, 1)), std::string(r.text(0, 2)),
                   std::string(r.text(0, 3)), r.integer(0, 4)};
  }

  std::optional<DatasetRow> find_dataset(const std::string& sql, std::string_view value) {
    const pq::Result r = db().run(sql, pq::Params().add(value));
    if (r.empty()) return std::nullopt;
    return read_dataset(r, 0);
  }

  PostgresPool& pool_;
  std::unique_ptr<Slot> slot_;
  bool write_;
  bool open_ = true;
};

}  // namespace

namespace {

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    out.push_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return out;
}

// Relays the notifications of cairn_feed and cairn_access (see the top of this file) to a node's
// StorageEvents, over a connection of its own outside the pool, on a thread of its own. It waits
// on the connection's socket: nothing is polled but a liveness check of an idle connection every
// kIdleCheck. A connection that fails is replaced, with a growing pause between attempts, and the
// node then reads everything again (missed_events).
class PostgresWatch final : public StorageWatch {
 public:
  static constexpr std::chrono::milliseconds kIdleCheck{5'000};
  static constexpr std::chrono::milliseconds kFirstRetry{100};
  static constexpr std::chrono::milliseconds kLastRetry{5'000};

  PostgresWatch(PostgresPool& pool, StorageEvents& events)
      : pool_(pool), events_(events), wake_(eventfd(0, EFD_CLOEXEC)) {
    if (wake_ < 0) throw Error(ErrorCode::io_error, "eventfd failed for the listening thread");
    thread_ = std::thread([this] { run(); });
  }

  ~PostgresWatch() override {
    stopping_ = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_, &one, sizeof one);
    thread_.join();
    ::close(wake_);
  }

  PostgresWatch(const PostgresWatch&) = delete;
  PostgresWatch& operator=(const PostgresWatch&) = delete;

 private:
  void run() {
    bool lost = false;  // a connection failed: notifications may have been missed since
    std::chrono::milliseconds pause = kFirstRetry;
    while (!stopping_) {
      try {
        pq::Connection db(pool_.options.conninfo);
        db.exec(
            "SET application_name = 'cairnd-listen'; LISTEN cairn_feed; LISTEN cairn_access; "
            "LISTEN cairn_doc; LISTEN cairn_awareness");
        pool_.listening = true;
        if (lost) {
          ++pool_.listen_reconnects;
          spdlog::info("listening to PostgreSQL again; reading what other nodes did meanwhile");
          events_.missed_events();
          lost = false;
        }
        pause = kFirstRetry;
        listen(db);
      } catch (const std::exception& e) {
        pool_.listening = false;
        if (!lost) {
          spdlog::warn("the connection listening to other nodes' commits failed ({}); retrying",
                       e.what());
        }
        lost = true;
        sleep(pause);
        pause = std::min(pause * 2, kLastRetry);
      }
    }
    pool_.listening = false;
  }

  // Until stopped (returns) or the connection fails (throws).
  void listen(pq::Connection& db) {
    while (!stopping_) {
      pollfd waits[2] = {{db.socket(), POLLIN, 0}, {wake_, POLLIN, 0}};
      const int ready = ::poll(waits, 2, static_cast<int>(kIdleCheck.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) throw Error(ErrorCode::io_error, "poll failed on the listening connection");
      if (waits[1].revents != 0) return;
      if (ready == 0) {
        db.exec("SELECT 1");  // idle: is the server still there?
      } else {
        db.consume_input();
      }
      while (std::optional<pq::Connection::Notification> note = db.next_notification())
        dispatch(*note);
    }
  }

  void dispatch(const pq::Connection::Notification& note) {
    ++pool_.notifications;
    const std::vector<std::string_view> word = words(note.payload);
    std::uint64_t position = 0;
    if (note.channel == "cairn_feed" && word.size() == 2 &&
        std::from_chars(word[1].data(), word[1].data() + word[1].size(), position).ec ==
            std::errc()) {
      // This node announces its own commits itself, once they have committed.
      if (!pool_.own(note.backend_pid)) events_.feed_moved(word[0], position);
    } else if (note.channel == "cairn_doc" && word.size() == 3 &&
               std::from_chars(word[1].data(), word[1].data() + word[1].size(), position).ec ==
                   std::errc()) {
      // Each node relays its own documents' updates itself, once they have committed.
      if (!pool_.own(note.backend_pid)) events_.document_moved(word[0], word[2], position);
    } else if (note.channel == "cairn_awareness" && word.size() == 3) {
      std::string update;
      if (!pool_.own(note.backend_pid) && base64url_decode(word[2], update)) {
        events_.awareness_relayed(word[0], word[1], update);
      }
    } else if (note.channel == "cairn_access" && word.size() == 2 && word[0] == "revoke") {
      events_.token_revoked(word[1]);
    } else if (note.channel == "cairn_access" && word.size() == 3 && word[0] == "member") {
      events_.member_removed(word[1], word[2]);
    } else {
      spdlog::warn("ignored a notification this cairnd does not know: {} '{}'", note.channel,
                   note.payload);
    }
  }

  // Waits `pause`, or less when stopped meanwhile.
  void sleep(std::chrono::milliseconds pause) {
    pollfd wake{wake_, POLLIN, 0};
    ::poll(&wake, 1, static_cast<int>(pause.count()));
  }

  PostgresPool& pool_;
  StorageEvents& events_;
  const int wake_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace

PostgresStorage::PostgresStorage(PostgresOptions options)
    : pool_(std::make_unique<PostgresPool>()) {
  if (options.pool_size == 0) {
    throw Error(ErrorCode::invalid_argument, "the PostgreSQL pool needs at least one connection");
  }
  pool_->description = pq::describe(options.conninfo);
  pool_->options = std::move(options);
  pq::Connection db(pool_->options.conninfo);
  configure(db);
  db.run("SELECT pg_advisory_lock($1)", pq::Params().add(kSchemaLock));
  try {
    create_or_upgrade(db, pool_->description);
    // Clock rows of connections gone (earlier processes): only the greatest matters.
    db.exec("DELETE FROM clocks WHERE hlc < (SELECT max(hlc) FROM clocks)");
  } catch (...) {
    db.exec("ROLLBACK");  // harmless outside a transaction (a warning)
    db.run("SELECT pg_advisory_unlock($1)", pq::Params().add(kSchemaLock));
    throw;
  }
  db.run("SELECT pg_advisory_unlock($1)", pq::Params().add(kSchemaLock));
}

PostgresStorage::~PostgresStorage() = default;

std::unique_ptr<StorageTransaction> PostgresStorage::begin(bool write) {
  std::unique_ptr<Slot> slot = pool_->acquire();
  const char* begin_sql = write ? "BEGIN ISOLATION LEVEL READ COMMITTED"
                                : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  // A pooled connection may have died while idle (PostgreSQL restarted, a proxy closed it): the
  // first attempt finds out at BEGIN, before anything is applied, and a fresh connection gets a
  // second one. When that fails too, PostgreSQL is unreachable: Error(unavailable).
  for (int attempt = 1;; ++attempt) {
    try {
      pool_->connect(*slot);
      slot->db->exec(begin_sql);
      break;
    } catch (const Error& e) {
      const bool healthy = slot->db && !slot->db->broken();
      if (healthy || attempt == 2 || e.code() != ErrorCode::unavailable) {
        pool_->release(std::move(slot));
        throw;
      }
    }
  }
  return std::make_unique<PostgresTransaction>(*pool_, std::move(slot), write);
}

void PostgresStorage::relay_awareness(std::string_view dataset_id, std::string_view name,
                                      std::string_view update) {
  // PostgreSQL takes notifications of less than 8000 bytes; a larger awareness update (a state
  // of several KiB) stays with this node's peers.
  const std::string payload = fmt::format("{} {} {}", dataset_id, name, base64url_encode(update));
  if (payload.size() >= 8000) {
    spdlog::debug("an awareness update of {} bytes is too large to relay to other nodes",
                  update.size());
    return;
  }
  try {
    auto tx = begin(true);
    auto& postgres = static_cast<PostgresTransaction&>(*tx);
    postgres.notify("cairn_awareness", payload);
    tx->commit();
  } catch (const Error& e) {
    spdlog::debug("awareness not relayed to other nodes: {}", e.what());
  }
}

std::unique_ptr<StorageWatch> PostgresStorage::watch(StorageEvents& events) {
  return std::make_unique<PostgresWatch>(*pool_, events);
}

std::vector<StorageFigure> PostgresStorage::figures() const {
  const PoolStats pool = pool_stats();
  const auto number = [](auto value) { return static_cast<double>(value); };
  return {
      {"cairnd_db_pool_size", "PostgreSQL connections this node may open.", "gauge",
       number(pool.size)},
      {"cairnd_db_pool_open", "PostgreSQL connections open now.", "gauge", number(pool.open)},
      {"cairnd_db_pool_in_use", "PostgreSQL connections lent to a transaction now.", "gauge",
       number(pool.in_use)},
      {"cairnd_db_pool_waits_total", "Transactions that waited for a free connection.", "counter",
       number(pool.waits)},
      {"cairnd_db_pool_timeouts_total",
       "Transactions that found no free connection in time (answered 503).", "counter",
       number(pool.timeouts)},
      {"cairnd_db_reconnects_total", "Pooled connections found broken and replaced.", "counter",
       number(pool.reconnects)},
      {"cairnd_db_listening",
       "1 while the connection that hears other nodes' commits is up, else 0.", "gauge",
       pool_->listening ? 1.0 : 0.0},
      {"cairnd_db_listen_reconnects_total",
       "Times the listening connection was lost and made again.", "counter",
       number(pool_->listen_reconnects.load())},
      {"cairnd_db_notifications_total", "Notifications heard from PostgreSQL.", "counter",
       number(pool_->notifications.load())},
  };
}

PoolStats PostgresStorage::pool_stats() const {
  std::lock_guard lock(pool_->mutex);
  return {pool_->options.pool_size, pool_->open,      pool_->in_use, pool_->waits,
          pool_->timeouts,          pool_->reconnects};
}

}  // namespace cairn::server
