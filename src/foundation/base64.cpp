#include "foundation/base64.hpp"

#include <cstdint>

namespace cairn {
namespace {

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve(4 * ((bytes.size() + 2) / 3));
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += alphabet[(buffer >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += alphabet[(buffer << (6 - bits)) & 0x3F];
  while (pad && out.size() % 4 != 0)
    out += '=';
  return out;
}

int value_of(char c, const char* alphabet) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == alphabet[62]) return 62;
  if (c == alphabet[63]) return 63;
  return -1;
}

bool decode(std::string_view text, const char* alphabet, std::string& bytes) {
  bytes.clear();
  bytes.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const int value = value_of(c, alphabet);
    if (value < 0) return false;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return bits < 6;  // a single leftover character cannot come from whole bytes
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  return encode(bytes, kStandard, true);
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=')
    ++padding;
  if (padding > 0 && text.size() % 4 != 0) return std::nullopt;
  std::string bytes;
  if (!decode(text.substr(0, text.size() - padding), kStandard, bytes)) return std::nullopt;
  return bytes;
}

std::string base64url_encode(std::string_view bytes) {
  return encode(bytes, kUrl, false);
}

bool base64url_decode(std::string_view text, std::string& bytes) {
  return decode(text, kUrl, bytes);
}

}  // namespace cairn
