// cairn/entry.hpp — metadata Cairn keeps beside every entry, and the outbox of local changes.
#pragma once

#include <boost/json/value.hpp>
#include <cairn/clock.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace cairn {

// The stamp of one top-level field of an entry in a field-lww store.
struct FieldInfo {
  std::string name;
  Timestamp hlc;
  std::string replica;
  bool deleted = false;  // the field was removed (a field tombstone)
};

// What the database knows about one entry besides its value.
struct EntryInfo {
  Timestamp hlc;                     // stamp of the latest write (the greatest over its fields)
  std::string replica;               // replica id of that write
  std::uint32_t schema_version = 0;  // the store's schema version the entry was written under
  bool deleted = false;              // a tombstone: reads do not see it, sync does
  bool pending = false;              // has local writes the server has not acknowledged yet
  std::vector<FieldInfo> fields;     // field-lww stores: every field's stamp, sorted by name
};

// One committed local change, waiting in the outbox to be sent to the server. Records are appended
// in the same SQLite transaction as the change they describe, numbered by a per-replica sequence
// that never repeats.
//
// op and payload:
//   "put"     {"value": V}                      the whole entry is now V
//   "patch"   {"set": {f: v}, "unset": [f], "add": {counter: delta}}
//                                                top-level fields changed (field-lww stores)
//   "delete"  null                               the entry was deleted
struct OutboxRecord {
  std::uint64_t seq = 0;
  std::string store;
  std::string key;
  std::string op;
  boost::json::value payload;
  Timestamp hlc;
  std::uint32_t schema_version = 0;  // the store version the payload is written in
};

}  // namespace cairn
