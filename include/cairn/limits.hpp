// cairn/limits.hpp — the bounds every write is checked against.
//
// A write that would exceed one fails whole with a typed error (invalid_key, value_too_large,
// quota_exceeded) and nothing of it is written. The server checks what clients send against the
// same bounds (its own configuration of them).
#pragma once

#include <cstddef>

namespace cairn {

struct Limits {
  std::size_t max_key_bytes = 1024;                // keys: non-empty UTF-8, at most this long
  std::size_t max_value_bytes = 1024 * 1024;       // one value, serialized as JSON
  std::size_t max_store_bytes = 50 * 1024 * 1024;  // keys + serialized values of live entries
  // A store holding this share of max_store_bytes or more is reported (DatabaseOptions::on_quota,
  // StoreInfo, cairn inspect) before writes to it start failing.
  double quota_warning = 0.8;
};

}  // namespace cairn
