// The inside of a Doc: each client's structs in clock order, what waits for missing
// dependencies, and the transaction that integrates and cleans up (Yjs's StructStore and
// Transaction). Shared by doc.cpp, update.cpp and types.cpp; not an API.
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
  // Bumped by every remote update: positions cached in types (Type::marker) end with it.
  std::uint64_t epoch = 1;

  std::uint64_t state(std::uint64_t client) const;
  StateVector state_vector() const;
  // The index of the struct holding `clock` in `structs` (which must hold it).
  static std::size_t find_index(const StructList& structs, std::uint64_t clock);
  Item* find(const ID& id);
  void add(std::unique_ptr<Item> item);
  StructList& structs(std::uint64_t client) { return clients.at(client); }
};

class Transaction {
 public:
  Transaction(Doc& doc, bool local);
  ~Transaction();  // cleans up: garbage collection and merging, as Yjs's cleanupTransactions

  Doc& doc;
  bool local;
  DeleteSet deletes;
  StateVector before;
  std::vector<ID> merge_structs;  // structs to try merging with their neighbours at the end

  // Splits the item holding `id` so that one starts at it; that item.
  Item* item_clean_start(const ID& id);
  // Splits the item holding `id` so that one ends at it; that item.
  Item* item_clean_end(const ID& id);
  // Splits `left` after `diff` clock units; the new right part (owned by the store).
  Item* split(Item& left, std::uint64_t diff);

  void integrate(std::unique_ptr<Item> item, std::uint64_t offset);
  void remove(Item& item);  // Item.delete
  // An item resolved for integration: nullopt when all it depends on is here, else the client it
  // waits for (Item.getMissing).
  std::optional<std::uint64_t> missing(Item& item);

  // A new local item after `left` and before `right` in `parent`.
  Item* insert(Type& parent, Item* left, Item* right, Name parent_sub, Content content);

 private:
  void gc_deleted();
  void merge_deleted();
  std::size_t merge_with_lefts(StructList& structs, std::size_t pos);
};

// Content operations Yjs's content classes implement.
Content split_content(Content& content, std::uint64_t offset);  // returns the right part
bool merge_content(Content& left, Content& right);              // appends right when it can

}  // namespace cairn::crdt
