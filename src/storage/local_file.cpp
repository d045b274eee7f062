#include "storage/local_file.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <cairn/error.hpp>
#include <cstdio>
#include <cstring>
#include <optional>

namespace cairn {
namespace {

std::string new_replica_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    throw Error(ErrorCode::io_error, "cannot draw random bytes for a replica id");
  }
  std::string id;
  id.reserve(2 * sizeof bytes);
  for (unsigned char b : bytes)
    id += fmt::format("{:02x}", b);
  return id;
}

bool is_missing_or_empty(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error || size == 0;
}

// Throws unless (application_id, format) identify a Cairn file this build can read.
void check_identity(const std::filesystem::path& path, std::int64_t application_id,
                    std::int64_t format) {
  if (application_id != LocalFile::kApplicationId) {
    throw Error(ErrorCode::not_a_cairn_database,
                fmt::format("'{}' is a SQLite database but not a Cairn database (application_id "
                            "{:#x}); it was left untouched",
                            path.string(), application_id));
  }
  if (format > LocalFile::kFormat) {
    throw Error(
        ErrorCode::format_too_new,
        fmt::format("'{}' has file format {}, but this build of Cairn reads formats {} to "
                    "{}; upgrade Cairn to open it",
                    path.string(), format, LocalFile::kMinReadableFormat, LocalFile::kFormat));
  }
  if (format < LocalFile::kMinReadableFormat) {
    throw Error(ErrorCode::corrupt,
                fmt::format("'{}' has an unknown file format {}", path.string(), format));
  }
}

// The fast path: the identification fields of the SQLite header read straight from the file
// (https://sqlite.org/fileformat.html: a 16-byte magic string, user_version at offset 60 and
// application_id at offset 68, both big-endian). True when they name a readable Cairn file.
// The main file's header can lag behind a WAL that is not yet checkpointed, so the open
// connection checks again before anything is written.
bool header_says_cairn(const std::filesystem::path& path) {
  unsigned char header[100];
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return false;
  const std::size_t read = std::fread(header, 1, sizeof header, file);
  std::fclose(file);
  if (read != sizeof header || std::memcmp(header, "SQLite format 3", 16) != 0) return false;
  const auto big_endian = [&](int offset) {
    return std::int64_t{header[offset]} << 24 | std::int64_t{header[offset + 1]} << 16 |
           std::int64_t{header[offset + 2]} << 8 | std::int64_t{header[offset + 3]};
  };
  const std::int64_t format = big_endian(60);
  return big_endian(68) == LocalFile::kApplicationId && format >= LocalFile::kMinReadableFormat &&
         format <= LocalFile::kFormat;
}

// Checks an existing file that the header alone does not vouch for, through a read-only
// connection, so that nothing is written to a file that turns out not to be ours. Returns true
// when the file is a SQLite database with nothing in it (a creation that crashed before its first
// commit), which may be initialized.
bool check_existing(const std::filesystem::path& path, bool may_write) {
  if (header_says_cairn(path)) return false;
  std::int64_t application_id = 0, format = 0;
  std::optional<sqlite::Connection> probe;
  try {
    probe.emplace(path, sqlite::Connection::Mode::read_only);
    application_id = probe->query_int("PRAGMA application_id");
    format = probe->query_int("PRAGMA user_version");
  } catch (const Error& e) {
    // A hot rollback journal (left by a process killed while it created the file) must be rolled
    // back before anything can be read, which needs a writable connection. Rolling back is
    // SQLite's own recovery: it returns the file to its last committed state.
    if (e.code() != ErrorCode::read_only || !may_write) throw;
    probe.emplace(path, sqlite::Connection::Mode::read_write);
    application_id = probe->query_int("PRAGMA application_id");
    format = probe->query_int("PRAGMA user_version");
  }
  if (application_id == 0 && format == 0 &&
      probe->query_int("SELECT count(*) FROM sqlite_schema") == 0) {
    return true;
  }
  check_identity(path, application_id, format);
  return false;
}

