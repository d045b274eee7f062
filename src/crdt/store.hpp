// The inside of a Doc: each client's structs in clock order, what waits for missing
// dependencies (Yjs's StructStore), and how transactions run. Shared by the crdt layer's sources;
// not an API.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "crdt/doc.hpp"

namespace cairn::crdt {

// Structs decoded from an update, not yet integrated.
using Structs = std::vector<std::unique_ptr<Item>>;
// A client's integrated structs in clock order, owned by the store. Plain pointers, so that
// splitting and merging structs shift the list with one memmove.
using StructList = std::vector<Item*>;

struct Doc::Store {
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

  std::map<std::uint64_t, StructList> clients;
  // Decoded structs that wait for structs they depend on, per client in clock order, and
  // deletes of structs not yet here.
  std::map<std::uint64_t, Structs> pending;
  DeleteSet pending_deletes;

  std::uint64_t state(std::uint64_t client) const;
  StateVector state_vector() const;
  // The index of the struct holding `clock` in `structs` (which must hold it).
  static std::size_t find_index(const StructList& structs, std::uint64_t clock);
  Item* find(const ID& id);
  void add(std::unique_ptr<Item> item);
  StructList& structs(std::uint64_t client) { return clients.at(client); }
};

template <class F>
void Doc::run(F&& f, const void* origin, bool local) {
  if (current_ != nullptr) {
    f(*current_);
    return;
  }
  committing_.push_back(std::make_unique<Transaction>(*this, local, origin));
  current_ = committing_.back().get();
  const bool first =
      committing_.size() == 1;  // else an observer's: committed after the one running
  try {
    f(*current_);
  } catch (...) {
    current_ = nullptr;
    if (first) {
      try {
        commit_all();
      } catch (...) {  // the first error is the one reported
      }
    }
    throw;
  }
  current_ = nullptr;
  if (first) commit_all();
}

// The index of the struct starting at `clock`, splitting the one that holds it (Yjs's
// findIndexCleanStart).
std::size_t clean_start_index(Transaction& t, StructList& structs, std::uint64_t clock);

// Calls `f` on every struct a delete set names, splitting structs at its edges (Yjs's
// iterateDeletedStructs).
template <class F>
void for_each_struct(Transaction& t, const DeleteSet& set, F&& f) {
  Doc::Store& store = t.doc.store();
  for (const auto& [client, ranges] : set.clients) {
    const auto found = store.clients.find(client);
    if (found == store.clients.end() || found->second.empty()) continue;
    StructList& structs = found->second;
    const std::uint64_t state = store.state(client);
    for (const auto& [clock, length] : ranges) {
      if (clock >= state) break;
      if (length == 0) continue;
      const std::uint64_t end = clock + length;
      std::size_t index = clean_start_index(t, structs, clock);
      Item* item = nullptr;
      do {
        item = structs[index++];
        if (end < item->id.clock + item->length) clean_start_index(t, structs, end);
        f(*item);
      } while (index < structs.size() && structs[index]->id.clock < end);
    }
  }
}

// After a remote transaction changed formatted text: drops the format items it made redundant,
// in a transaction of its own (Yjs's cleanupYTextAfterTransaction).
void cleanup_formatting(Transaction& remote);

// Whether anyone listens for a type's events: its observers, or deep observers on it or above.
bool heard(const Type& type);

// The update a transaction made: its new structs and its delete set (Yjs's
// writeUpdateMessageFromTransaction), format v1.
Bytes encode_transaction_update(const Transaction& transaction);

// std::out_of_range for an index past a type's length (the local edits).
[[noreturn]] void out_of_range(std::uint64_t index, std::uint64_t length);

// Content operations Yjs's content classes implement.
Content split_content(Content& content, std::uint64_t offset);  // returns the right part
bool merge_content(Content& left, Content& right);              // appends right when it can
Content copy_content(const Content& content);                   // a new type for a type
// The values an item contributes to an array or a map, as Yjs's getContent() gives them.
void append_values(const Item& item, std::vector<Any>& out);

}  // namespace cairn::crdt
