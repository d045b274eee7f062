// cairn/merge_policy.hpp — how concurrent writes to a store's entries combine.
//
// Merge policies decide how concurrent writes from different replicas combine:
//   lww        the whole entry: the write with the greatest (HLC, replica) wins.
//   field_lww  each top-level field of an object separately, so that concurrent edits to
//              different fields both survive. A value that is not an object is merged whole.
//   text       each entry is a collaborative document (a Yjs document, docs/collaboration.md),
//              changed through Transaction::update_document and its text edits; concurrent
//              edits merge character by character, as Yjs merges them.
// Either lww policy may name counter fields (top-level numeric fields of object values): concurrent
// increments add up instead of overwriting each other. Counter fields require field_lww.
//
// The rules themselves live in one module that every replica and the server share (src/merge).
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace cairn {

struct MergePolicy {
  enum class Kind { lww, field_lww, text };

  Kind kind = Kind::lww;
  std::vector<std::string> counters;  // counter fields; sorted and unique once validated

  static MergePolicy whole_entry() { return {}; }
  static MergePolicy per_field(std::vector<std::string> counter_fields = {}) {
    return {Kind::field_lww, std::move(counter_fields)};
  }

  // A store of collaborative documents.
  static MergePolicy document() { return {Kind::text, {}}; }

  bool is_counter(std::string_view field) const;

  // JSON form: {"merge": "lww"}, {"merge": "field-lww", "counters": ["xp"]} or
  // {"merge": "text"}.
  boost::json::value to_json() const;
  // Throws Error(invalid_argument) on an unknown policy or counters without field-lww.
  static MergePolicy from_json(const boost::json::value& json);

  friend bool operator==(const MergePolicy&, const MergePolicy&) = default;
};

// Checks and normalizes (sorts counters); throws Error(invalid_argument).
void validate_policy(MergePolicy& policy);

}  // namespace cairn
