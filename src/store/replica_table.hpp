// ReplicaTable — replica ids interned for the entries that name them.
//
// Entries keep a pointer to their writer's id; the file keeps a small integer (a "ref"). The
// strings live in a deque, so pointers stay valid for the table's life and readers may
// dereference them without a lock. Adding and looking up refs is for the single writer.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cairn {

class ReplicaTable {
 public:
  const std::string* add(std::uint32_t ref, std::string id) {
    const std::string* name = &names_.emplace_back(std::move(id));
    by_name_[*name] = ref;
    by_ref_[ref] = name;
    ref_of_[name] = ref;
    return name;
  }
  const std::string* find(std::string_view id) const {
    auto it = by_name_.find(id);
    return it == by_name_.end() ? nullptr : by_ref_.at(it->second);
  }
  const std::string* by_ref(std::uint32_t ref) const {
    auto it = by_ref_.find(ref);
    return it == by_ref_.end() ? nullptr : it->second;
  }
  std::uint32_t ref_of(const std::string* name) const { return ref_of_.at(name); }
  // Drops a mapping whose file row was rolled back. The string stays alive (entries discarded
  // with the failed transaction may still point at it).
  void forget(std::uint32_t ref) {
    auto it = by_ref_.find(ref);
    if (it == by_ref_.end()) return;
    by_name_.erase(*it->second);
    ref_of_.erase(it->second);
    by_ref_.erase(it);
  }

 private:
  std::deque<std::string> names_;
  std::unordered_map<std::string_view, std::uint32_t> by_name_;
  std::unordered_map<std::uint32_t, const std::string*> by_ref_;
  std::unordered_map<const std::string*, std::uint32_t> ref_of_;
};

}  // namespace cairn
