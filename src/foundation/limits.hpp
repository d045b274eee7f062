// Checks of names, keys and values against Limits, shared by every write path: the local store
// checks what the application writes, the server what clients send.
#pragma once

#include <cairn/limits.hpp>
#include <cstddef>
#include <string>
#include <string_view>

namespace cairn {

// Throws Error(invalid_argument) unless `name` is a valid store name: 1 to 128 bytes of
// A-Z a-z 0-9 _ - .
void check_store_name(std::string_view name);

// Throws Error(invalid_key) unless `key` is non-empty, valid UTF-8 and at most
// limits.max_key_bytes long.
void check_key(std::string_view store, std::string_view key, const Limits& limits);

// Throws Error(value_too_large) when a serialized value is over limits.max_value_bytes.
void check_value_size(std::string_view store, std::string_view key, std::size_t bytes,
                      const Limits& limits);

// A collaborative document's name: 1 to 256 characters of A-Z a-z 0-9 _ - . : / (y-websocket
// does not encode a room's name in its URL). The document of entry `key` of document store
// `store` is named "<store>/<key>".
bool valid_document_name(std::string_view name);
std::string document_name(std::string_view store, std::string_view key);

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace cairn
