#include "crdt/lib0.hpp"

#include <algorithm>
#include <bit>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>

#include "foundation/json_text.hpp"

namespace cairn::crdt {

namespace {

constexpr std::uint64_t kMaxSafeInteger = (std::uint64_t{1} << 53) - 1;
constexpr double kBits31 = 2147483647.0;

[[noreturn]] void truncated() {
  throw DecodeError("the update ends early");
}

// A canonical array index, which JavaScript's Object.keys lists first, ascending.
bool array_index(std::string_view key, std::uint64_t& index) {
  if (key.empty() || key.size() > 10 || (key.size() > 1 && key[0] == '0')) return false;
  index = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    index = index * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return index < 4294967295ULL;
}

}  // namespace

std::vector<const std::pair<std::string, Any>*> js_key_order(const Any::Object& object) {
  std::vector<std::pair<std::uint64_t, const std::pair<std::string, Any>*>> indices;
  std::vector<const std::pair<std::string, Any>*> order;
  for (const auto& member : object) {
    std::uint64_t index = 0;
    if (array_index(member.first, index)) {
      indices.emplace_back(index, &member);
    } else {
      order.push_back(&member);
    }
  }
  std::sort(indices.begin(), indices.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const std::pair<std::string, Any>*> all;
  for (const auto& [index, member] : indices)
    all.push_back(member);
  all.insert(all.end(), order.begin(), order.end());
  return all;
}

namespace {

// A JSON string, escaped as everywhere in Cairn (foundation/json_text).
void append_json_string(std::string& out, std::string_view utf8_text) {
  append_json_text(
      out, boost::json::value(boost::json::string_view(utf8_text.data(), utf8_text.size())));
}

void append_json(std::string& out, const Any& any) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Any::Undefined> || std::is_same_v<T, std::nullptr_t>) {
          out += "null";
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::isfinite(v)) {
            append_json_number(out, v);
          } else {
            out += "null";
          }
        } else if constexpr (std::is_same_v<T, Any::BigInt>) {
          out += std::to_string(v.value);  // JSON.stringify throws on a bigint; a number here
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          append_json_string(out, v);
        } else if constexpr (std::is_same_v<T, Any::Object>) {
          out += '{';
          bool first = true;
          for (const auto* member : js_key_order(v)) {
            if (member->second.is_undefined()) continue;
            if (!first) out += ',';
            first = false;
            append_json_string(out, member->first);
            out += ':';
            append_json(out, member->second);
          }
          out += '}';
        } else if constexpr (std::is_same_v<T, Any::Array>) {
          out += '[';
          for (std::size_t i = 0; i < v.size(); ++i) {
            if (i > 0) out += ',';
            append_json(out, v[i]);
          }
          out += ']';
        } else {  // Bytes: a Uint8Array stringifies as {"0":…,"1":…}
          out += '{';
          for (std::size_t i = 0; i < v.size(); ++i) {
            if (i > 0) out += ',';
            out += '"' + std::to_string(i) + "\":" + std::to_string(v[i]);
          }
          out += '}';
        }
      },
      any.value);
}

}  // namespace

namespace {

Any from_json(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null:
      return Any(nullptr);
    case boost::json::kind::bool_:
      return Any(value.get_bool());
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return Any(value.to_number<double>());
    case boost::json::kind::string:
      return Any(std::string(value.get_string()));
    case boost::json::kind::array: {
      Any::Array array;
      for (const auto& element : value.get_array())
        array.push_back(from_json(element));
      return Any(std::move(array));
    }
    case boost::json::kind::object: {
      Any::Object object;
      for (const auto& [key, member] : value.get_object())
        object.emplace_back(std::string(key), from_json(member));
      return Any(std::move(object));
    }
  }
  return Any();
}

}  // namespace

Any any_from_json(std::string_view json) {
  boost::json::parse_options options;
  options.max_depth = kMaxAnyDepth;
  std::error_code error;
  const boost::json::value value = boost::json::parse(json, error, {}, options);
  if (error) throw DecodeError("a value in the update is not JSON");
  return from_json(value);
}

std::string js_string(const Any& any) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Any::Undefined>) {
          return "undefined";
        } else if constexpr (std::is_same_v<T, std::nullptr_t>) {
          return "null";
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::isnan(v)) return "NaN";
          if (std::isinf(v)) return v < 0 ? "-Infinity" : "Infinity";
          std::string out;
          append_json_number(out, v);
          return out;
        } else if constexpr (std::is_same_v<T, Any::BigInt>) {
          return std::to_string(v.value);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, Any::Object>) {
          return "[object Object]";
        } else if constexpr (std::is_same_v<T, Any::Array>) {
          std::string out;  // elements joined by ",", null and undefined as ""
          for (std::size_t i = 0; i < v.size(); ++i) {
            if (i > 0) out += ',';
            if (!v[i].is_undefined() && !std::holds_alternative<std::nullptr_t>(v[i].value))
              out += js_string(v[i]);
          }
          return out;
        } else {
          std::string out;
          for (std::size_t i = 0; i < v.size(); ++i)
            out += (i > 0 ? "," : "") + std::to_string(v[i]);
          return out;
        }
      },
      any.value);
}

