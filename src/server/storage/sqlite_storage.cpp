// SqliteStorage: cairnd's embedded storage. All of the server's SQL for SQLite is in this file.
//
// One SQLite file in WAL mode (<data>/cairnd.db): one connection for writes, serialized by a
// mutex, and a pool of read connections that see snapshots beside the writer. The SQL sticks to
// what PostgreSQL also runs (INSERT ... ON CONFLICT, partial indexes); only the DDL is SQLite's.
//
// File format: application_id 0x43414944 ("CAID"), user_version 4 (1 had no document tables, 2
// no dataset_schemas, 3 no compaction columns; such a file gains them when opened).
#include "server/storage/sqlite_storage.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <cairn/error.hpp>
#include <functional>
#include <mutex>
#include <vector>

#include "storage/sqlite.hpp"

namespace cairn::server {

namespace {

constexpr std::int64_t kApplicationId = 0x43414944;
constexpr std::int64_t kFormat = 4;

// Collaborative documents' logs (format 2 on).
void create_document_tables(sqlite::Connection& db) {
  db.exec(R"sql(
    CREATE TABLE IF NOT EXISTS document_updates (
      dataset_id TEXT NOT NULL,
      name       TEXT NOT NULL,
      seq        INTEGER NOT NULL,
      data       BLOB NOT NULL,
      user_id    TEXT NOT NULL,
      server_ms  INTEGER NOT NULL,
      PRIMARY KEY (dataset_id, name, seq)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS document_snapshots (
      dataset_id TEXT NOT NULL,
      name       TEXT NOT NULL,
      id         INTEGER NOT NULL,
      seq        INTEGER NOT NULL,
      server_ms  INTEGER NOT NULL,
      user_id    TEXT NOT NULL,
      label      TEXT NOT NULL,
      data       BLOB NOT NULL,
      PRIMARY KEY (dataset_id, name, id)
    ) WITHOUT ROWID;
  )sql");
}

// Datasets' schemas (format 3 on).
void create_dataset_schema_table(sqlite::Connection& db) {
  db.exec(R"sql(
    CREATE TABLE IF NOT EXISTS dataset_schemas (
      dataset_id TEXT NOT NULL,
      revision   INTEGER NOT NULL,
      schema     TEXT NOT NULL,
      user_id    TEXT NOT NULL,
      server_ms  INTEGER NOT NULL,
      PRIMARY KEY (dataset_id, revision)
    ) WITHOUT ROWID;
  )sql");
}

// Compaction and retention (format 4 on): what each dataset dropped, and indexes of tombstones
// and history rows by age. `from` is the file's format before.
void add_compaction(sqlite::Connection& db, std::int64_t from) {
  if (from < 4) {
    db.exec(R"sql(
      ALTER TABLE datasets ADD COLUMN retained_seq INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE datasets ADD COLUMN floor_hlc INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE datasets ADD COLUMN floor_replica TEXT NOT NULL DEFAULT '';
    )sql");
  }
  db.exec(R"sql(
    CREATE INDEX IF NOT EXISTS entries_tombstones ON entries (dataset_id, hlc) WHERE value IS NULL;
    CREATE INDEX IF NOT EXISTS history_age ON history (server_ms) WHERE store <> '';
    CREATE INDEX IF NOT EXISTS audit_age ON history (server_ms) WHERE store = '';
  )sql");
}

void create_schema(sqlite::Connection& db) {
  db.exec(R"sql(
    CREATE TABLE server (
      id      INTEGER PRIMARY KEY CHECK (id = 1),
      replica TEXT NOT NULL,  -- unused: each cairnd process draws its own replica id
      hlc     INTEGER NOT NULL
    );
    CREATE TABLE users (
      id         TEXT PRIMARY KEY,
      kind       TEXT NOT NULL,
      google_sub TEXT UNIQUE,
      email      TEXT NOT NULL DEFAULT '',
      created_ms INTEGER NOT NULL
    );
    CREATE TABLE tokens (
      hash       TEXT PRIMARY KEY,
      user_id    TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      expires_ms INTEGER NOT NULL,
      revoked    INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE datasets (
      id         TEXT PRIMARY KEY,
      name       TEXT NOT NULL,
      owner      TEXT NOT NULL,
      personal   INTEGER NOT NULL,
      created_ms INTEGER NOT NULL,
      last_seq   INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX datasets_personal ON datasets (owner) WHERE personal = 1;
    CREATE TABLE members (
      dataset_id TEXT NOT NULL,
      user_id    TEXT NOT NULL,
      role       TEXT NOT NULL,
      PRIMARY KEY (dataset_id, user_id)
    );
    CREATE INDEX members_user ON members (user_id);
    CREATE TABLE entries (
      dataset_id     TEXT NOT NULL,
      store          TEXT NOT NULL,
      key            TEXT NOT NULL,
      value          TEXT,
      hlc            INTEGER NOT NULL,
      replica        TEXT NOT NULL,
      schema_version INTEGER NOT NULL,
      stamps         TEXT NOT NULL,
      seq            INTEGER NOT NULL,
      PRIMARY KEY (dataset_id, store, key)
    );
    CREATE INDEX entries_feed ON entries (dataset_id, seq);
    CREATE TABLE clients (
      dataset_id  TEXT NOT NULL,
      client_id   TEXT NOT NULL,
      applied_seq INTEGER NOT NULL,
      PRIMARY KEY (dataset_id, client_id)
    );
    CREATE TABLE history (
      id         INTEGER PRIMARY KEY,
      dataset_id TEXT NOT NULL,
      store      TEXT NOT NULL,
      key        TEXT NOT NULL,
      seq        INTEGER NOT NULL,
      user_id    TEXT NOT NULL,
      client_id  TEXT NOT NULL,
      client_seq INTEGER NOT NULL,
      hlc        INTEGER NOT NULL,
      replica    TEXT NOT NULL,
      server_ms  INTEGER NOT NULL,
      op         TEXT NOT NULL,
      payload    TEXT NOT NULL,
      outcome    TEXT NOT NULL,
      resolution TEXT NOT NULL
    );
    CREATE INDEX history_entry ON history (dataset_id, store, key, id);
  )sql");
  create_document_tables(db);
  create_dataset_schema_table(db);
  add_compaction(db, 3);
  db.exec("INSERT INTO server (id, replica, hlc) VALUES (1, '', 0)");
  db.exec(fmt::format("PRAGMA application_id = {}", kApplicationId));
  db.exec(fmt::format("PRAGMA user_version = {}", kFormat));
}

void configure(sqlite::Connection& db, Durability durability) {
  db.exec("PRAGMA busy_timeout = 10000");
  db.exec("PRAGMA journal_mode = WAL");
  db.set_durability(durability);
}

constexpr std::string_view kHistoryColumns =
    "SELECT id, dataset_id, store, key, seq, user_id, client_id, client_seq, hlc, replica, "
    "server_ms, op, payload, outcome, resolution FROM history ";

HistoryRow read_history(const sqlite::Statement& q) {
  return {q.column_int(0),
          std::string(q.column_text(1)),
          std::string(q.column_text(2)),
          std::string(q.column_text(3)),
          static_cast<std::uint64_t>(q.column_int(4)),
          std::string(q.column_text(5)),
          std::string(q.column_text(6)),
          static_cast<std::uint64_t>(q.column_int(7)),
          Timestamp::from_packed(static_cast<std::uint64_t>(q.column_int(8))),
          std::string(q.column_text(9)),
          q.column_int(10),
          std::string(q.column_text(11)),
          std::string(q.column_text(12)),
          std::string(q.column_text(13)),
          std::string(q.column_text(14))};
}

EntryRow read_entry(const sqlite::Statement& row, int first) {
  EntryRow entry;
  entry.store = row.column_text(first);
  entry.key = row.column_text(first + 1);
  if (!row.column_is_null(first + 2)) entry.value = std::string(row.column_text(first + 2));
  entry.hlc = Timestamp::from_packed(static_cast<std::uint64_t>(row.column_int(first + 3)));
  entry.replica = row.column_text(first + 4);
  entry.schema_version = static_cast<std::uint32_t>(row.column_int(first + 5));
  entry.stamps = row.column_text(first + 6);
  entry.seq = static_cast<std::uint64_t>(row.column_int(first + 7));
  return entry;
}

// Every row `q` gives (kEntryColumns), then `q` reset.
std::vector<EntryRow> read_entries(sqlite::Statement& q) {
  std::vector<EntryRow> rows;
  while (q.step())
    rows.push_back(read_entry(q, 0));
  q.reset();
  return rows;
}

constexpr const char* kEntryColumns =
    "store, key, value, hlc, replica, schema_version, stamps, seq";

DatasetRow read_dataset(const sqlite::Statement& row) {
  return {std::string(row.column_text(0)),
          std::string(row.column_text(1)),
          std::string(row.column_text(2)),
          row.column_int(3) != 0,
          row.column_int(4),
          static_cast<std::uint64_t>(row.column_int(5)),
          static_cast<std::uint64_t>(row.column_int(6)),
          Timestamp::from_packed(static_cast<std::uint64_t>(row.column_int(7))),
          std::string(row.column_text(8))};
}

constexpr const char* kDatasetColumns =
    "id, name, owner, personal, created_ms, last_seq, retained_seq, floor_hlc, floor_replica";

// "a, b, c" of a table's column names, and "?1, ?2, ?3" (from `first`).
std::string column_list(const std::vector<std::string_view>& columns) {
  return fmt::format("{}", fmt::join(columns, ", "));
}
std::string placeholders(std::size_t count, std::size_t first = 1) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i)
    out += fmt::format("{}?{}", i == 0 ? "" : ", ", first + i);
  return out;
}

class SqliteTransaction final : public StorageTransaction {
 public:
  // `release` gives the connection back (read pool) or unlocks the writer.
  SqliteTransaction(sqlite::Connection& db, bool write, std::function<void()> release)
      : db_(db), release_(std::move(release)) {
    db_.exec(write ? "BEGIN IMMEDIATE" : "BEGIN");
  }
  ~SqliteTransaction() override {
    if (open_) {
      try {
        db_.exec("ROLLBACK");
      } catch (...) {
        // SQLite rolls back by itself when it cannot; nothing more to do.
      }
    }
    release_();
  }

  void commit() override {
    db_.exec("COMMIT");
    open_ = false;
  }

  Timestamp clock() override {
    auto& q = db_.cached("SELECT hlc FROM server WHERE id = 1");
    const auto packed = q.step() ? static_cast<std::uint64_t>(q.column_int(0)) : 0;
    q.reset();
    return Timestamp::from_packed(packed);
  }

  void save_clock(Timestamp hlc) override {
    db_.cached("UPDATE server SET hlc = ?1 WHERE id = 1 AND hlc < ?1")
        .bind(1, static_cast<std::int64_t>(hlc.packed()))
        .run();
  }

  void insert_user(const UserRow& user) override {
    auto& q = db_.cached(
        "INSERT INTO users (id, kind, google_sub, email, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)");
    q.bind(1, user.id).bind(2, user.kind);
    if (user.google_sub.empty()) {
      q.bind_null(3);
    } else {
      q.bind(3, user.google_sub);
    }
    q.bind(4, user.email).bind(5, user.created_ms).run();
  }

  std::optional<UserRow> user(std::string_view id) override {
    return find_user("SELECT id, kind, google_sub, email, created_ms FROM users WHERE id = ?1", id);
  }

  std::optional<UserRow> user_by_google(std::string_view sub) override {
    return find_user(
        "SELECT id, kind, google_sub, email, created_ms FROM users WHERE google_sub = ?1", sub);
  }

  void link_google(std::string_view user_id, std::string_view sub,
                   std::string_view email) override {
    db_.cached("UPDATE users SET kind = 'google', google_sub = ?2, email = ?3 WHERE id = ?1")
        .bind(1, user_id)
        .bind(2, sub)
        .bind(3, email)
        .run();
  }

  void insert_token(const TokenRow& token) override {
    db_.cached(
           "INSERT INTO tokens (hash, user_id, created_ms, expires_ms, revoked) "
           "VALUES (?1, ?2, ?3, ?4, 0)")
        .bind(1, token.hash)
        .bind(2, token.user_id)
        .bind(3, token.created_ms)
        .bind(4, token.expires_ms)
        .run();
  }

  std::optional<TokenRow> token(std::string_view hash) override {
    auto& q = db_.cached(
        "SELECT hash, user_id, created_ms, expires_ms, revoked FROM tokens WHERE hash = ?1");
    q.bind(1, hash);
    std::optional<TokenRow> row;
    if (q.step()) {
      row = TokenRow{std::string(q.column_text(0)), std::string(q.column_text(1)), q.column_int(2),
                     q.column_int(3), q.column_int(4) != 0};
    }
    q.reset();
    return row;
  }

  void revoke_token(std::string_view hash) override {
    db_.cached("UPDATE tokens SET revoked = 1 WHERE hash = ?1").bind(1, hash).run();
  }

  void insert_dataset(const DatasetRow& dataset) override {
    db_.cached(
           "INSERT INTO datasets (id, name, owner, personal, created_ms, last_seq) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(1, dataset.id)
        .bind(2, dataset.name)
        .bind(3, dataset.owner)
        .bind(4, std::int64_t{dataset.personal})
        .bind(5, dataset.created_ms)
        .bind(6, static_cast<std::int64_t>(dataset.last_seq))
        .run();
  }

  std::optional<DatasetRow> dataset(std::string_view id) override {
    static const std::string sql =
        fmt::format("SELECT {} FROM datasets WHERE id = ?1", kDatasetColumns);
    return find_dataset(sql, id);
  }

  std::optional<DatasetRow> personal_dataset(std::string_view user_id) override {
    static const std::string sql =
        fmt::format("SELECT {} FROM datasets WHERE owner = ?1 AND personal = 1", kDatasetColumns);
    return find_dataset(sql, user_id);
  }

  void set_last_seq(std::string_view dataset_id, std::uint64_t seq) override {
    db_.cached("UPDATE datasets SET last_seq = ?2 WHERE id = ?1")
        .bind(1, dataset_id)
        .bind(2, static_cast<std::int64_t>(seq))
        .run();
  }
  std::uint64_t advance_feeds(std::uint64_t by) override {
    db_.prepare("UPDATE datasets SET last_seq = last_seq + ?1")
        .bind(1, static_cast<std::int64_t>(by))
        .run();
    return static_cast<std::uint64_t>(db_.query_int("SELECT count(*) FROM datasets"));
  }

  void set_member(std::string_view dataset_id, std::string_view user_id, Role role) override {
    db_.cached(
           "INSERT INTO members (dataset_id, user_id, role) VALUES (?1, ?2, ?3) "
           "ON CONFLICT (dataset_id, user_id) DO UPDATE SET role = excluded.role")
        .bind(1, dataset_id)
        .bind(2, user_id)
        .bind(3, role_name(role))
        .run();
  }

  void remove_member(std::string_view dataset_id, std::string_view user_id) override {
    db_.cached("DELETE FROM members WHERE dataset_id = ?1 AND user_id = ?2")
        .bind(1, dataset_id)
        .bind(2, user_id)
        .run();
  }

  std::optional<Role> role(std::string_view dataset_id, std::string_view user_id) override {
    auto& q = db_.cached("SELECT role FROM members WHERE dataset_id = ?1 AND user_id = ?2");
    q.bind(1, dataset_id).bind(2, user_id);
    std::optional<Role> role;
    if (q.step()) role = role_from_name(q.column_text(0));
    q.reset();
    return role;
  }

  std::vector<std::pair<DatasetRow, Role>> datasets_of(std::string_view user_id) override {
    auto& q = db_.cached(
        "SELECT d.id, d.name, d.owner, d.personal, d.created_ms, d.last_seq, d.retained_seq, "
        "d.floor_hlc, d.floor_replica, m.role "
        "FROM members m JOIN datasets d ON d.id = m.dataset_id WHERE m.user_id = ?1 "
        "ORDER BY d.created_ms, d.id");
    q.bind(1, user_id);
    std::vector<std::pair<DatasetRow, Role>> rows;
    while (q.step()) {
      rows.emplace_back(read_dataset(q), role_from_name(q.column_text(9)).value_or(Role::viewer));
    }
    q.reset();
    return rows;
  }

  std::vector<std::pair<std::string, Role>> members(std::string_view dataset_id) override {
    auto& q =
        db_.cached("SELECT user_id, role FROM members WHERE dataset_id = ?1 ORDER BY user_id");
    q.bind(1, dataset_id);
    std::vector<std::pair<std::string, Role>> rows;
    while (q.step()) {
      rows.emplace_back(std::string(q.column_text(0)),
                        role_from_name(q.column_text(1)).value_or(Role::viewer));
    }
    q.reset();
    return rows;
  }

  std::vector<std::optional<EntryRow>> entries(std::string_view dataset_id,
                                               const std::vector<EntryKey>& keys) override {
    static const std::string sql = fmt::format(
        "SELECT {} FROM entries WHERE dataset_id = ?1 AND store = ?2 AND key = ?3", kEntryColumns);
    auto& q = db_.cached(sql);
    std::vector<std::optional<EntryRow>> rows;
    rows.reserve(keys.size());
    for (const EntryKey& key : keys) {
      q.bind(1, dataset_id).bind(2, key.store).bind(3, key.key);
      std::optional<EntryRow>& row = rows.emplace_back();
      if (q.step()) row = read_entry(q, 0);
      q.reset();
    }
    return rows;
  }

  void put_entries(std::string_view dataset_id, const std::vector<EntryRow>& entries) override {
    auto& q = db_.cached(
        "INSERT INTO entries (dataset_id, store, key, value, hlc, replica, schema_version, "
        "stamps, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
        "ON CONFLICT (dataset_id, store, key) DO UPDATE SET value = excluded.value, "
        "hlc = excluded.hlc, replica = excluded.replica, "
        "schema_version = excluded.schema_version, stamps = excluded.stamps, seq = excluded.seq");
    for (const EntryRow& entry : entries) {
      q.bind(1, dataset_id).bind(2, entry.store).bind(3, entry.key);
      if (entry.value) {
        q.bind(4, *entry.value);
      } else {
        q.bind_null(4);
      }
      q.bind(5, static_cast<std::int64_t>(entry.hlc.packed()))
          .bind(6, entry.replica)
          .bind(7, std::int64_t{entry.schema_version})
          .bind(8, entry.stamps)
          .bind(9, static_cast<std::int64_t>(entry.seq))
          .run();
    }
  }

  std::vector<EntryRow> changes_since(std::string_view dataset_id, std::uint64_t after_seq,
                                      std::size_t limit) override {
    static const std::string sql = fmt::format(
        "SELECT {} FROM entries WHERE dataset_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        kEntryColumns);
    auto& q = db_.cached(sql);
    q.bind(1, dataset_id)
        .bind(2, static_cast<std::int64_t>(after_seq))
        .bind(3, static_cast<std::int64_t>(limit));
    return read_entries(q);
  }

  std::vector<EntryRow> all_entries(std::string_view dataset_id) override {
    static const std::string sql = fmt::format(
        "SELECT {} FROM entries WHERE dataset_id = ?1 ORDER BY store, key", kEntryColumns);
    auto& q = db_.cached(sql);
    q.bind(1, dataset_id);
    return read_entries(q);
  }

  std::vector<EntryRow> store_entries(std::string_view dataset_id, std::string_view store,
                                      std::string_view first, std::string_view last) override {
    // Two statements, so that each is one range scan of the primary key.
    static const std::string bounded = fmt::format(
        "SELECT {} FROM entries WHERE dataset_id = ?1 AND store = ?2 AND key >= ?3 AND key <= ?4 "
        "ORDER BY key",
        kEntryColumns);
    static const std::string open_ended = fmt::format(
        "SELECT {} FROM entries WHERE dataset_id = ?1 AND store = ?2 AND key >= ?3 ORDER BY key",
        kEntryColumns);
    auto& q = db_.cached(last.empty() ? open_ended : bounded);
    q.bind(1, dataset_id).bind(2, store).bind(3, first);
    if (!last.empty()) q.bind(4, last);
    return read_entries(q);
  }

  bool store_changed_since(std::string_view dataset_id, std::string_view store,
                           std::uint64_t after_seq) override {
    auto& q = db_.cached(
        "SELECT EXISTS (SELECT 1 FROM entries WHERE dataset_id = ?1 AND seq > ?2 AND store = ?3)");
    q.bind(1, dataset_id).bind(2, static_cast<std::int64_t>(after_seq)).bind(3, store);
    q.step();
    const bool changed = q.column_int(0) != 0;
    q.reset();
    return changed;
  }

  std::vector<std::string> datasets_with_tombstones(Timestamp before, std::string_view after,
                                                    std::size_t limit) override {
    auto& q = db_.cached(
        "SELECT DISTINCT dataset_id FROM entries WHERE value IS NULL AND hlc < ?1 "
        "AND dataset_id > ?2 ORDER BY dataset_id LIMIT ?3");
    q.bind(1, static_cast<std::int64_t>(before.packed()))
        .bind(2, after)
        .bind(3, static_cast<std::int64_t>(limit));
    std::vector<std::string> ids;
    while (q.step())
      ids.emplace_back(q.column_text(0));
    q.reset();
    return ids;
  }

  std::vector<EntryRow> tombstones_before(std::string_view dataset_id, Timestamp before,
                                          std::size_t limit) override {
    static const std::string sql = fmt::format(
        "SELECT {} FROM entries WHERE dataset_id = ?1 AND value IS NULL AND hlc < ?2 "
        "ORDER BY hlc LIMIT ?3",
        kEntryColumns);
    auto& q = db_.cached(sql);
    q.bind(1, dataset_id)
        .bind(2, static_cast<std::int64_t>(before.packed()))
        .bind(3, static_cast<std::int64_t>(limit));
    return read_entries(q);
  }

  void erase_entries(std::string_view dataset_id, const std::vector<EntryKey>& keys) override {
    auto& q = db_.cached("DELETE FROM entries WHERE dataset_id = ?1 AND store = ?2 AND key = ?3");
    for (const EntryKey& key : keys)
      q.bind(1, dataset_id).bind(2, key.store).bind(3, key.key).run();
  }

  void set_compaction(std::string_view dataset_id, std::uint64_t retained_seq, Timestamp floor_hlc,
                      std::string_view floor_replica) override {
    db_.cached(
           "UPDATE datasets SET retained_seq = ?2, floor_hlc = ?3, floor_replica = ?4 "
           "WHERE id = ?1")
        .bind(1, dataset_id)
        .bind(2, static_cast<std::int64_t>(retained_seq))
        .bind(3, static_cast<std::int64_t>(floor_hlc.packed()))
        .bind(4, floor_replica)
        .run();
  }

  std::uint64_t applied_seq(std::string_view dataset_id, std::string_view client_id) override {
    auto& q =
        db_.cached("SELECT applied_seq FROM clients WHERE dataset_id = ?1 AND client_id = ?2");
    q.bind(1, dataset_id).bind(2, client_id);
    const auto seq = q.step() ? static_cast<std::uint64_t>(q.column_int(0)) : 0;
    q.reset();
    return seq;
  }

  void set_applied_seq(std::string_view dataset_id, std::string_view client_id,
                       std::uint64_t seq) override {
    db_.cached(
           "INSERT INTO clients (dataset_id, client_id, applied_seq) VALUES (?1, ?2, ?3) "
           "ON CONFLICT (dataset_id, client_id) DO UPDATE SET applied_seq = excluded.applied_seq")
        .bind(1, dataset_id)
        .bind(2, client_id)
        .bind(3, static_cast<std::int64_t>(seq))
        .run();
  }

  void append_history(const std::vector<HistoryRow>& rows) override {
    auto& q = db_.cached(
        "INSERT INTO history (dataset_id, store, key, seq, user_id, client_id, client_seq, hlc, "
        "replica, server_ms, op, payload, outcome, resolution) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    for (const HistoryRow& row : rows) {
      q.bind(1, row.dataset_id)
          .bind(2, row.store)
          .bind(3, row.key)
          .bind(4, static_cast<std::int64_t>(row.seq))
          .bind(5, row.user_id)
          .bind(6, row.client_id)
          .bind(7, static_cast<std::int64_t>(row.client_seq))
          .bind(8, static_cast<std::int64_t>(row.hlc.packed()))
          .bind(9, row.replica)
          .bind(10, row.server_ms)
          .bind(11, row.op)
          .bind(12, row.payload)
          .bind(13, row.outcome)
          .bind(14, row.resolution)
          .run();
    }
  }

  std::vector<HistoryRow> history(std::string_view dataset_id, std::string_view store,
                                  std::string_view key, std::size_t limit) override {
    static const std::string sql = std::string(kHistoryColumns) +
                                   "WHERE dataset_id = ?1 AND store = ?2 AND key = ?3 ORDER BY id "
                                   "LIMIT ?4";
    auto& q = db_.cached(sql);
    q.bind(1, dataset_id).bind(2, store).bind(3, key).bind(4, static_cast<std::int64_t>(limit));
    std::vector<HistoryRow> rows;
    while (q.step())
      rows.push_back(read_history(q));
    q.reset();
    return rows;
  }

  std::optional<HistoryRow> client_change(std::string_view dataset_id, std::string_view store,
                                          std::string_view key, std::string_view client_id,
                                          std::uint64_t client_seq) override {
    // Through the entry's history, newest first: a resent change is usually a recent one.
    static const std::string sql = std::string(kHistoryColumns) +
                                   "WHERE dataset_id = ?1 AND store = ?2 AND key = ?3 AND "
                                   "client_id = ?4 AND client_seq = ?5 ORDER BY id DESC LIMIT 1";
    auto& q = db_.cached(sql);
    q.bind(1, dataset_id)
        .bind(2, store)
        .bind(3, key)
        .bind(4, client_id)
        .bind(5, static_cast<std::int64_t>(client_seq));
    std::optional<HistoryRow> row;
    if (q.step()) row = read_history(q);
    q.reset();
    return row;
  }

  std::size_t drop_history(bool audit, std::int64_t before_ms, std::size_t limit) override {
    auto& q = db_.cached(audit ? "DELETE FROM history WHERE id IN (SELECT id FROM history WHERE "
                                 "store = '' AND server_ms < ?1 LIMIT ?2) "
                                 "AND id < (SELECT max(id) FROM history)"
                               : "DELETE FROM history WHERE id IN (SELECT id FROM history WHERE "
                                 "store <> '' AND server_ms < ?1 LIMIT ?2) "
                                 "AND id < (SELECT max(id) FROM history)");
    q.bind(1, before_ms).bind(2, static_cast<std::int64_t>(limit)).run();
    return static_cast<std::size_t>(db_.changes());
  }

  std::size_t trim_history(std::size_t keep, std::int64_t before_ms, std::size_t limit) override {
    // An entry over the count with a row old enough: its oldest row is beyond the newest `keep`.
    auto& over = db_.cached(
        "SELECT dataset_id, store, key FROM history WHERE store <> '' "
        "GROUP BY dataset_id, store, key HAVING count(*) > ?1 AND min(server_ms) < ?3 LIMIT ?2");
    over.bind(1, static_cast<std::int64_t>(keep))
        .bind(2, static_cast<std::int64_t>(limit))
        .bind(3, before_ms);
    std::vector<std::array<std::string, 3>> keys;
    while (over.step()) {
      keys.push_back({std::string(over.column_text(0)), std::string(over.column_text(1)),
                      std::string(over.column_text(2))});
    }
    over.reset();
    auto& trim = db_.cached(
        "DELETE FROM history WHERE id IN (SELECT id FROM history WHERE dataset_id = ?1 AND "
        "store = ?2 AND key = ?3 ORDER BY id DESC LIMIT -1 OFFSET ?4) AND server_ms < ?5");
    std::size_t removed = 0;
    for (const auto& [dataset_id, store, key] : keys) {
      trim.bind(1, dataset_id)
          .bind(2, store)
          .bind(3, key)
          .bind(4, static_cast<std::int64_t>(keep))
          .bind(5, before_ms)
          .run();
      removed += static_cast<std::size_t>(db_.changes());
    }
    return removed;
  }

  std::size_t drop_snapshots(std::int64_t before_ms, std::size_t limit) override {
    db_.cached(
           "DELETE FROM document_snapshots WHERE (dataset_id, name, id) IN (SELECT dataset_id, "
           "name, id FROM document_snapshots s WHERE server_ms < ?1 AND id < (SELECT max(id) "
           "FROM document_snapshots n WHERE n.dataset_id = s.dataset_id AND n.name = s.name) "
           "LIMIT ?2)")
        .bind(1, before_ms)
        .bind(2, static_cast<std::int64_t>(limit))
        .run();
    return static_cast<std::size_t>(db_.changes());
  }

  std::size_t trim_snapshots(std::size_t keep, std::size_t limit) override {
    keep = std::max<std::size_t>(keep, 1);
    auto& over = db_.cached(
        "SELECT dataset_id, name FROM document_snapshots GROUP BY dataset_id, name "
        "HAVING count(*) > ?1 LIMIT ?2");
    over.bind(1, static_cast<std::int64_t>(keep)).bind(2, static_cast<std::int64_t>(limit));
    std::vector<std::pair<std::string, std::string>> documents;
    while (over.step())
      documents.emplace_back(over.column_text(0), over.column_text(1));
    over.reset();
    auto& trim = db_.cached(
        "DELETE FROM document_snapshots WHERE dataset_id = ?1 AND name = ?2 AND id IN (SELECT id "
        "FROM document_snapshots WHERE dataset_id = ?1 AND name = ?2 ORDER BY id DESC "
        "LIMIT -1 OFFSET ?3)");
    std::size_t removed = 0;
    for (const auto& [dataset_id, name] : documents) {
      trim.bind(1, dataset_id).bind(2, name).bind(3, static_cast<std::int64_t>(keep)).run();
      removed += static_cast<std::size_t>(db_.changes());
    }
    return removed;
  }

  Holdings holdings(std::uint64_t near_bytes) override {
    Holdings holdings;
    auto& stores = db_.cached(
        "SELECT store, sum(live), sum(dead), sum(bytes), max(bytes), sum(bytes >= ?1) FROM "
        "(SELECT dataset_id, store, count(value) AS live, count(*) - count(value) AS dead, "
        "coalesce(sum(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0) AS bytes "
        "FROM entries GROUP BY dataset_id, store) GROUP BY store ORDER BY store");
    stores.bind(1, static_cast<std::int64_t>(near_bytes));
    while (stores.step()) {
      const auto at = [&](int column) {
        return static_cast<std::uint64_t>(stores.column_int(column));
      };
      holdings.stores.push_back(
          {std::string(stores.column_text(0)), at(1), at(2), at(3), at(4), at(5)});
    }
    stores.reset();
    const auto count = [&](const char* sql) {
      return static_cast<std::uint64_t>(db_.query_int(sql));
    };
    holdings.history_rows = count("SELECT count(*) FROM history WHERE store <> ''");
    holdings.audit_rows = count("SELECT count(*) FROM history WHERE store = ''");
    holdings.documents =
        count("SELECT count(*) FROM (SELECT DISTINCT dataset_id, name FROM document_updates)");
    holdings.document_log_bytes =
        count("SELECT coalesce(sum(length(data)), 0) FROM document_updates");
    holdings.snapshots = count("SELECT count(*) FROM document_snapshots");
    holdings.snapshot_bytes =
        count("SELECT coalesce(sum(length(data)), 0) FROM document_snapshots");
    return holdings;
  }

  std::vector<DocumentUpdateRow> document_updates(std::string_view dataset_id,
                                                  std::string_view name,
                                                  std::uint64_t after_seq) override {
    auto& q = db_.cached(
        "SELECT seq, data, user_id, server_ms FROM document_updates "
        "WHERE dataset_id = ?1 AND name = ?2 AND seq > ?3 ORDER BY seq");
    q.bind(1, dataset_id).bind(2, name).bind(3, static_cast<std::int64_t>(after_seq));
    std::vector<DocumentUpdateRow> rows;
    while (q.step()) {
      rows.push_back({static_cast<std::uint64_t>(q.column_int(0)), std::string(q.column_blob(1)),
                      std::string(q.column_text(2)), q.column_int(3)});
    }
    q.reset();
    return rows;
  }

  std::uint64_t append_document_update(std::string_view dataset_id, std::string_view name,
                                       const DocumentUpdateRow& row) override {
    const std::uint64_t seq = next_number("document_updates", "seq", dataset_id, name);
    db_.cached(
           "INSERT INTO document_updates (dataset_id, name, seq, data, user_id, server_ms) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(1, dataset_id)
        .bind(2, name)
        .bind(3, static_cast<std::int64_t>(seq))
        .bind_blob(4, row.data)
        .bind(5, row.user_id)
        .bind(6, row.server_ms)
        .run();
    return seq;
  }

  void compact_document(std::string_view dataset_id, std::string_view name,
                        std::uint64_t through_seq, std::string_view merged) override {
    db_.cached("DELETE FROM document_updates WHERE dataset_id = ?1 AND name = ?2 AND seq <= ?3")
        .bind(1, dataset_id)
        .bind(2, name)
        .bind(3, static_cast<std::int64_t>(through_seq))
        .run();
    db_.cached(
           "INSERT INTO document_updates (dataset_id, name, seq, data, user_id, server_ms) "
           "VALUES (?1, ?2, ?3, ?4, '', 0)")
        .bind(1, dataset_id)
        .bind(2, name)
        .bind(3, static_cast<std::int64_t>(through_seq))
        .bind_blob(4, merged)
        .run();
  }

  std::uint64_t add_document_snapshot(std::string_view dataset_id, std::string_view name,
                                      const DocumentSnapshotRow& snapshot) override {
    const std::uint64_t id = next_number("document_snapshots", "id", dataset_id, name);
    db_.cached(
           "INSERT INTO document_snapshots (dataset_id, name, id, seq, server_ms, user_id, "
           "label, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
        .bind(1, dataset_id)
        .bind(2, name)
        .bind(3, static_cast<std::int64_t>(id))
        .bind(4, static_cast<std::int64_t>(snapshot.seq))
        .bind(5, snapshot.server_ms)
        .bind(6, snapshot.user_id)
        .bind(7, snapshot.label)
        .bind_blob(8, snapshot.data)
        .run();
    return id;
  }

  std::vector<DocumentSnapshotRow> document_snapshots(std::string_view dataset_id,
                                                      std::string_view name) override {
    auto& q = db_.cached(
        "SELECT id, seq, server_ms, user_id, label FROM document_snapshots "
        "WHERE dataset_id = ?1 AND name = ?2 ORDER BY id");
    q.bind(1, dataset_id).bind(2, name);
    std::vector<DocumentSnapshotRow> rows;
    while (q.step()) {
      rows.push_back({static_cast<std::uint64_t>(q.column_int(0)),
                      static_cast<std::uint64_t>(q.column_int(1)),
                      q.column_int(2),
                      std::string(q.column_text(3)),
                      std::string(q.column_text(4)),
                      {}});
    }
    q.reset();
    return rows;
  }

  std::optional<DocumentSnapshotRow> document_snapshot(std::string_view dataset_id,
                                                       std::string_view name,
                                                       std::uint64_t id) override {
    auto& q = db_.cached(
        "SELECT id, seq, server_ms, user_id, label, data FROM document_snapshots "
        "WHERE dataset_id = ?1 AND name = ?2 AND id = ?3");
    q.bind(1, dataset_id).bind(2, name).bind(3, static_cast<std::int64_t>(id));
    std::optional<DocumentSnapshotRow> row;
    if (q.step()) {
      row = DocumentSnapshotRow{static_cast<std::uint64_t>(q.column_int(0)),
                                static_cast<std::uint64_t>(q.column_int(1)),
                                q.column_int(2),
                                std::string(q.column_text(3)),
                                std::string(q.column_text(4)),
                                std::string(q.column_blob(5))};
    }
    q.reset();
    return row;
  }

  std::optional<DatasetSchemaRow> dataset_schema(std::string_view dataset_id) override {
    auto& q = db_.cached(
        "SELECT revision, schema, user_id, server_ms FROM dataset_schemas "
        "WHERE dataset_id = ?1 ORDER BY revision DESC LIMIT 1");
    q.bind(1, dataset_id);
    std::optional<DatasetSchemaRow> row;
    if (q.step()) {
      row = DatasetSchemaRow{static_cast<std::uint64_t>(q.column_int(0)),
                             std::string(q.column_text(1)), std::string(q.column_text(2)),
                             q.column_int(3)};
    }
    q.reset();
    return row;
  }

  void add_dataset_schema(std::string_view dataset_id, const DatasetSchemaRow& row) override {
    db_.cached(
           "INSERT INTO dataset_schemas (dataset_id, revision, schema, user_id, server_ms) "
           "VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(1, dataset_id)
        .bind(2, static_cast<std::int64_t>(row.revision))
        .bind(3, row.schema)
        .bind(4, row.user_id)
        .bind(5, row.server_ms)
        .run();
  }

  std::vector<StoreVersionCount> entry_versions(std::string_view dataset_id) override {
    auto& q = db_.cached(
        "SELECT store, schema_version, count(*) FROM entries "
        "WHERE dataset_id = ?1 AND value IS NOT NULL "
        "GROUP BY store, schema_version ORDER BY store, schema_version");
    q.bind(1, dataset_id);
    std::vector<StoreVersionCount> rows;
    while (q.step()) {
      rows.push_back({std::string(q.column_text(0)), static_cast<std::uint32_t>(q.column_int(1)),
                      static_cast<std::uint64_t>(q.column_int(2))});
    }
    q.reset();
    return rows;
  }

  std::vector<StoredRow> table_rows(const StoredTable& table, const StoredRow& after,
                                    std::size_t limit) override {
    const std::string keys = column_list(table.key);
    std::vector<std::string> columns;
    for (std::string_view column : table.columns) {
      columns.push_back(table.is_binary(column) ? fmt::format("lower(hex({}))", column)
                                                : std::string(column));
    }
    std::string sql = fmt::format("SELECT {} FROM {}", fmt::join(columns, ", "), table.name);
    if (!after.empty()) sql += fmt::format(" WHERE ({}) > ({})", keys, placeholders(after.size()));
    sql += fmt::format(" ORDER BY {} LIMIT {}", keys, limit);
    sqlite::Statement& q = db_.cached(sql);
    for (std::size_t i = 0; i < after.size(); ++i)
      q.bind(static_cast<int>(i + 1), after[i].value());  // key columns are never NULL
    std::vector<StoredRow> rows;
    while (q.step()) {
      StoredRow& row = rows.emplace_back();
      for (int c = 0; c < static_cast<int>(table.columns.size()); ++c) {
        row.push_back(q.column_is_null(c) ? std::nullopt
                                          : std::optional<std::string>(q.column_text(c)));
      }
    }
    q.reset();
    return rows;
  }

  void insert_rows(const StoredTable& table, const std::vector<StoredRow>& rows) override {
    sqlite::Statement& insert =
        db_.cached(fmt::format("INSERT INTO {} ({}) VALUES ({})", table.name,
                               column_list(table.columns), placeholders(table.columns.size())));
    for (const StoredRow& row : rows) {
      std::vector<std::string> bytes(row.size());  // bound, so alive until the insert has run
      for (std::size_t c = 0; c < row.size(); ++c) {
        // Text into INTEGER columns is stored as the integer (SQLite's column affinity).
        if (row[c] && table.is_binary(table.columns[c])) {
          bytes[c] = stored_bytes(*row[c]);
          insert.bind_blob(static_cast<int>(c + 1), bytes[c]);
        } else if (row[c]) {
          insert.bind(static_cast<int>(c + 1), *row[c]);
        } else {
          insert.bind_null(static_cast<int>(c + 1));
        }
      }
      insert.run();
    }
  }

 private:
  // One more than the greatest `column` of a document's rows in `table` (1 for the first).
  std::uint64_t next_number(std::string_view table, std::string_view column,
                            std::string_view dataset_id, std::string_view name) {
    auto& last = db_.cached(fmt::format(
        "SELECT coalesce(max({}), 0) FROM {} WHERE dataset_id = ?1 AND name = ?2", column, table));
    last.bind(1, dataset_id).bind(2, name);
    last.step();
    const auto next = static_cast<std::uint64_t>(last.column_int(0)) + 1;
    last.reset();
    return next;
  }

  std::optional<UserRow> find_user(const std::string& sql, std::string_view value) {
    auto& q = db_.cached(sql);
    q.bind(1, value);
    std::optional<UserRow> row;
    if (q.step()) {
      row = UserRow{std::string(q.column_text(0)), std::string(q.column_text(1)),
                    std::string(q.column_text(2)), std::string(q.column_text(3)), q.column_int(4)};
    }
    q.reset();
    return row;
  }

  std::optional<DatasetRow> find_dataset(const std::string& sql, std::string_view value) {
    auto& q = db_.cached(sql);
    q.bind(1, value);
    std::optional<DatasetRow> row;
    if (q.step()) row = read_dataset(q);
    q.reset();
    return row;
  }

  sqlite::Connection& db_;
  std::function<void()> release_;
  bool open_ = true;
};

}  // namespace

struct SqliteStorage::Pool {
  std::filesystem::path path;
  std::mutex write_mutex;
  std::unique_ptr<sqlite::Connection> writer;
  std::mutex readers_mutex;
  std::vector<std::unique_ptr<sqlite::Connection>> idle_readers;
};

SqliteStorage::SqliteStorage(const std::filesystem::path& file, Durability durability)
    : pool_(std::make_unique<Pool>()) {
  pool_->path = file;
  std::error_code missing;
  const bool exists =
      std::filesystem::exists(file, missing) && std::filesystem::file_size(file, missing) > 0;
  pool_->writer =
      std::make_unique<sqlite::Connection>(file, sqlite::Connection::Mode::read_write_create);
  sqlite::Connection& db = *pool_->writer;
  configure(db, durability);
  if (!exists) {
    sqlite::TransactionGuard guard(db, sqlite::TransactionGuard::Kind::immediate);
    create_schema(db);
    guard.commit();
  }
  const std::int64_t application_id = db.query_int("PRAGMA application_id");
  const std::int64_t format = db.query_int("PRAGMA user_version");
  if (application_id != kApplicationId) {
    throw Error(ErrorCode::not_a_cairn_database,
                fmt::format("'{}' is not a cairnd database", file.string()));
  }
  if (format > kFormat) {
    throw Error(ErrorCode::format_too_new,
                fmt::format("'{}' has format {}; this cairnd reads format {}", file.string(),
                            format, kFormat));
  }
  if (format < kFormat) {
    sqlite::TransactionGuard guard(db, sqlite::TransactionGuard::Kind::immediate);
    create_document_tables(db);
    create_dataset_schema_table(db);
    add_compaction(db, format);
    db.exec(fmt::format("PRAGMA user_version = {}", kFormat));
    guard.commit();
  }
}

SqliteStorage::~SqliteStorage() = default;

std::unique_ptr<StorageTransaction> SqliteStorage::begin(bool write) {
  if (write) {
    auto lock = std::make_shared<std::unique_lock<std::mutex>>(pool_->write_mutex);
    return std::make_unique<SqliteTransaction>(*pool_->writer, true, [lock] { lock->unlock(); });
  }
  std::unique_ptr<sqlite::Connection> reader;
  {
    std::lock_guard lock(pool_->readers_mutex);
    if (!pool_->idle_readers.empty()) {
      reader = std::move(pool_->idle_readers.back());
      pool_->idle_readers.pop_back();
    }
  }
  if (!reader) {
    reader =
        std::make_unique<sqlite::Connection>(pool_->path, sqlite::Connection::Mode::read_write);
    reader->exec("PRAGMA busy_timeout = 10000");
    reader->exec("PRAGMA query_only = 1");
  }
  sqlite::Connection* raw = reader.release();
  Pool* pool = pool_.get();
  return std::make_unique<SqliteTransaction>(*raw, false, [pool, raw] {
    std::lock_guard lock(pool->readers_mutex);
    pool->idle_readers.emplace_back(raw);
  });
}

std::string stored_bytes(std::string_view hex) {
  const auto nibble = [&](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw Error(ErrorCode::invalid_value, "a binary column's text is not hex");
  };
  if (hex.size() % 2 != 0) throw Error(ErrorCode::invalid_value, "hex of an odd length");
  std::string bytes(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return bytes;
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::viewer:
      return "viewer";
    case Role::editor:
      return "editor";
    case Role::owner:
      return "owner";
  }
  return "viewer";
}

std::optional<Role> role_from_name(std::string_view name) {
  if (name == "viewer") return Role::viewer;
  if (name == "editor") return Role::editor;
  if (name == "owner") return Role::owner;
  return std::nullopt;
}

}  // namespace cairn::server
