// lib0's binary encoding, as Yjs writes it (the yjs and lib0 npm packages define it): variable-
// length integers, strings, byte arrays, and `Any` — the JSON-like values Yjs stores in maps and
// arrays, with JavaScript's number semantics.
//
// Decoding untrusted bytes: every read checks the remaining length and throws DecodeError, never
// reads past the end, and lengths are bounded by what is left (a huge length is an error, not an
// allocation). Nesting of Any values is bounded by kMaxAnyDepth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace cairn::crdt {

using Bytes = std::vector<std::uint8_t>;

// Bytes that a std::string holds (as storage, HTTP and sockets carry them) seen as bytes, and
// bytes seen as text; neither copies.
inline std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}
inline std::string_view text_of(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Malformed or truncated input.
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A JavaScript value as lib0's writeAny/readAny carry it. Numbers are doubles, as in JavaScript;
// an object keeps its members in order (JavaScript's Object.keys order when written).
struct Any {
  struct Undefined {
    friend bool operator==(Undefined, Undefined) { return true; }
  };
  using Object = std::vector<std::pair<std::string, Any>>;
  using Array = std::vector<Any>;
  struct BigInt {
    std::int64_t value = 0;
    friend bool operator==(BigInt, BigInt) = default;
  };
  std::variant<Undefined, std::nullptr_t, double, BigInt, bool, std::string, Object, Array, Bytes>
      value;

  Any() = default;
  Any(std::nullptr_t) : value(nullptr) {}
  Any(double number) : value(number) {}
  Any(int number) : value(static_cast<double>(number)) {}
  Any(bool flag) : value(flag) {}
  Any(std::string text) : value(std::move(text)) {}
  Any(const char* text) : value(std::string(text)) {}
  Any(Object object) : value(std::move(object)) {}
  Any(Array array) : value(std::move(array)) {}
  Any(Bytes bytes) : value(std::move(bytes)) {}
  Any(BigInt number) : value(number) {}

  bool is_undefined() const { return std::holds_alternative<Undefined>(value); }
  friend bool operator==(const Any& a, const Any& b);
};

// The members of `object` in JavaScript's Object.keys order: integer-like keys first,
// ascending, then the others in their order.
std::vector<const std::pair<std::string, Any>*> js_key_order(const Any::Object& object);

// JSON text read as JavaScript's JSON.parse does; DecodeError when it is not JSON.
Any any_from_json(std::string_view json);
// String(value) in JavaScript: what a template literal makes of it.
std::string js_string(const Any& any);

// JSON text of an Any as JavaScript's JSON.stringify writes it (undefined members are left out,
// undefined array elements and non-finite numbers become null; binary as an object of indices).
std::string to_json(const Any& any);

constexpr std::size_t kMaxAnyDepth = 64;

class Encoder {
 public:
  void write_u8(std::uint8_t byte) { bytes_.push_back(byte); }
  void write_var_uint(std::uint64_t number);
  void write_var_int(double number);  // lib0 writeVarInt: sign and magnitude, -0 kept
  void write_var_string(std::string_view utf8);
  void write_var_bytes(std::span<const std::uint8_t> bytes);
  void write_raw(std::span<const std::uint8_t> bytes);
  void write_float32(float number);
  void write_float64(double number);
  void write_bigint64(std::int64_t number);
  void write_any(const Any& any);

  const Bytes& bytes() const { return bytes_; }
  Bytes take() {
    Bytes out = std::move(bytes_);
    bytes_.clear();
    return out;
  }
  std::size_t size() const { return bytes_.size(); }

 private:
  Bytes bytes_;
};

class Decoder {
 public:
  explicit Decoder(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::uint8_t read_u8();
  std::uint64_t read_var_uint();  // at most 2^53 - 1, as JavaScript numbers hold
  double read_var_int();
  std::string read_var_string();
  std::span<const std::uint8_t> read_var_bytes();
  std::span<const std::uint8_t> read_raw(std::size_t count);
  float read_float32();
  double read_float64();
  std::int64_t read_bigint64();
  Any read_any(std::size_t depth = 0);

  bool done() const { return position_ >= bytes_.size(); }
  std::size_t remaining() const { return bytes_.size() - position_; }
  std::size_t position() const { return position_; }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t position_ = 0;
};

// UTF-8 <-> UTF-16, as JavaScript strings hold text. Invalid UTF-8 and lone surrogates become
// U+FFFD (as TextEncoder/TextDecoder do).
std::u16string utf16(std::string_view utf8);
std::string utf8(std::u16string_view utf16);

}  // namespace cairn::crdt
