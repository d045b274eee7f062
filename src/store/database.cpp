// cairn::Database and cairn::Transaction: the public facade over StoreEngine.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/database.hpp>
#include <cairn/error.hpp>
#include <cairn/transaction.hpp>

#include "foundation/json_text.hpp"
#include "store/store_engine.hpp"

namespace cairn {
namespace json = boost::json;

Database Database::open(const std::filesystem::path& path, DatabaseOptions options) {
  return Database(std::make_unique<StoreEngine>(path, std::move(options)));
}

StoreEngine& engine_of(Database& db) {
  return *db.engine_;
}

Database::Database(std::unique_ptr<StoreEngine> engine) : engine_(std::move(engine)) {}
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;
Database::~Database() = default;

const std::filesystem::path& Database::path() const {
  return engine_->path();
}
std::string Database::replica_id() const {
  return engine_->replica_id();
}
Timestamp Database::clock() const {
  return engine_->clock();
}
const DatabaseOptions& Database::options() const {
  return engine_->options();
}

std::optional<json::value> Database::get(std::string_view store, std::string_view key) const {
  return engine_->get(store, key);
}

bool Database::contains(std::string_view store, std::string_view key) const {
  return engine_->contains(store, key);
}

std::size_t Database::size(std::string_view store) const {
  return engine_->size(store);
}

std::vector<std::string> Database::keys(std::string_view store) const {
  std::vector<std::string> keys;
  engine_->scan(store, {}, {}, [&](std::string_view key, const json::value&) {
    keys.emplace_back(key);
    return true;
  });
  return keys;
}

std::optional<EntryInfo> Database::entry_info(std::string_view store, std::string_view key) const {
  return engine_->entry_info(store, key);
}

void Database::for_each(std::string_view store, const Visitor& visit) const {
  engine_->scan(store, {}, {}, visit);
}

void Database::scan(std::string_view store, std::string_view from, std::string_view to,
                    const Visitor& visit) const {
  engine_->scan(store, from, to, visit);
}

std::string Database::document(std::string_view store, std::string_view key) const {
  return engine_->document(store, key);
}

std::string Database::document_text(std::string_view store, std::string_view key,
                                    std::string_view root) const {
  return merge::document_text(engine_->document(store, key), std::string(root));
}

std::vector<StoreInfo> Database::stores() const {
  return engine_->stores();
}

StoreInfo Database::store_info(std::string_view store) const {
  return engine_->store_info(store);
}

Transaction Database::transaction() {
  return Transaction(*engine_);
}

void Database::put(std::string_view store, std::string_view key, json::value value) {
  Transaction txn = transaction();
  txn.put(store, key, std::move(value));
  txn.commit();
}

void Database::erase(std::string_view store, std::string_view key) {
  Transaction txn = transaction();
  txn.erase(store, key);
  txn.commit();
}

Subscription Database::subscribe(Listener listener) {
  return engine_->subscribe({}, std::move(listener));
}

Subscription Database::subscribe(std::string_view store, Listener listener) {
  return engine_->subscribe({std::string(store), std::nullopt}, std::move(listener));
}

Subscription Database::subscribe(std::string_view store, std::string_view key, Listener listener) {
  return engine_->subscribe({std::string(store), std::string(key)}, std::move(listener));
}

std::size_t Database::pending_count() const {
  return engine_->pending_count();
}

std::vector<BackupInfo> Database::backups() const {
  return engine_->backups();
}

void Database::restore_backup(const std::filesystem::path& path, std::string_view store,
                              std::int64_t backup_id) {
  FileLock lock(path);
  LocalFile file(path, /*read_only=*/false, /*create_if_missing=*/false, Durability::full);
  for (const auto& backup : file.backups()) {
    if (backup.id != backup_id) continue;
    if (backup.store != store) {
      throw Error(
          ErrorCode::invalid_argument,
          fmt::format("backup {} belongs to store '{}', not '{}'", backup_id, backup.store, store));
    }
    sqlite::TransactionGuard guard(file.connection(), sqlite::TransactionGuard::Kind::immediate);
    file.restore_backup(backup);
    guard.commit();
    return;
  }
  throw Error(ErrorCode::not_found,
              fmt::format("there is no backup {} in '{}'", backup_id, path.string()));
}

std::vector<OutboxRecord> Database::outbox(std::uint64_t after_seq, std::size_t limit) const {
  return engine_->outbox(after_seq, limit);
}

// --- Transaction ---

Transaction::Transaction(StoreEngine& engine)
    : writes_(std::make_unique<PendingWrites>(PendingWrites{&engine, {}})) {}
Transaction::Transaction(Transaction&&) noexcept = default;
Transaction& Transaction::operator=(Transaction&&) noexcept = default;
Transaction::~Transaction() = default;

PendingWrites& Transaction::open_writes() const {
  if (writes_ == nullptr) {
    throw Error(ErrorCode::transaction_closed,
                "the transaction was already committed or rolled back");
  }
  return *writes_;
}

std::size_t Transaction::size() const {
  return writes_ ? writes_->writes.size() : 0;
}

void Transaction::put(std::string_view store, std::string_view key, json::value value) {
  PendingWrites& pending = open_writes();
  PendingWrite write{
      PendingWrite::Kind::put, std::string(store), std::string(key), std::move(value), {}, {}, 0};
  write.serialized = json_text(write.value);
  pending.engine->check_write(write);
  pending.writes.push_back(std::move(write));
}

void Transaction::erase(std::string_view store, std::string_view key) {
  PendingWrites& pending = open_writes();
  PendingWrite write{
      PendingWrite::Kind::erase, std::string(store), std::string(key), {}, {}, {}, 0};
  pending.engine->check_write(write);
  pending.writes.push_back(std::move(write));
}

void Transaction::increment(std::string_view store, std::string_view key, std::string_view field,
                            std::int64_t delta) {
  PendingWrites& pending = open_writes();
  PendingWrite write{PendingWrite::Kind::increment,
                     std::string(store),
                     std::string(key),
                     {},
                     {},
                     std::string(field),
                     delta};
  pending.engine->check_write(write);
  pending.writes.push_back(std::move(write));
}

void Transaction::update_document(std::string_view store, std::string_view key,
                                  std::string_view update) {
  PendingWrites& pending = open_writes();
  if (update.empty()) {
    throw Error(ErrorCode::invalid_value, "an empty update (Yjs's empty update is two zero bytes)");
  }
  PendingWrite write{PendingWrite::Kind::update,
                     std::string(store),
                     std::string(key),
                     {},
                     std::string(update),
                     {},
                     0};
  pending.engine->check_write(write);
  pending.writes.push_back(std::move(write));
}

void Transaction::edit_text(std::string_view store, std::string_view key, std::uint64_t index,
                            std::uint64_t erase, std::string_view insert, std::string_view root) {
  PendingWrites& pending = open_writes();
  PendingWrite write{
      PendingWrite::Kind::update, std::string(store), std::string(key), {}, {}, {}, 0};
  pending.engine->check_write(write);
  // The edit is made on the document as this transaction leaves it.
  merge::Entry current;
  if (auto value = pending.engine->preview(pending.writes, store, key)) {
    current.value = std::move(*value);
    current.deleted = false;
  }
  write.serialized =
      merge::text_edit(merge::document_state(current), pending.engine->document_client(),
                       std::string(root), index, erase, insert);
  if (!write.serialized.empty()) pending.writes.push_back(std::move(write));
}

std::optional<json::value> Transaction::get(std::string_view store, std::string_view key) const {
  const PendingWrites& pending = open_writes();
  return pending.engine->preview(pending.writes, store, key);
}

void Transaction::commit() {
  std::unique_ptr<PendingWrites> pending = std::move(writes_);
  if (pending == nullptr) open_writes();  // throws
  pending->engine->commit(pending->writes);
}

void Transaction::rollback() {
  open_writes();
  writes_.reset();
}

}  // namespace cairn
