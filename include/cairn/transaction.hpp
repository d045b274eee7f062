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

  // Documents (stores declared with MergePolicy::document(); docs/collaboration.md), created on
  // first write. update_document merges a Yjs update v1 (bytes, from any Yjs peer: Y.encodeState-
  // AsUpdate, a 'update' event); Error(invalid_value) when it does not decode. edit_text edits
  // root text `root`: `erase` characters from `index` removed, then `insert` (UTF-8) inserted
  // there — positions and lengths in UTF-16 code units, as Yjs counts them; Error(invalid_argument)
  // for a range beyond the text. Either goes to the outbox as a Yjs update. Their keys, with the
  // store's name, form the document's name on the server ("<store>/<key>"), so they are limited
  // to A-Z a-z 0-9 _ - . : / (Error(invalid_key)). Other writes to a document store are refused.
  void update_document(std::string_view store, std::string_view key, std::string_view update);
  void edit_text(std::string_view store, std::string_view key, std::uint64_t index,
                 std::uint64_t erase, std::string_view insert, std::string_view root = "content");

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
