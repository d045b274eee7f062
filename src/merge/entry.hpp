// The merge module: how writes to an entry combine. The one place where Cairn's conflict rules
// live: the local store plans its own writes with it, the server applies what clients send with
// it, and the sync client rebases its pending writes with it, so that every replica decides alike.
//
// Every write carries a Stamp, (HLC, replica id), and stamps are totally ordered: by HLC, then by
// replica id bytewise. The greater stamp wins.
//
// Rules (apply_change):
//   lww stores, and values that are not objects: the whole entry goes to the greatest stamp;
//     a delete is a tombstone ordered like any write.
//   field-lww stores: a patch sets or removes top-level fields, each going to the greatest stamp
//     that set or removed it. An entry delete at stamp D removes every field written before D
//     and sets the entry's `floor` to D: later-arriving writes stamped before D are ignored,
//     whatever order replicas see them in; fields written after D survive the delete. A whole
//     object put at S replaces the entry the same way: a delete at S, then its fields set at S.
//   counter fields: increments (patch "add") add up, in any order, except increments stamped at
//     or before the floor, which a delete or whole put has already swept away. A whole put sets
//     a counter like any field; convergence of counters is guaranteed for increments.
//   text stores (documents): an entry's value is {"yjs": "<base64: the document's whole state as
//     a Yjs update v1>"} and a change is a Yjs update (op "update"), merged by the CRDT
//     (src/crdt) so that every order of delivery converges; its stamp only moves the entry's
//     stamp forward. Documents are never deleted.
//
// Entry invariant: `fields` is empty when every present field carries the entry's stamp and no
// field was removed; otherwise it lists every present field and every removed field ("field
// tombstone") with its own stamp, sorted by name. The entry's stamp is the greatest stamp applied
// to it.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cairn/clock.hpp>
#include <cairn/merge_policy.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::merge {

struct Stamp {
  Timestamp hlc;
  const std::string* replica = nullptr;  // interned by the owner; outlives every entry using it

  bool is_zero() const { return hlc.is_zero() && replica == nullptr; }
  std::string_view replica_view() const { return replica ? std::string_view(*replica) : ""; }

  friend bool operator==(const Stamp& a, const Stamp& b) {
    return a.hlc == b.hlc && a.replica_view() == b.replica_view();
  }
  friend bool operator<(const Stamp& a, const Stamp& b) {
    if (a.hlc != b.hlc) return a.hlc < b.hlc;
    return a.replica_view() < b.replica_view();
  }
  friend bool operator>(const Stamp& a, const Stamp& b) { return b < a; }
  friend bool operator<=(const Stamp& a, const Stamp& b) { return !(b < a); }
};

struct FieldStamp {
  std::string name;
  Stamp stamp;
  bool deleted = false;
};

struct Entry {
  boost::json::value value;  // meaningful only when !deleted
  bool deleted = true;       // a tombstone, or an entry never written (zero stamp)
  Stamp stamp;
  std::uint32_t schema_version = 0;
  std::vector<FieldStamp> fields;  // see the invariant above
  Stamp floor;                     // field-lww: the latest entry delete; zero when none
};

// One write, as replicas exchange it (an outbox record with its stamp).
struct Change {
  enum class Op { put, patch, erase, update };
  Op op = Op::put;
  std::string update;              // update: a Yjs update v1 (bytes)
  boost::json::value value;        // put: the whole new value
  boost::json::object set;         // patch: fields set to new values
  std::vector<std::string> unset;  // patch: fields removed
  boost::json::object add;         // patch: counter increments
  Stamp stamp;
  std::uint32_t schema_version = 0;  // the store version the change is written in
};

// What apply_change did.
struct Applied {
  bool changed = false;   // the entry is different afterwards
  bool rejected = false;  // the change, or part of it, lost to newer writes already applied
  bool verbatim = false;  // a put's value became the entry's value as it was sent
};

// Applies `change` to `entry` under `policy` (see the rules above). Applying the same change twice
// is harmless except for counter increments, which is why changes are delivered exactly once.
Applied apply_change(Entry& entry, const Change& change, const MergePolicy& policy);
// The same, moving a whole put's value into the entry instead of copying it.
Applied apply_change(Entry& entry, Change&& change, const MergePolicy& policy);