bool operator==(const Any& a, const Any& b) {
  return a.value == b.value;
}

std::string to_json(const Any& any) {
  std::string out;
  append_json(out, any);
  return out;
}

// --- Encoder ---

void Encoder::write_var_uint(std::uint64_t number) {
  while (number > 0x7F) {
    bytes_.push_back(static_cast<std::uint8_t>(0x80 | (number & 0x7F)));
    number >>= 7;
  }
  bytes_.push_back(static_cast<std::uint8_t>(number));
}

void Encoder::write_var_int(double number) {
  const bool negative = std::signbit(number);
  auto magnitude = static_cast<std::uint64_t>(negative ? -number : number);
  write_u8(static_cast<std::uint8_t>((magnitude > 0x3F ? 0x80 : 0) | (negative ? 0x40 : 0) |
                                     (magnitude & 0x3F)));
  magnitude >>= 6;
  while (magnitude > 0) {
    write_u8(static_cast<std::uint8_t>((magnitude > 0x7F ? 0x80 : 0) | (magnitude & 0x7F)));
    magnitude >>= 7;
  }
}

void Encoder::write_var_string(std::string_view utf8_text) {
  write_var_uint(utf8_text.size());
  bytes_.insert(bytes_.end(), utf8_text.begin(), utf8_text.end());
}

void Encoder::write_var_bytes(std::span<const std::uint8_t> bytes) {
  write_var_uint(bytes.size());
  write_raw(bytes);
}

void Encoder::write_raw(std::span<const std::uint8_t> bytes) {
  bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
}

void Encoder::write_float32(float number) {
  const auto bits = std::bit_cast<std::uint32_t>(number);
  for (int shift = 24; shift >= 0; shift -= 8)
    write_u8(static_cast<std::uint8_t>(bits >> shift));
}

void Encoder::write_float64(double number) {
  const auto bits = std::bit_cast<std::uint64_t>(number);
  for (int shift = 56; shift >= 0; shift -= 8)
    write_u8(static_cast<std::uint8_t>(bits >> shift));
}

void Encoder::write_bigint64(std::int64_t number) {
  const auto bits = static_cast<std::uint64_t>(number);
  for (int shift = 56; shift >= 0; shift -= 8)
    write_u8(static_cast<std::uint8_t>(bits >> shift));
}

void Encoder::write_any(const Any& any) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Any::Undefined>) {
          write_u8(127);
        } else if constexpr (std::is_same_v<T, std::nullptr_t>) {
          write_u8(126);
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::isfinite(v) && std::trunc(v) == v && std::fabs(v) <= kBits31) {
            write_u8(125);
            write_var_int(v);
          } else if (std::isnan(v) || static_cast<double>(static_cast<float>(v)) != v) {
            write_u8(123);
            write_float64(v);
          } else {
            write_u8(124);
            write_float32(static_cast<float>(v));
          }
        } else if constexpr (std::is_same_v<T, Any::BigInt>) {
          write_u8(122);
          write_bigint64(v.value);
        } else if constexpr (std::is_same_v<T, bool>) {
          write_u8(v ? 120 : 121);
        } else if constexpr (std::is_same_v<T, std::string>) {
          write_u8(119);
          write_var_string(v);
        } else if constexpr (std::is_same_v<T, Any::Object>) {
          write_u8(118);
          const auto order = js_key_order(v);
          write_var_uint(order.size());
          for (const auto* member : order) {
            write_var_string(member->first);
            write_any(member->second);
          }
        } else if constexpr (std::is_same_v<T, Any::Array>) {
          write_u8(117);
          write_var_uint(v.size());
          for (const Any& element : v)
            write_any(element);
        } else {
          write_u8(116);
          write_var_bytes(v);
        }
      },
      any.value);
}

// --- Decoder ---

std::uint8_t Decoder::read_u8() {
  if (position_ >= bytes_.size()) truncated();
  return bytes_[position_++];
}

std::uint64_t Decoder::read_var_uint() {
  std::uint64_t number = 0;
  for (int shift = 0;; shift += 7) {
    const std::uint8_t byte = read_u8();
    if (shift > 49) throw DecodeError("a number in the update is too large");
    number |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if (number > kMaxSafeInteger) throw DecodeError("a number in the update is too large");
    if ((byte & 0x80) == 0) return number;
  }
}

double Decoder::read_var_int() {
  std::uint8_t byte = read_u8();
  std::uint64_t number = byte & 0x3F;
  const bool negative = (byte & 0x40) != 0;
  for (int shift = 6; (byte & 0x80) != 0; shift += 7) {
    byte = read_u8();
    if (shift > 48) throw DecodeError("a number in the update is too large");
    number |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if (number > kMaxSafeInteger) throw DecodeError("a number in the update is too large");
  }
  const auto value = static_cast<double>(number);
  return negative ? -value : value;
}

std::span<const std::uint8_t> Decoder::read_raw(std::size_t count) {
  if (count > remaining()) truncated();
  const auto out = bytes_.subspan(position_, count);
  position_ += count;
  return out;
}

