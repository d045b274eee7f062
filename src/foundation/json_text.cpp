#include "foundation/json_text.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>

namespace cairn {
namespace json = boost::json;

namespace {

// Whether any of the 8 bytes of `word` needs escaping in a JSON string: a control character
// (< 0x20), '"' or '\\'. (The classic "has a byte less than n" and "has a zero byte" tests.)
bool needs_escape(std::uint64_t word) {
  constexpr std::uint64_t ones = 0x0101010101010101;
  constexpr std::uint64_t highs = 0x8080808080808080;
  const auto has_zero = [&](std::uint64_t x) { return (x - ones) & ~x & highs; };
  return ((word - ones * 0x20) & ~word & highs) || has_zero(word ^ (ones * '"')) ||
         has_zero(word ^ (ones * '\\'));
}

void append_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t plain = 0;  // start of the run of characters that need no escape
  std::size_t i = 0;
  while (i < text.size()) {
    // Runs of plain text, 8 bytes at a time.
    if (i + 8 <= text.size()) {
      std::uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if (!needs_escape(word)) {
        i += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(text[i++]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + plain, i - 1 - plain);
    plain = i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(text.data() + plain, text.size() - plain);
  out.push_back('"');
}

template <class Integer>
void append_integer(std::string& out, Integer value) {
  char buffer[24];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

void append_object(std::string& out, const json::object& object) {
  out.push_back('{');
  bool first = true;
  for (const auto& [key, member] : object) {
    if (!first) out.push_back(',');
    first = false;
    append_string(out, key);
    out.push_back(':');
    append_json_text(out, member);
  }
  out.push_back('}');
}

void append_array(std::string& out, const json::array& array) {
  out.push_back('[');
  bool first = true;
  for (const auto& element : array) {
    if (!first) out.push_back(',');
    first = false;
    append_json_text(out, element);
  }
  out.push_back(']');
}

}  // namespace

void append_json_number(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  if (value == 0) {  // both zeros, as JavaScript writes them
    out.push_back('0');
    return;
  }
  // The shortest digits that read back as `value`, and their decimal exponent.
  char buffer[32];
  auto [end, error] =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
  if (text.front() == '-') {
    out.push_back('-');
    text.remove_prefix(1);
  }
  const std::size_t e = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::string_view power = text.substr(e + 1);
  if (power.front() == '+') power.remove_prefix(1);
  std::from_chars(power.data(), power.data() + power.size(), exponent);

  // ECMAScript's Number::toString: k digits, the point after n of them.
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(n - 1 < 0 ? '-' : '+');
    append_integer(out, std::abs(n - 1));
  }
}

void append_json_text(std::string& out, const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      out += "null";
      break;
    case json::kind::bool_:
      out += value.get_bool() ? "true" : "false";
      break;
    case json::kind::int64:
      append_integer(out, value.get_int64());
      break;
    case json::kind::uint64:
      append_integer(out, value.get_uint64());
      break;
    case json::kind::double_:
      append_json_number(out, value.get_double());
      break;
    case json::kind::string:
      append_string(out, value.get_string());
      break;
    case json::kind::array:
      append_array(out, value.get_array());
      break;
    case json::kind::object:
      append_object(out, value.get_object());
      break;
  }
}

namespace {

// Writes into a buffer that keeps its capacity from call to call, then returns a copy of exactly
// the right size: one allocation per text instead of one per doubling. A large text is handed
// over instead of copied, so that no thread keeps the capacity of the largest text it wrote.
template <class Write>
std::string written(Write write) {
  constexpr std::size_t kKeptBytes = 64 * 1024;
  thread_local std::string scratch;
  scratch.clear();
  write(scratch);
  if (scratch.size() > kKeptBytes) return std::exchange(scratch, std::string());
  return scratch;
}

}  // namespace

std::string json_text(const json::value& value) {
  return written([&](std::string& out) { append_json_text(out, value); });
}

std::string json_text(const json::object& object) {
  return written([&](std::string& out) { append_object(out, object); });
}

std::string json_text(const json::array& array) {
  return written([&](std::string& out) { append_array(out, array); });
}

bool parse_decimal(std::string_view text, std::uint64_t& value) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace cairn
