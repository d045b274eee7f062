#include "foundation/limits.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cairn/error.hpp>

namespace cairn {

bool is_valid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    std::uint32_t code;
    if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > n) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      code = (code << 6) | (s[i + k] & 0x3F);
    }
    static constexpr std::uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

void check_store_name(std::string_view name) {
  const bool ok =
      !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
      });
  if (!ok) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("invalid store name '{}': use 1 to 128 of A-Z a-z 0-9 _ - .", name));
  }
}

void check_key(std::string_view store, std::string_view key, const Limits& limits) {
  if (key.empty()) {
    throw Error(ErrorCode::invalid_key, fmt::format("store '{}': keys must not be empty", store));
  }
  if (key.size() > limits.max_key_bytes) {
    throw Error(ErrorCode::invalid_key,
                fmt::format("store '{}': a key of {} bytes is over the limit of {} bytes", store,
                            key.size(), limits.max_key_bytes));
  }
  if (!is_valid_utf8(key)) {
    throw Error(ErrorCode::invalid_key, fmt::format("store '{}': keys must be valid UTF-8", store));
  }
}

void check_value_size(std::string_view store, std::string_view key, std::size_t bytes,
                      const Limits& limits) {
  if (bytes > limits.max_value_bytes) {
    throw Error(ErrorCode::value_too_large,
                fmt::format("store '{}', key '{}': a value of {} bytes is over the limit of {} "
                            "bytes",
                            store, key, bytes, limits.max_value_bytes));
  }
}

std::string document_name(std::string_view store, std::string_view key) {
  std::string name;
  name.reserve(store.size() + 1 + key.size());
  name.append(store).append(1, '/').append(key);
  return name;
}

bool valid_document_name(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ':' || c == '/';
    if (!ok) return false;
  }
  return true;
}

}  // namespace cairn