sqlite::Connection open_connection(const std::filesystem::path& path, bool read_only,
                                   bool create_if_missing, bool& created) {
  if (is_missing_or_empty(path)) {
    if (read_only || !create_if_missing) {
      throw Error(ErrorCode::not_found,
                  fmt::format("there is no Cairn database at '{}'", path.string()));
    }
    created = true;
  } else {
    created = check_existing(path, !read_only);
    if (created && read_only) {
      throw Error(ErrorCode::not_found,
                  fmt::format("'{}' is an empty database, not yet initialized", path.string()));
    }
  }
  return sqlite::Connection(path, read_only ? sqlite::Connection::Mode::read_only
                                            : sqlite::Connection::Mode::read_write_create);
}

}  // namespace

// The columns "seq, store_id, key, op, payload, hlc, schema_version" of an outbox row.
LocalFile::OutboxRow LocalFile::read_outbox_row(const sqlite::Statement& row) {
  return {static_cast<std::uint64_t>(row.column_int(0)),
          static_cast<std::uint32_t>(row.column_int(1)),
          std::string(row.column_text(2)),
          std::string(row.column_text(3)),
          std::string(row.column_text(4)),
          Timestamp::from_packed(static_cast<std::uint64_t>(row.column_int(5))),
          static_cast<std::uint32_t>(row.column_int(6))};
}

LocalFile::LocalFile(const std::filesystem::path& path, bool read_only, bool create_if_missing,
                     Durability durability)
    : connection_(open_connection(path, read_only, create_if_missing, created_)) {
  connection_.exec("PRAGMA busy_timeout = 5000");
  if (!created_) {
    check_identity(path, connection_.query_int("PRAGMA application_id"),
                   connection_.query_int("PRAGMA user_version"));
  }
  if (read_only) {
    connection_.exec("PRAGMA query_only = 1");
    return;
  }
  sqlite::Statement mode = connection_.prepare("PRAGMA journal_mode = WAL");
  const bool wal = mode.step() && mode.column_text(0) == "wal";
  mode.reset();
  if (!wal) {
    throw Error(ErrorCode::io_error,
                fmt::format("'{}' cannot be switched to WAL mode", path.string()));
  }
  connection_.set_durability(durability);
  if (created_) {
    create_schema();
  } else {
    upgrade_format();
  }
}

// Format 3.
constexpr const char* kHeldBackTable = R"sql(
    CREATE TABLE held_back (
      store_id INTEGER NOT NULL,
      key      TEXT NOT NULL,
      version  INTEGER NOT NULL,
      PRIMARY KEY (store_id, key)
    ) WITHOUT ROWID;
)sql";

// Format 4.
constexpr const char* kUnconfirmedTable = R"sql(
    CREATE TABLE unconfirmed (
      store_id INTEGER NOT NULL,
      key      TEXT NOT NULL,
      PRIMARY KEY (store_id, key)
    ) WITHOUT ROWID;
)sql";

// Format 5.
constexpr const char* kManifestTables = R"sql(
    CREATE TABLE manifests (
      store_id   INTEGER PRIMARY KEY,
      etag       TEXT NOT NULL,
      span       INTEGER NOT NULL,
      fetched_ms INTEGER NOT NULL
    );
    CREATE TABLE manifest_chunks (
      store_id  INTEGER NOT NULL,
      name      TEXT NOT NULL,
      first_key TEXT NOT NULL,
      last_key  TEXT NOT NULL,
      PRIMARY KEY (store_id, name)
    ) WITHOUT ROWID;
)sql";

