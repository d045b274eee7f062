// EntryStamps — the per-field stamps and delete floor of a field-lww entry, as the entries table
// keeps them (the `field_stamps` column, see local_file.hpp):
//   {"fields": [["field", packed_hlc, replica_ref, deleted], ...], "floor": [packed_hlc,
//   replica_ref]}
// each member only when there is something to say, and no text at all when there is neither.
// Replicas are the file's small integer refs (the replicas table), not their ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn {

struct StoredStamp {
  std::uint64_t hlc = 0;  // packed (Timestamp::packed)
  std::uint32_t replica_ref = 0;
};

struct StoredFieldStamp {
  std::string name;
  StoredStamp stamp;
  bool deleted = false;
};

struct EntryStamps {
  std::vector<StoredFieldStamp> fields;
  std::optional<StoredStamp> floor;

  bool empty() const { return fields.empty() && !floor; }
};

// The column's text; empty when `stamps` is empty.
std::string encode_entry_stamps(const EntryStamps& stamps);
// Throws Error(corrupt) naming the store and key when `text` is not what encode wrote.
EntryStamps decode_entry_stamps(std::string_view text, std::string_view store,
                                std::string_view key);

}  // namespace cairn
