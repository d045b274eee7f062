// The merge module: how writes to an entry combine. The one place where Cairn's conflict rules
// live; the local store uses it for its own writes, and the sync client and the server will use
// the same code for remote ones, so that every replica decides alike.
//
// Every write carries a Stamp, (HLC, replica id), and stamps are totally ordered: by HLC, then by
// replica id bytewise. The greater stamp wins.
//
// Entries of field-lww stores may carry per-field stamps. Invariant: `fields` is empty when every
// present field carries the entry's stamp and no field was deleted; otherwise it lists every
// present field and every deleted field ("field tombstone") with its own stamp, sorted by name,
// and the entry's stamp is the greatest of them.
#pragma once

#include <boost/json/value.hpp>
#include <cairn/clock.hpp>
#include <cairn/schema.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::merge {

struct Stamp {
  Timestamp hlc;
  const std::string* replica = nullptr;  // interned by the owner; outlives every entry using it

  friend bool operator==(const Stamp& a, const Stamp& b) {
    return a.hlc == b.hlc && a.replica_view() == b.replica_view();
  }
  friend bool operator<(const Stamp& a, const Stamp& b) {
    if (a.hlc != b.hlc) return a.hlc < b.hlc;
    return a.replica_view() < b.replica_view();
  }
  std::string_view replica_view() const { return replica ? std::string_view(*replica) : ""; }
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
};

// A local write, planned: the entry as it will be, and the outbox record that describes it.
struct LocalWrite {
  Entry entry;
  std::string_view op;  // "put", "patch" or "delete" (see cairn/entry.hpp, OutboxRecord)
  boost::json::value payload;
};

// Plans replacing `current` by `next`. For field-lww stores with object values the record lists
// only the fields that changed, and counter fields are recorded as increments. Returns nothing
// when the write would change nothing. Throws Error(invalid_value) when a counter field is not a
// number.
std::optional<LocalWrite> plan_put(const Entry& current, boost::json::value next,
                                   const MergePolicy& policy, Stamp stamp,
                                   std::uint32_t schema_version);

// Plans deleting `current`; nothing when it is already deleted.
std::optional<LocalWrite> plan_erase(const Entry& current, Stamp stamp,
                                     std::uint32_t schema_version);

// Plans adding `delta` to counter `field`. Throws Error(invalid_value) when the field is not a
// declared counter or the entry's value is not an object with a number there.
LocalWrite plan_increment(const Entry& current, std::string_view field, std::int64_t delta,
                          const MergePolicy& policy, Stamp stamp, std::uint32_t schema_version);

// Every present field and field tombstone of `entry` with its stamp, sorted by name (the
// invariant's implicit form made explicit).
std::vector<FieldStamp> field_stamps(const Entry& entry);

// a + b for JSON numbers: exact in 64-bit integers when both are integers and the sum fits,
// otherwise in double.
boost::json::value add_numbers(const boost::json::value& a, const boost::json::value& b);

}  // namespace cairn::merge
