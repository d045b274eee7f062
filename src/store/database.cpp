// cairn::Database and cairn::Transaction: the public facade over Database::Impl.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/database.hpp>
#include <cairn/transaction.hpp>

#include "store/database_impl.hpp"
#include "store/limits.hpp"

namespace cairn {
namespace json = boost::json;

Database Database::open(const std::filesystem::path& path, DatabaseOptions options) {
  return Database(std::make_unique<Impl>(path, std::move(options)));
}

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;
Database::~Database() = default;

const std::filesystem::path& Database::path() const {
  return impl_->path_;
}
std::string Database::replica_id() const {
  std::lock_guard lock(impl_->write_mutex_);
  return *impl_->self_;
}
Timestamp Database::clock() const {
  return impl_->clock_->last();
}
const DatabaseOptions& Database::options() const {
  return impl_->options_;
}

std::optional<json::value> Database::get(std::string_view store, std::string_view key) const {
  return impl_->get(store, key);
}

bool Database::contains(std::string_view store, std::string_view key) const {
  return impl_->contains(store, key);
}

std::size_t Database::size(std::string_view store) const {
  return impl_->size(store);
}

std::vector<std::string> Database::keys(std::string_view store) const {
  std::vector<std::string> keys;
  impl_->scan(store, {}, {}, [&](std::string_view key, const json::value&) {
    keys.emplace_back(key);
    return true;
  });
  return keys;
}

std::optional<EntryInfo> Database::entry_info(std::string_view store, std::string_view key) const {
  return impl_->entry_info(store, key);
}

void Database::for_each(std::string_view store, const Visitor& visit) const {
  impl_->scan(store, {}, {}, visit);
}

void Database::scan(std::string_view store, std::string_view from, std::string_view to,
                    const Visitor& visit) const {
  impl_->scan(store, from, to, visit);
}

std::vector<StoreInfo> Database::stores() const {
  return impl_->stores();
}

StoreInfo Database::store_info(std::string_view store) const {
  return impl_->store_info(impl_->store(store));
}

Transaction Database::transaction() {
  return Transaction(impl_.get());
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
  return impl_->subscribers_->add({}, std::move(listener));
}

Subscription Database::subscribe(std::string_view store, Listener listener) {
  impl_->store(store);  // throws unknown_store
  return impl_->subscribers_->add({std::string(store), std::nullopt}, std::move(listener));
}

Subscription Database::subscribe(std::string_view store, std::string_view key, Listener listener) {
  impl_->store(store);
  return impl_->subscribers_->add({std::string(store), std::string(key)}, std::move(listener));
}

std::size_t Database::pending_count() const {
  return impl_->pending_.load();
}

std::vector<BackupInfo> Database::backups() const {
  return impl_->backups();
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
  return impl_->outbox(after_seq, limit);
}

// --- Transaction ---

Transaction::Transaction(Transaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), writes_(std::move(other.writes_)) {}

Transaction& Transaction::operator=(Transaction&& other) noexcept {
  if (this != &other) {
    db_ = std::exchange(other.db_, nullptr);
    writes_ = std::move(other.writes_);
  }
  return *this;
}

Transaction::Transaction(Database::Impl* db) : db_(db) {}

Transaction::~Transaction() = default;

std::size_t Transaction::size() const {
  return writes_.size();
}

void Transaction::require_open() const {
  if (db_ == nullptr) {
    throw Error(ErrorCode::transaction_closed,
                "the transaction was already committed or rolled back");
  }
}

void Transaction::put(std::string_view store, std::string_view key, json::value value) {
  require_open();
  Write write{Write::Kind::put, std::string(store), std::string(key), std::move(value), {}, {}, 0};
  write.serialized = json::serialize(write.value);
  db_->check_write(write);
  writes_.push_back(std::move(write));
}

void Transaction::erase(std::string_view store, std::string_view key) {
  require_open();
  Write write{Write::Kind::erase, std::string(store), std::string(key), {}, {}, {}, 0};
  db_->check_write(write);
  writes_.push_back(std::move(write));
}

void Transaction::increment(std::string_view store, std::string_view key, std::string_view field,
                            std::int64_t delta) {
  require_open();
  Write write{Write::Kind::increment,
              std::string(store),
              std::string(key),
              {},
              {},
              std::string(field),
              delta};
  db_->check_write(write);
  writes_.push_back(std::move(write));
}

std::optional<json::value> Transaction::get(std::string_view store, std::string_view key) const {
  require_open();
  std::optional<json::value> value = db_->get(store, key);
  for (const auto& write : writes_) {
    if (write.store != store || write.key != key) continue;
    switch (write.kind) {
      case Write::Kind::put:
        value = write.value;
        break;
      case Write::Kind::erase:
        value.reset();
        break;
      case Write::Kind::increment: {
        if (!value || !value->is_object()) value = json::object{};
        json::object& object = value->get_object();
        const json::value* old = object.if_contains(write.field);
        object[write.field] = old && old->is_number() ? merge::add_numbers(*old, write.delta)
                                                      : json::value(write.delta);
        break;
      }
    }
  }
  return value;
}

void Transaction::commit() {
  require_open();
  Database::Impl* db = std::exchange(db_, nullptr);
  std::vector<Write> writes = std::move(writes_);
  writes_.clear();
  db->commit(writes);
}

void Transaction::rollback() {
  require_open();
  db_ = nullptr;
  writes_.clear();
}

}  // namespace cairn
