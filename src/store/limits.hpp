// Checks of keys and values against Limits, shared by every write path.
#pragma once

#include <cairn/schema.hpp>
#include <string_view>

namespace cairn {

// Throws Error(invalid_key) unless `key` is non-empty, valid UTF-8 and at most
// limits.max_key_bytes long.
void check_key(std::string_view store, std::string_view key, const Limits& limits);

// Throws Error(value_too_large) when a serialized value is over limits.max_value_bytes.
void check_value_size(std::string_view store, std::string_view key, std::size_t bytes,
                      const Limits& limits);

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace cairn