// Brings an older format this build reads up to kFormat, in one transaction.
void LocalFile::upgrade_format() {
  if (connection_.query_int("PRAGMA user_version") >= kFormat) return;
  sqlite::TransactionGuard guard(connection_, sqlite::TransactionGuard::Kind::immediate);
  const std::int64_t format = connection_.query_int("PRAGMA user_version");  // under the lock
  if (format >= kFormat) return;
  if (format < 2) connection_.exec("ALTER TABLE entries DROP COLUMN pending");
  if (format < 3) connection_.exec(kHeldBackTable);
  if (format < 4) connection_.exec(kUnconfirmedTable);
  if (format < 5) connection_.exec(kManifestTables);
  connection_.exec(fmt::format("PRAGMA user_version = {}", kFormat));
  guard.commit();
}

void LocalFile::create_schema() {
  sqlite::TransactionGuard guard(connection_, sqlite::TransactionGuard::Kind::immediate);
  connection_.exec(R"sql(
    CREATE TABLE replica (
      id         INTEGER PRIMARY KEY CHECK (id = 1),
      replica_id TEXT NOT NULL,
      hlc        INTEGER NOT NULL,
      next_seq   INTEGER NOT NULL,
      created_ms INTEGER NOT NULL
    );
    CREATE TABLE replicas (
      ref        INTEGER PRIMARY KEY,
      replica_id TEXT NOT NULL UNIQUE
    );
    CREATE TABLE stores (
      id      INTEGER PRIMARY KEY,
      name    TEXT NOT NULL UNIQUE,
      version INTEGER NOT NULL,
      policy  TEXT NOT NULL
    );
    CREATE TABLE entries (
      store_id       INTEGER NOT NULL,
      key            TEXT NOT NULL,
      value          TEXT,
      hlc            INTEGER NOT NULL,
      replica_ref    INTEGER NOT NULL,
      schema_version INTEGER NOT NULL,
      field_stamps   TEXT,
      PRIMARY KEY (store_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
      seq            INTEGER PRIMARY KEY,
      store_id       INTEGER NOT NULL,
      key            TEXT NOT NULL,
      op             TEXT NOT NULL,
      payload        TEXT NOT NULL,
      hlc            INTEGER NOT NULL,
      schema_version INTEGER NOT NULL
    );
    CREATE INDEX outbox_entry ON outbox (store_id, key, seq);
    CREATE TABLE sync_state (
      id              INTEGER PRIMARY KEY CHECK (id = 1),
      server          TEXT NOT NULL,
      token           TEXT NOT NULL,
      user_id         TEXT NOT NULL,
      dataset         TEXT NOT NULL,
      cursor          TEXT NOT NULL,
      held_back       INTEGER NOT NULL,
      last_success_ms INTEGER NOT NULL,
      last_error_ms   INTEGER NOT NULL,
      last_error      TEXT NOT NULL
    );
    INSERT INTO sync_state VALUES (1, '', '', '', '', '', 0, 0, 0, '');
    CREATE TABLE backups (
      id           INTEGER PRIMARY KEY,
      store_id     INTEGER NOT NULL,
      from_version INTEGER NOT NULL,
      to_version   INTEGER NOT NULL,
      entries      INTEGER NOT NULL,
      created_hlc  INTEGER NOT NULL
    );
    CREATE TABLE backup_entries (
      backup_id      INTEGER NOT NULL,
      key            TEXT NOT NULL,
      value          TEXT,
      hlc            INTEGER NOT NULL,
      replica_ref    INTEGER NOT NULL,
      schema_version INTEGER NOT NULL,
      field_stamps   TEXT,
      PRIMARY KEY (backup_id, key)
    ) WITHOUT ROWID;
  )sql");
  connection_.exec(kHeldBackTable);
  connection_.exec(kUnconfirmedTable);
  connection_.exec(kManifestTables);
  connection_.exec(fmt::format("PRAGMA application_id = {}", kApplicationId));
  connection_.exec(fmt::format("PRAGMA user_version = {}", kFormat));
  const std::string id = new_replica_id();
  connection_.prepare("INSERT INTO replica VALUES (1, ?1, 0, 1, ?2)")
      .bind(1, id)
      .bind(2, static_cast<std::int64_t>(system_clock()->now_ms()))
      .run();
  insert_replica(id);
  guard.commit();
}

LocalFile::Replica LocalFile::replica() {
  auto& query = connection_.cached("SELECT replica_id, hlc, next_seq FROM replica WHERE id = 1");
  if (!query.step()) throw Error(ErrorCode::corrupt, "the database has no replica row");
  Replica replica{std::string(query.column_text(0)),
                  Timestamp::from_packed(static_cast<std::uint64_t>(query.column_int(1))),
                  static_cast<std::uint64_t>(query.column_int(2))};
  query.reset();
  if (replica.id.empty()) throw Error(ErrorCode::corrupt, "the database has an empty replica id");
  return replica;
}

void LocalFile::save_clock(Timestamp hlc, std::uint64_t next_seq) {
  connection_.cached("UPDATE replica SET hlc = ?1, next_seq = ?2 WHERE id = 1")
      .bind(1, static_cast<std::int64_t>(hlc.packed()))
      .bind(2, static_cast<std::int64_t>(next_seq))
      .run();
}

std::vector<std::pair<std::uint32_t, std::string>> LocalFile::replica_ids() {
  std::vector<std::pair<std::uint32_t, std::string>> ids;
  auto& query = connection_.cached("SELECT ref, replica_id FROM replicas ORDER BY ref");
  while (query.step()) {
    ids.emplace_back(static_cast<std::uint32_t>(query.column_int(0)),
                     std::string(query.column_text(1)));
  }
  query.reset();
  return ids;
}

std::uint32_t LocalFile::insert_replica(std::string_view replica_id) {
  connection_.cached("INSERT INTO replicas (replica_id) VALUES (?1)").bind(1, replica_id).run();
  return static_cast<std::uint32_t>(connection_.query_int("SELECT last_insert_rowid()"));
}

std::pair<std::uint32_t, std::string> LocalFile::new_own_replica() {
  std::string id = new_replica_id();
  const std::uint32_t ref = insert_replica(id);
  connection_.prepare("UPDATE replica SET replica_id = ?1 WHERE id = 1").bind(1, id).run();
  return {ref, std::move(id)};
}

std::vector<LocalFile::StoreRow> LocalFile::stores() {
  std::vector<StoreRow> rows;
  auto& query = connection_.cached("SELECT id, name, version, policy FROM stores ORDER BY name");
  while (query.step()) {
    rows.push_back(
        {static_cast<std::uint32_t>(query.column_int(0)), std::string(query.column_text(1)),
         static_cast<std::uint32_t>(query.column_int(2)), std::string(query.column_text(3))});
  }
  query.reset();
  return rows;
}

std::uint32_t LocalFile::insert_store(std::string_view name, std::uint32_t version,
                                      std::string_view policy) {
  connection_.cached("INSERT INTO stores (name, version, policy) VALUES (?1, ?2, ?3)")
      .bind(1, name)
      .bind(2, std::int64_t{version})
      .bind(3, policy)
      .run();
  return static_cast<std::uint32_t>(connection_.query_int("SELECT last_insert_rowid()"));
}

void LocalFile::update_store(std::uint32_t id, std::uint32_t version, std::string_view policy) {
  connection_.cached("UPDATE stores SET version = ?2, policy = ?3 WHERE id = ?1")
      .bind(1, std::int64_t{id})
      .bind(2, std::int64_t{version})
      .bind(3, policy)
      .run();
}

void LocalFile::for_each_entry(std::uint32_t store_id,
                               const std::function<void(const EntryRow&)>& visit) {
  auto& query = connection_.cached(
      "SELECT key, value, hlc, replica_ref, schema_version, field_stamps FROM entries "
      "WHERE store_id = ?1 ORDER BY key");
  query.bind(1, std::int64_t{store_id});
  EntryRow row;
  while (query.step()) {
    row.key = query.column_text(0);
    row.value = query.column_is_null(1) ? std::nullopt
                                        : std::optional<std::string_view>(query.column_text(1));
    row.hlc = Timestamp::from_packed(static_cast<std::uint64_t>(query.column_int(2)));
    row.replica_ref = static_cast<std::uint32_t>(query.column_int(3));
    row.schema_version = static_cast<std::uint32_t>(query.column_int(4));
    row.field_stamps = query.column_text(5);
    visit(row);
  }
  query.reset();
}

void LocalFile::write_entry(std::uint32_t store_id, const EntryRow& row) {
  auto& statement = connection_.cached(
      "INSERT OR REPLACE INTO entries "
      "(store_id, key, value, hlc, replica_ref, schema_version, field_stamps) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  statement.bind(1, std::int64_t{store_id}).bind(2, row.key);
  if (row.value) {
    statement.bind(3, *row.value);
  } else {
    statement.bind_null(3);
  }
  statement.bind(4, static_cast<std::int64_t>(row.hlc.packed()))
      .bind(5, std::int64_t{row.replica_ref})
      .bind(6, std::int64_t{row.schema_version});
  if (row.field_stamps.empty()) {
    statement.bind_null(7);
  } else {
    statement.bind(7, row.field_stamps);
  }
  statement.run();
}

void LocalFile::delete_entry(std::uint32_t store_id, std::string_view key) {
  connection_.cached("DELETE FROM entries WHERE store_id = ?1 AND key = ?2")
      .bind(1, std::int64_t{store_id})
      .bind(2, key)
      .run();
}

std::optional<LocalFile::ManifestRow> LocalFile::manifest(std::uint32_t store_id) {
  auto& q = connection_.cached("SELECT etag, span, fetched_ms FROM manifests WHERE store_id = ?1");
  q.bind(1, std::int64_t{store_id});
  std::optional<ManifestRow> row;
  if (q.step()) {
    row = ManifestRow{std::string(q.column_text(0)), static_cast<std::uint32_t>(q.column_int(1)),
                      q.column_int(2)};
  }
  q.reset();
  return row;
}

std::vector<LocalFile::ManifestChunk> LocalFile::manifest_chunks(std::uint32_t store_id) {
  auto& q = connection_.cached(
      "SELECT name, first_key, last_key FROM manifest_chunks WHERE store_id = ?1");
  q.bind(1, std::int64_t{store_id});
  std::vector<ManifestChunk> chunks;
  while (q.step()) {
    chunks.push_back({std::string(q.column_text(0)), std::string(q.column_text(1)),
                      std::string(q.column_text(2))});
  }
  q.reset();
  return chunks;
}

void LocalFile::save_manifest(std::uint32_t store_id, const ManifestRow& row) {
  connection_.cached("INSERT OR REPLACE INTO manifests VALUES (?1, ?2, ?3, ?4)")
      .bind(1, std::int64_t{store_id})
      .bind(2, row.etag)
      .bind(3, std::int64_t{row.span})
      .bind(4, row.fetched_ms)
      .run();
}

void LocalFile::put_manifest_chunk(std::uint32_t store_id, const ManifestChunk& chunk) {
  connection_.cached("INSERT OR REPLACE INTO manifest_chunks VALUES (?1, ?2, ?3, ?4)")
      .bind(1, std::int64_t{store_id})
      .bind(2, chunk.name)
      .bind(3, chunk.first_key)
      .bind(4, chunk.last_key)
      .run();
}

void LocalFile::delete_manifest_chunk(std::uint32_t store_id, std::string_view name) {
  connection_.cached("DELETE FROM manifest_chunks WHERE store_id = ?1 AND name = ?2")
      .bind(1, std::int64_t{store_id})
      .bind(2, name)
      .run();
}

void LocalFile::clear_manifest(std::uint32_t store_id) {
  connection_.cached("DELETE FROM manifest_chunks WHERE store_id = ?1")
      .bind(1, std::int64_t{store_id})
      .run();
  connection_.cached("DELETE FROM manifests WHERE store_id = ?1")
      .bind(1, std::int64_t{store_id})
      .run();
}

void LocalFile::mark_unconfirmed() {
  connection_.exec(
      "INSERT OR IGNORE INTO unconfirmed (store_id, key) SELECT store_id, key FROM entries");
}

void LocalFile::confirm(std::uint32_t store_id, std::string_view key) {
  connection_.cached("DELETE FROM unconfirmed WHERE store_id = ?1 AND key = ?2")
      .bind(1, std::int64_t{store_id})
      .bind(2, key)
      .run();
}

bool LocalFile::has_unconfirmed() {
  return connection_.query_int("SELECT EXISTS (SELECT 1 FROM unconfirmed)") != 0;
}

std::vector<std::pair<std::uint32_t, std::string>> LocalFile::unconfirmed() {
  auto& q = connection_.cached("SELECT store_id, key FROM unconfirmed ORDER BY store_id, key");
  std::vector<std::pair<std::uint32_t, std::string>> rows;
  while (q.step())
    rows.emplace_back(static_cast<std::uint32_t>(q.column_int(0)), std::string(q.column_text(1)));
  q.reset();
  return rows;
}

void LocalFile::clear_unconfirmed() {
  connection_.exec("DELETE FROM unconfirmed");
}

void LocalFile::append_outbox(const OutboxRow& row) {
  connection_
      .cached(
          "INSERT INTO outbox (seq, store_id, key, op, payload, hlc, schema_version) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
      .bind(1, static_cast<std::int64_t>(row.seq))
      .bind(2, std::int64_t{row.store_id})
      .bind(3, row.key)
      .bind(4, row.op)
      .bind(5, row.payload)
      .bind(6, static_cast<std::int64_t>(row.hlc.packed()))
      .bind(7, std::int64_t{row.schema_version})
      .run();
}

std::vector<LocalFile::OutboxRow> LocalFile::outbox(std::uint64_t after_seq, std::size_t limit) {
  std::vector<OutboxRow> rows;
  auto& query = connection_.cached(
      "SELECT seq, store_id, key, op, payload, hlc, schema_version FROM outbox WHERE seq > ?1 "
      "ORDER BY seq LIMIT ?2");
  query.bind(1, static_cast<std::int64_t>(after_seq)).bind(2, static_cast<std::int64_t>(limit));
  while (query.step()) {
    rows.push_back(read_outbox_row(query));
  }
  query.reset();
  return rows;
}

void LocalFile::for_each_pending(
    std::uint32_t store_id,
    const std::function<void(std::string_view key, std::uint32_t count)>& visit) {
  auto& query = connection_.cached(
      "SELECT key, count(*) FROM outbox WHERE store_id = ?1 GROUP BY key ORDER BY key");
  query.bind(1, std::int64_t{store_id});
  while (query.step())
    visit(query.column_text(0), static_cast<std::uint32_t>(query.column_int(1)));
  query.reset();
}

std::uint64_t LocalFile::outbox_count() {
  auto& query = connection_.cached("SELECT count(*) FROM outbox");
  const auto count = query.step() ? static_cast<std::uint64_t>(query.column_int(0)) : 0;
  query.reset();
  return count;
}

// sync_state.held_back is a set of flags.
constexpr std::int64_t kHeldBack = 1, kSkippedStores = 2;

LocalFile::SyncState LocalFile::sync_state() {
  auto& q = connection_.cached(
      "SELECT server, token, user_id, dataset, cursor, held_back, last_success_ms, last_error_ms, "
      "last_error FROM sync_state WHERE id = 1");
  SyncState state;
  if (q.step()) {
    state = {std::string(q.column_text(0)),
             std::string(q.column_text(1)),
             std::string(q.column_text(2)),
             std::string(q.column_text(3)),
             std::string(q.column_text(4)),
             (q.column_int(5) & kHeldBack) != 0,
             (q.column_int(5) & kSkippedStores) != 0,
             q.column_int(6),
             q.column_int(7),
             std::string(q.column_text(8))};
  }
  q.reset();
  return state;
}

void LocalFile::save_sync_state(const SyncState& state) {
  connection_
      .cached(
          "UPDATE sync_state SET server = ?1, token = ?2, user_id = ?3, dataset = ?4, "
          "cursor = ?5, held_back = ?6, last_success_ms = ?7, last_error_ms = ?8, "
          "last_error = ?9 WHERE id = 1")
      .bind(1, state.server)
      .bind(2, state.token)
      .bind(3, state.user_id)
      .bind(4, state.dataset)
      .bind(5, state.cursor)
      .bind(6, (state.held_back ? kHeldBack : 0) | (state.skipped_stores ? kSkippedStores : 0))
      .bind(7, state.last_success_ms)
      .bind(8, state.last_error_ms)
      .bind(9, state.last_error)
      .run();
  if (state.cursor.empty()) connection_.cached("DELETE FROM held_back").run();
}

void LocalFile::hold_back(std::uint32_t store_id, std::string_view key, std::uint32_t version) {
  connection_
      .cached(
          "INSERT INTO held_back (store_id, key, version) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (store_id, key) DO UPDATE SET version = excluded.version")
      .bind(1, store_id)
      .bind(2, key)
      .bind(3, version)
      .run();
}

void LocalFile::release_held(std::uint32_t store_id, std::string_view key) {
  connection_.cached("DELETE FROM held_back WHERE store_id = ?1 AND key = ?2")
      .bind(1, store_id)
      .bind(2, key)
      .run();
}

std::vector<std::pair<std::uint32_t, std::uint64_t>> LocalFile::held_back_counts() {
  auto& q = connection_.cached(
      "SELECT store_id, count(*) FROM held_back GROUP BY store_id ORDER BY store_id");
  std::vector<std::pair<std::uint32_t, std::uint64_t>> counts;
  while (q.step()) {
    counts.emplace_back(static_cast<std::uint32_t>(q.column_int(0)),
                        static_cast<std::uint64_t>(q.column_int(1)));
  }
  q.reset();
  return counts;
}

void LocalFile::for_each_outbox_through(
    std::uint64_t seq, const std::function<void(std::uint32_t, std::string_view)>& visit) {
  auto& q = connection_.cached("SELECT store_id, key FROM outbox WHERE seq <= ?1 ORDER BY seq");
  q.bind(1, static_cast<std::int64_t>(seq));
  while (q.step())
    visit(static_cast<std::uint32_t>(q.column_int(0)), q.column_text(1));
  q.reset();
}

std::uint64_t LocalFile::renumber_outbox(std::uint64_t first) {
  const std::int64_t oldest = connection_.query_int("SELECT coalesce(min(seq), 0) FROM outbox");
  if (oldest == 0) return first;
  // Through negative numbers, so that no two records ever share one.
  connection_.prepare("UPDATE outbox SET seq = -(seq + ?1)")
      .bind(1, static_cast<std::int64_t>(first) - oldest)
      .run();
  connection_.exec("UPDATE outbox SET seq = -seq");
  return static_cast<std::uint64_t>(connection_.query_int("SELECT max(seq) FROM outbox")) + 1;
}

void LocalFile::delete_outbox_through(std::uint64_t seq) {
  connection_.cached("DELETE FROM outbox WHERE seq <= ?1")
      .bind(1, static_cast<std::int64_t>(seq))
      .run();
}

std::vector<LocalFile::OutboxRow> LocalFile::outbox_for_entry(std::uint32_t store_id,
                                                              std::string_view key) {
  std::vector<OutboxRow> rows;
  auto& q = connection_.cached(
      "SELECT seq, store_id, key, op, payload, hlc, schema_version FROM outbox "
      "WHERE store_id = ?1 AND key = ?2 ORDER BY seq");
  q.bind(1, std::int64_t{store_id}).bind(2, key);
  while (q.step()) {
    rows.push_back(read_outbox_row(q));
  }
  q.reset();
  return rows;
}

std::int64_t LocalFile::backup_store(std::uint32_t store_id, std::uint32_t from_version,
                                     std::uint32_t to_version, Timestamp created,
                                     std::size_t keep) {
  connection_
      .cached(
          "INSERT INTO backups (store_id, from_version, to_version, entries, created_hlc) "
          "VALUES (?1, ?2, ?3, 0, ?4)")
      .bind(1, std::int64_t{store_id})
      .bind(2, std::int64_t{from_version})
      .bind(3, std::int64_t{to_version})
      .bind(4, static_cast<std::int64_t>(created.packed()))
      .run();
  const std::int64_t id = connection_.query_int("SELECT last_insert_rowid()");
  connection_
      .cached(
          "INSERT INTO backup_entries SELECT ?1, key, value, hlc, replica_ref, schema_version, "
          "field_stamps FROM entries WHERE store_id = ?2")
      .bind(1, id)
      .bind(2, std::int64_t{store_id})
      .run();
  connection_.cached("UPDATE backups SET entries = changes() WHERE id = ?1").bind(1, id).run();
  // Keep the newest `keep` backups of this store.
  const std::string older =
      "SELECT id FROM backups WHERE store_id = ?1 ORDER BY id DESC LIMIT -1 OFFSET ?2";
  connection_.cached("DELETE FROM backup_entries WHERE backup_id IN (" + older + ")")
      .bind(1, std::int64_t{store_id})
      .bind(2, static_cast<std::int64_t>(keep))
      .run();
  connection_.cached("DELETE FROM backups WHERE id IN (" + older + ")")
      .bind(1, std::int64_t{store_id})
      .bind(2, static_cast<std::int64_t>(keep))
      .run();
  return id;
}

std::vector<LocalFile::BackupRow> LocalFile::backups() {
  std::vector<BackupRow> rows;
  auto& query = connection_.cached(
      "SELECT b.id, s.name, b.store_id, b.from_version, b.to_version, b.entries, b.created_hlc "
      "FROM backups b JOIN stores s ON s.id = b.store_id ORDER BY b.id");
  while (query.step()) {
    rows.push_back({query.column_int(0), std::string(query.column_text(1)),
                    static_cast<std::uint32_t>(query.column_int(2)),
                    static_cast<std::uint32_t>(query.column_int(3)),
                    static_cast<std::uint32_t>(query.column_int(4)),
                    static_cast<std::size_t>(query.column_int(5)),
                    Timestamp::from_packed(static_cast<std::uint64_t>(query.column_int(6)))});
  }
  query.reset();
  return rows;
}

void LocalFile::restore_backup(const BackupRow& backup) {
  const auto store_id = std::int64_t{backup.store_id};
  connection_.cached("DELETE FROM entries WHERE store_id = ?1").bind(1, store_id).run();
  connection_
      .cached(
          "INSERT INTO entries (store_id, key, value, hlc, replica_ref, schema_version, "
          "field_stamps) SELECT ?1, key, value, hlc, replica_ref, schema_version, "
          "field_stamps FROM backup_entries WHERE backup_id = ?2")
      .bind(1, store_id)
      .bind(2, backup.id)
      .run();
  connection_.cached("UPDATE stores SET version = ?2 WHERE id = ?1")
      .bind(1, store_id)
      .bind(2, std::int64_t{backup.from_version})
      .run();
}

}  // namespace cairn
