// The JSON forms that replicas and cairnd exchange (docs/protocol.md), shared by the server and
// the sync client so that both read and write them alike.
//
//   HLC          "1764058271123:5" (physical milliseconds, colon, logical counter)
//   stamp        {"hlc": "...", "replica": "..."}
//   entry meta   {"hlc", "replica", "schemaVersion", "deleted"?: true,
//                 "fields"?: {name: {"hlc", "replica", "deleted"?: true}},
//                 "floor"?: {"hlc", "replica"}}
//   change       {"seq", "store", "key", "op": "put" | "patch" | "delete" | "update", "value"? |
//                 "set"? | "unset"? | "add"? | "update"? (base64 of a Yjs update v1), "hlc"?,
//                 "schemaVersion"?}
//
// Decoders take untrusted input: every malformed shape throws Error(invalid_value) with a message
// that names what is wrong; nothing else escapes.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cairn/clock.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "merge/entry.hpp"

namespace cairn::protocol {

// A JSON number as a T when it is an integer T holds exactly; nothing for a fraction, a negative
// number read as unsigned, a number out of T's range, or a value that is not a number.
template <class T>
std::optional<T> exact_integer(const boost::json::value& value) {
  if (!value.is_number()) return std::nullopt;
  std::error_code error;
  const T number = value.to_number<T>(error);
  if (error) return std::nullopt;
  return number;
}

std::string hlc_to_wire(Timestamp t);
Timestamp hlc_from_wire(std::string_view text);  // throws Error(invalid_value)

// Keeps the replica ids that stamps point to alive (merge::Stamp holds a pointer). Moving keeps
// the pointers valid; a copy would not, so there is none: what holds an interner with the entries
// that point into it (a feed page, a full response) moves, never copies.
class ReplicaInterner {
 public:
  ReplicaInterner() = default;
  ReplicaInterner(ReplicaInterner&&) = default;
  ReplicaInterner& operator=(ReplicaInterner&&) = default;
  ReplicaInterner(const ReplicaInterner&) = delete;
  ReplicaInterner& operator=(const ReplicaInterner&) = delete;

  const std::string* intern(std::string_view replica);

 private:
  std::unordered_set<std::string> replicas_;
};

// An entry's metadata (everything but its value) in wire form, and back.
boost::json::object entry_meta_to_json(const merge::Entry& entry);
void entry_meta_from_json(const boost::json::value& json, merge::Entry& entry,
                          ReplicaInterner& replicas);

// Per-field stamps and floor only ({"fields"?, "floor"?}); empty object when there are none.
boost::json::object stamps_to_json(const merge::Entry& entry);
void stamps_from_json(const boost::json::value& json, merge::Entry& entry,
                      ReplicaInterner& replicas);

// One change as a client sends it (the "changes" array of a patch).
struct WireChange {
  std::uint64_t seq = 0;  // the client's change sequence number; 0 when it sent none
  std::string store;
  std::string key;
  merge::Change change;  // stamp.hlc is zero when the client sent no clock
};
boost::json::object change_to_json(const WireChange& change);

// A change as the sync client's outbox keeps it: the payload (its "value", "set", "unset" or
// "add" members) is JSON object text, merge::change_payload's ("null" for a delete). The client
// sends its outbox without parsing it back.
struct StoredChange {
  std::uint64_t seq = 0;
  std::string_view store;
  std::string_view key;
  std::string_view op;
  std::string_view payload;
  Timestamp hlc;  // zero: none
  std::uint32_t schema_version = 0;
};
// Appends the change's JSON text (change_to_json's members); Error(invalid_value) when the
// payload is not an object's text.
void append_change_text(std::string& out, const StoredChange& change);
// `replica` is the sending client's id, which stamps the change. Takes the values out of `json`.
WireChange change_from_json(boost::json::value&& json, const std::string* replica);

}  // namespace cairn::protocol