// The outbox form of a change (cairn/entry.hpp, OutboxRecord): "put" {"value": V},
// "patch" {"set", "unset", "add"}, "delete" null, "update" {"update": "<base64>"}.
std::string_view op_name(Change::Op op);
boost::json::value change_payload(const Change& change);
// Throws Error(invalid_value) when op or payload are malformed.
Change change_from_payload(std::string_view op, const boost::json::value& payload, Stamp stamp,
                           std::uint32_t schema_version);
// The same, taking the values out of `payload` instead of copying them.
Change change_from_payload(std::string_view op, boost::json::value&& payload, Stamp stamp,
                           std::uint32_t schema_version);

// A local write, planned: the entry as it will be, and the change that describes it.
struct LocalWrite {
  Entry entry;
  Change change;
};

// Plans replacing `current` by `next`. For field-lww stores with object values the change lists
// only the fields that changed, and counter fields become increments. Returns nothing when the
// write would change nothing. Throws Error(invalid_value) when a counter field is not a number or
// is removed.
std::optional<LocalWrite> plan_put(const Entry& current, boost::json::value next,
                                   const MergePolicy& policy, Stamp stamp,
                                   std::uint32_t schema_version);

// Plans deleting `current`; nothing when it is already deleted.
std::optional<LocalWrite> plan_erase(const Entry& current, const MergePolicy& policy, Stamp stamp,
                                     std::uint32_t schema_version);

// Plans adding `delta` to counter `field`. Throws Error(invalid_value) when the field is not a
// declared counter or the entry's value is not an object with a number there.
LocalWrite plan_increment(const Entry& current, std::string_view field, std::int64_t delta,
                          const MergePolicy& policy, Stamp stamp, std::uint32_t schema_version);

// Changes that write again what `replica` wrote into `entry` and still shows: each with its
// original stamp, so that a replica (the server after a restore) that lost them regains them, and
// one that has them changes nothing. Writes since replaced by others are left out; so are patches
// to counter fields (increments cannot be told apart from the sum), except within a whole put.
std::vector<Change> own_writes(const Entry& entry, const MergePolicy& policy,
                               std::string_view replica);

// --- Documents (text stores; document.cpp) ---
// The document's state (a Yjs update v1) that a text store's entry holds; empty for none.
// Throws Error(corrupt) when the entry's value is not a document's.
std::string document_state(const Entry& entry);
// Plans applying `update` (a Yjs update v1) to a document entry; nothing when it adds nothing
// (every part of it is there already). Throws Error(invalid_value) when it does not decode.
std::optional<LocalWrite> plan_update(const Entry& current, std::string update, Stamp stamp,
                                      std::uint32_t schema_version);
// The update that edits root text `root` of the document `state`, as Yjs client `client`:
// `erase` UTF-16 code units from `index` removed, then `insert` (UTF-8) inserted there. Empty
// when it changes nothing. Throws Error(invalid_argument) for a range beyond the text, or a root
// of another kind.
std::string text_edit(std::string_view state, std::uint64_t client, const std::string& root,
                      std::uint64_t index, std::uint64_t erase, std::string_view insert);
// The state vector of the document `state` (per Yjs client, the clock it holds up to; empty for
// none), as crdt::StateVector.
std::map<std::uint64_t, std::uint64_t> document_state_vector(std::string_view state);
// Root text `root` of the document `state`, as UTF-8 (empty when there is none).
std::string document_text(std::string_view state, const std::string& root);

// The value a patch leaves when applied to `base` without any stamps: how lww stores apply a patch
// (a base that is not an object counts as {}).
boost::json::value patched(boost::json::value base, const Change& change);

// Every present field and field tombstone of `entry` with its stamp, sorted by name (the
// invariant's implicit form made explicit).
std::vector<FieldStamp> field_stamps(const Entry& entry);

// a + b for JSON numbers: exact in 64-bit integers when both are integers and the sum fits,
// otherwise in double.
boost::json::value add_numbers(const boost::json::value& a, const boost::json::value& b);
boost::json::value subtract_numbers(const boost::json::value& a, const boost::json::value& b);

}  // namespace cairn::merge
