// The inside of a Doc: each client's structs in clock order, what waits for missing
// dependencies (Yjs's StructStore), and how transactions run. Shared by the crdt layer's sources;
// not an API.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "crdt/doc.hpp"

namespace cairn::crdt {

// Structs decoded from an update, not yet integrated.
using Structs = std::vector<std::unique_ptr<Item>>;
// A client's integrated structs in clock order, owned by the store: a vector of plain pointers
// with a gap where the last insertion or removal was. Splitting and merging structs insert and
// remove in the middle, near the last edit (edits are local), so the gap moves a few pointers
// where a vector would shift its whole tail; new structs have the highest clocks and go after
// the end.
class StructList {
 public:
  class Iterator {
   public:
    using value_type = Item*;
    using difference_type = std::ptrdiff_t;
    Iterator(const StructList& list, std::size_t index) : list_(&list), index_(index) {}
    Item* operator*() const { return (*list_)[index_]; }
    Iterator& operator++() {
      ++index_;
      return *this;
    }
    bool operator==(const Iterator& other) const { return index_ == other.index_; }

   private:
    const StructList* list_;
    std::size_t index_;
  };

  std::size_t size() const { return slots_.size() - (gap_end_ - gap_begin_); }
  bool empty() const { return size() == 0; }
  Item* const& operator[](std::size_t i) const { return slots_[slot(i)]; }
  Item*& operator[](std::size_t i) { return slots_[slot(i)]; }
  Item* front() const { return (*this)[0]; }
  Item* back() const { return slots_.back(); }  // the gap never ends the slots when not empty
  Iterator begin() const { return {*this, 0}; }
  // The index of the struct holding `clock` (which the list must hold). Looked for first where
  // the last search found its struct and just after, then by bisection.
  std::size_t index_of(std::uint64_t clock) const;
  Iterator end() const { return {*this, size()}; }

  void push_back(Item* item) {
    if (gap_end_ == slots_.size()) {  // an empty gap, or one that would end the slots
      slots_.resize(gap_begin_);
      gap_end_ = gap_begin_;
    }
    slots_.push_back(item);
  }

  // Inserts `item` before index `i`.
  void insert(std::size_t i, Item* item) {
    move_gap(i);
    if (gap_begin_ == gap_end_) {
      const std::size_t room = 16 + size() / 32;
      slots_.insert(slots_.begin() + static_cast<std::ptrdiff_t>(gap_begin_), room, nullptr);
      gap_end_ += room;
    }
    slots_[gap_begin_++] = item;
    if (gap_end_ == slots_.size()) close_gap();
  }

  // Removes `count` items from index `i` on (not deleting them).
  void erase(std::size_t i, std::size_t count) {
    move_gap(i);
    gap_end_ += count;
    if (gap_end_ == slots_.size() || gap_end_ - gap_begin_ > 64 + size() / 2) close_gap();
  }

 private:
  std::size_t slot(std::size_t i) const { return i < gap_begin_ ? i : i + gap_end_ - gap_begin_; }

  void move_gap(std::size_t i) {
    const auto at = [&](std::size_t n) { return slots_.begin() + static_cast<std::ptrdiff_t>(n); };
    if (i < gap_begin_) {
      std::move_backward(at(i), at(gap_begin_), at(gap_end_));
      gap_end_ -= gap_begin_ - i;
      gap_begin_ = i;
    } else if (i > gap_begin_) {
      const std::size_t n = i - gap_begin_;
      std::move(at(gap_end_), at(gap_end_ + n), at(gap_begin_));
      gap_begin_ = i;
      gap_end_ += n;
    }
  }

  void close_gap() {
    slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(gap_begin_),
                 slots_.begin() + static_cast<std::ptrdiff_t>(gap_end_));
    gap_end_ = gap_begin_;
  }

  std::vector<Item*> slots_;
  mutable std::size_t hint_ = 0;  // the last index found
  std::size_t gap_begin_ = 0;     // slots_[gap_begin_, gap_end_) hold nothing
  std::size_t gap_end_ = 0;
};

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
  void state_vector_into(StateVector& vector) const;  // reusing the vector's nodes
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
  if (spare_ != nullptr) {
    spare_->begin(local, origin);
    committing_.push_back(std::move(spare_));
  } else {
    committing_.push_back(std::make_unique<Transaction>(*this, local, origin));
  }
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
