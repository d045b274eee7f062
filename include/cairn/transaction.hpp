// cairn/transaction.hpp — atomic writes across stores.
//
// A Transaction collects puts, deletes and counter increments, then commit() writes all of them in
// one SQLite transaction together with their outbox records and the advanced clock. Either every
// write becomes durable and visible, or (on any error) none does and the database is unchanged.
//
// Key and value limits are checked when a write is added, so a bad write throws at the call that
// made it; store quotas and store writability are checked again at commit. A failed commit leaves
// the transaction closed. Destroying a transaction that was not committed discards it.
//
// Reads through a Transaction see its own uncommitted writes over the committed state. A
// Transaction must not be used by two threads at once, and must not outlive its Database.
#pragma once

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <cairn/database.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn {

struct PendingWrites;

class Transaction {
 public:
  Transaction(Transaction&&) noexcept;
  Transaction& operator=(Transaction&&) noexcept;
  ~Transaction();

  void put(std::string_view store, std::string_view key, boost::json::value value);
  void erase(std::string_view store, std::string_view key);
  // Adds `delta` to a counter field (declared in the store's MergePolicy), creating the entry or
  // field at 0 when missing. Concurrent increments on other replicas add up.
  void increment(std::string_view store, std::string_view key, std::string_view field,
                 std::int64_t delta);

  // Typed writes through Boost.JSON's value_from.
  template <class T>
  void put_as(std::string_view store, std::string_view key, const T& value) {
    put(store, key, boost::json::value_from(value));
  }

  // The value as this transaction would leave it.
  std::optional<boost::json::value> get(std::string_view store, std::string_view key) const;

  // Commits; throws Error on failure, leaving the database unchanged.
  void commit();
  void rollback();

  // Number of writes added so far.
  std::size_t size() const;
  bool is_open() const { return writes_ != nullptr; }

 private:
  friend class Database;
  explicit Transaction(StoreEngine& engine);
  PendingWrites& open_writes() const;  // throws Error(transaction_closed) once closed

  std::unique_ptr<PendingWrites> writes_;  // opaque (src/store); null once closed
};

}  // namespace cairn
