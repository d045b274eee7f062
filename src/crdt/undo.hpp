// Undo and redo (Yjs: utils/UndoManager.js): a user's own changes to some types, captured per
// transaction and grouped while they come faster than a capture timeout, undone by deleting what
// they inserted and bringing back what they deleted — as new items, so that undo is itself a
// change that syncs. Other users' changes are not undone; with the same history, Cairn's undo
// makes the bytes Yjs's makes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "crdt/doc.hpp"

namespace cairn::crdt {

struct UndoOptions {
  // Changes closer together than this are undone together (Yjs's captureTimeout).
  std::chrono::milliseconds capture_timeout{500};
  // Transactions with these origins are tracked; nullptr stands for edits without an origin.
  // The undo manager's own transactions are always tracked (they fill the redo stack).
  std::vector<const void*> tracked_origins{nullptr};
  // A map key overwritten by another user is restored over their value on undo (Yjs's
  // ignoreRemoteMapChanges) instead of being left alone.
  bool ignore_remote_map_changes = false;
  // Which items an undo may delete, and which transactions to capture (default: all).
  std::function<bool(const Item&)> delete_filter;
  std::function<bool(const Transaction&)> capture_transaction;
  // Milliseconds on some monotonic clock (default: the steady clock); tests drive their own.
  std::function<std::int64_t()> now;
};

class UndoManager {
 public:
  using Options = UndoOptions;

  // What one undo (or redo) step takes back: the ids it inserted and the ids it deleted.
  struct StackItem {
    DeleteSet insertions;
    DeleteSet deletions;
  };

  // Tracks changes to the types in `scope` (and everything nested in them) in `doc`, which must
  // outlive it.
  UndoManager(Doc& doc, std::vector<Type*> scope, Options options = {});
  ~UndoManager();
  UndoManager(const UndoManager&) = delete;
  UndoManager& operator=(const UndoManager&) = delete;

  // Take back the last step (move it to the redo stack), or do again the last undone step.
  // Whether there was one that changed something.
  bool undo();
  bool redo();
  bool can_undo() const { return !undo_stack_.empty(); }
  bool can_redo() const { return !redo_stack_.empty(); }
  const std::vector<StackItem>& undo_stack() const { return undo_stack_; }
  const std::vector<StackItem>& redo_stack() const { return redo_stack_; }

  // The next change starts a new step, however soon it comes.
  void stop_capturing() { last_change_.reset(); }
  void clear(bool undo_stack = true, bool redo_stack = true);
  void add_to_scope(Type& type);
  void add_tracked_origin(const void* origin);
  void remove_tracked_origin(const void* origin);

 private:
  void after_transaction(Transaction& transaction);
  bool pop(std::vector<StackItem>& stack, bool& doing);
  Item* redo_item(Transaction& t, Item& item, const std::vector<Item*>& redo_items,
                  const DeleteSet& inserted);
  bool in_scope(const Item& item) const;
  bool tracked(const void* origin) const;

  Doc& doc_;
  std::vector<Type*> scope_;
  Options options_;
  std::vector<StackItem> undo_stack_;
  std::vector<StackItem> redo_stack_;
  bool undoing_ = false;
  bool redoing_ = false;
  std::optional<std::int64_t> last_change_;
  std::uint64_t handler_ = 0;
};

}  // namespace cairn::crdt