std::string Decoder::read_var_string() {
  const std::uint64_t size = read_var_uint();
  if (size > remaining()) truncated();
  const auto raw = read_raw(static_cast<std::size_t>(size));
  // TextDecoder: invalid UTF-8 becomes U+FFFD.
  return utf8(utf16(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size())));
}

std::span<const std::uint8_t> Decoder::read_var_bytes() {
  const std::uint64_t size = read_var_uint();
  if (size > remaining()) truncated();
  return read_raw(static_cast<std::size_t>(size));
}

float Decoder::read_float32() {
  std::uint32_t bits = 0;
  for (std::uint8_t byte : read_raw(4))
    bits = (bits << 8) | byte;
  return std::bit_cast<float>(bits);
}

double Decoder::read_float64() {
  std::uint64_t bits = 0;
  for (std::uint8_t byte : read_raw(8))
    bits = (bits << 8) | byte;
  return std::bit_cast<double>(bits);
}

std::int64_t Decoder::read_bigint64() {
  std::uint64_t bits = 0;
  for (std::uint8_t byte : read_raw(8))
    bits = (bits << 8) | byte;
  return static_cast<std::int64_t>(bits);
}

Any Decoder::read_any(std::size_t depth) {
  if (depth > kMaxAnyDepth) throw DecodeError("a value in the update is nested too deeply");
  switch (read_u8()) {
    case 127:
      return Any();
    case 126:
      return Any(nullptr);
    case 125:
      return Any(read_var_int());
    case 124:
      return Any(static_cast<double>(read_float32()));
    case 123:
      return Any(read_float64());
    case 122:
      return Any(Any::BigInt{read_bigint64()});
    case 121:
      return Any(false);
    case 120:
      return Any(true);
    case 119:
      return Any(read_var_string());
    case 118: {
      const std::uint64_t count = read_var_uint();
      if (count > remaining()) truncated();  // each member takes at least a byte
      Any::Object object;
      for (std::uint64_t i = 0; i < count; ++i) {
        std::string key = read_var_string();
        Any value = read_any(depth + 1);
        // A key given twice keeps its first place and its last value, as in JavaScript.
        auto same = std::find_if(object.begin(), object.end(),
                                 [&](const auto& member) { return member.first == key; });
        if (same != object.end()) {
          same->second = std::move(value);
        } else {
          object.emplace_back(std::move(key), std::move(value));
        }
      }
      return Any(std::move(object));
    }
    case 117: {
      const std::uint64_t count = read_var_uint();
      if (count > remaining()) truncated();
      Any::Array array;
      array.reserve(static_cast<std::size_t>(count));
      for (std::uint64_t i = 0; i < count; ++i)
        array.push_back(read_any(depth + 1));
      return Any(std::move(array));
    }
    case 116: {
      const auto raw = read_var_bytes();
      return Any(Bytes(raw.begin(), raw.end()));
    }
    default:
      throw DecodeError("a value of an unknown kind in the update");
  }
}

// --- UTF-8 / UTF-16 ---

std::u16string utf16(std::string_view text) {
  std::u16string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    char32_t code = 0xFFFD;
    std::size_t length = 1;
    if (byte < 0x80) {
      code = byte;
    } else {
      std::size_t need = 0;
      char32_t min = 0;
      if ((byte & 0xE0) == 0xC0) {
        need = 1, code = byte & 0x1F, min = 0x80;
      } else if ((byte & 0xF0) == 0xE0) {
        need = 2, code = byte & 0x0F, min = 0x800;
      } else if ((byte & 0xF8) == 0xF0) {
        need = 3, code = byte & 0x07, min = 0x10000;
      }
      std::size_t got = 0;
      while (got < need && i + 1 + got < text.size() &&
             (static_cast<unsigned char>(text[i + 1 + got]) & 0xC0) == 0x80) {
        code = (code << 6) | (static_cast<unsigned char>(text[i + 1 + got]) & 0x3F);
        ++got;
      }
      if (need == 0 || got < need || code < min || code > 0x10FFFF ||
          (code >= 0xD800 && code <= 0xDFFF)) {
        code = 0xFFFD;
        length = need == 0 ? 1 : 1 + got;
      } else {
        length = 1 + need;
      }
    }
    i += length;
    if (code >= 0x10000) {
      code -= 0x10000;
      out += static_cast<char16_t>(0xD800 + (code >> 10));
      out += static_cast<char16_t>(0xDC00 + (code & 0x3FF));
    } else {
      out += static_cast<char16_t>(code);
    }
  }
  return out;
}

std::string utf8(std::u16string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char32_t code = text[i];
    if (code >= 0xD800 && code <= 0xDBFF && i + 1 < text.size() && text[i + 1] >= 0xDC00 &&
        text[i + 1] <= 0xDFFF) {
      code = 0x10000 + ((code - 0xD800) << 10) + (text[i + 1] - 0xDC00);
      ++i;
    } else if (code >= 0xD800 && code <= 0xDFFF) {
      code = 0xFFFD;  // a lone surrogate
    }
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }
  return out;
}

}  // namespace cairn::crdt
