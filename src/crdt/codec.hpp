// The two encodings of Yjs's update format behind one interface (Yjs: utils/UpdateEncoder.js,
// utils/UpdateDecoder.js; lib0's RLE encoders), so that the struct and delete-set code in
// update.cpp is written once for both:
//  - v1 writes every value in order into one stream of lib0 varints and strings;
//  - v2 writes each kind of value into its own column, run-length and difference encoded (clients,
//    left and right clocks, infos, strings, parent infos, type refs, lengths, keys), and the rest
//    (counts, start clocks, the delete set, Any values, bytes) into a final stream.
// Internal to the crdt layer; not an API.
#pragma once

#include <cmath>
#include <optional>

#include "crdt/doc.hpp"

namespace cairn::crdt::codec {

constexpr std::uint64_t kMaxClock = (std::uint64_t{1} << 53) - 1;

// A decoded number as a clock or client: a whole number in [0, 2^53).
inline std::uint64_t whole(double number) {
  if (!(number >= 0) || number > static_cast<double>(kMaxClock) || std::floor(number) != number) {
    throw DecodeError("a number in the update is out of range");
  }
  return static_cast<std::uint64_t>(number);
}

// --- v1 ---

class V1Writer {
 public:
  Encoder& rest() { return rest_; }
  void client(std::uint64_t client) { rest_.write_var_uint(client); }
  void left_id(const ID& id) { write_id(id); }
  void right_id(const ID& id) { write_id(id); }
  void info(std::uint8_t info) { rest_.write_u8(info); }
  void string(std::u16string_view text) { rest_.write_var_string(utf8(text)); }
  void string(std::string_view text) { rest_.write_var_string(text); }
  void parent_info(bool root_name) { rest_.write_var_uint(root_name ? 1 : 0); }
  void type_ref(std::uint8_t ref) { rest_.write_var_uint(ref); }
  void len(std::uint64_t length) { rest_.write_var_uint(length); }
  void any(const Any& value) { rest_.write_any(value); }
  void buf(std::span<const std::uint8_t> bytes) { rest_.write_var_bytes(bytes); }
  void json(const Any& value) { rest_.write_var_string(to_json(value)); }  // JSON.stringify
  void key(std::string_view key) { rest_.write_var_string(key); }
  void reset_ds() {}
  void ds_clock(std::uint64_t clock) { rest_.write_var_uint(clock); }
  void ds_len(std::uint64_t length) { rest_.write_var_uint(length); }
  Bytes finish() { return rest_.take(); }

 private:
  void write_id(const ID& id) {
    rest_.write_var_uint(id.client);
    rest_.write_var_uint(id.clock);
  }
  Encoder rest_;
};

class V1Reader {
 public:
  explicit V1Reader(std::span<const std::uint8_t> update) : rest_(update) {}
  // How many structs and deleted ranges the update may declare: each takes a byte at least.
  std::size_t budget() const { return rest_.remaining(); }

  Decoder& rest() { return rest_; }
  std::uint64_t client() { return rest_.read_var_uint(); }
  ID left_id() { return read_id(); }
  ID right_id() { return read_id(); }
  std::uint8_t info() { return rest_.read_u8(); }
  std::u16string string16() { return utf16(rest_.read_var_string()); }
  std::string string() { return rest_.read_var_string(); }
  bool parent_info() { return rest_.read_var_uint() == 1; }
  std::uint64_t type_ref() { return rest_.read_var_uint(); }
  std::uint64_t len() { return rest_.read_var_uint(); }
  Any any() { return rest_.read_any(); }
  std::span<const std::uint8_t> buf() { return rest_.read_var_bytes(); }
  Any json() { return any_from_json(rest_.read_var_string()); }  // JSON.parse
  std::string key() { return rest_.read_var_string(); }
  void reset_ds() {}
  std::uint64_t ds_clock() { return rest_.read_var_uint(); }
  std::uint64_t ds_len() { return rest_.read_var_uint(); }

 private:
  ID read_id() {
    const std::uint64_t client = rest_.read_var_uint();
    return {client, rest_.read_var_uint()};
  }
  Decoder rest_;
};

// --- v2: lib0's column encoders ---

// Runs of equal bytes: the value, then (unless it is the last run) the run's length - 1.
class RleEncoder {
 public:
  void write(std::uint8_t value) {
    if (count_ > 0 && value_ == value) {
      ++count_;
      return;
    }
    if (count_ > 0) out_.write_var_uint(count_ - 1);
    count_ = 1;
    out_.write_u8(value);
    value_ = value;
  }
  Bytes finish() { return out_.take(); }  // the last run's length is not written

 private:
  Encoder out_;
  std::uint8_t value_ = 0;
  std::uint64_t count_ = 0;
};

// Runs of equal unsigned numbers: a single value as itself, a run as its negation (-0 for 0)
// followed by the run's length - 2.
class UintOptRleEncoder {
 public:
  void write(std::uint64_t value) {
    if (count_ > 0 && value_ == value) {
      ++count_;
      return;
    }
    flush();
    count_ = 1;
    value_ = value;
  }
  Bytes finish() {
    flush();
    return out_.take();
  }

 private:
  void flush() {
    if (count_ == 0) return;
    const double value = static_cast<double>(value_);
    out_.write_var_int(count_ == 1 ? value : -value);
    if (count_ > 1) out_.write_var_uint(count_ - 2);
  }
  Encoder out_;
  std::uint64_t value_ = 0;
  std::uint64_t count_ = 0;
};

// Runs of equal differences between consecutive numbers: difference * 2 + (a run follows), then
// the run's length - 2.
class IntDiffOptRleEncoder {
 public:
  void write(std::uint64_t value) {
    const double diff = static_cast<double>(value) - static_cast<double>(last_);
    if (count_ > 0 && diff == diff_) {
      last_ = value;
      ++count_;
      return;
    }
    flush();
    count_ = 1;
    diff_ = diff;
    last_ = value;
  }
  Bytes finish() {
    flush();
    return out_.take();
  }

 private:
  void flush() {
    if (count_ == 0) return;
    out_.write_var_int(diff_ * 2 + (count_ == 1 ? 0 : 1));
    if (count_ > 1) out_.write_var_uint(count_ - 2);
  }
  Encoder out_;
  std::uint64_t last_ = 0;
  double diff_ = 0;
  std::uint64_t count_ = 0;
};

// All strings as one, and their lengths in UTF-16 units.
class StringEncoder {
 public:
  void write(std::u16string_view text) {
    all_ += text;
    lengths_.write(text.size());
  }
  Bytes finish() {
    Encoder out;
    out.write_var_string(utf8(all_));
    out.write_raw(lengths_.finish());
    return out.take();
  }

 private:
  std::u16string all_;
  UintOptRleEncoder lengths_;
};

class RleDecoder {
 public:
  explicit RleDecoder(std::span<const std::uint8_t> bytes) : in_(bytes) {}
  std::uint8_t read() {
    if (count_ == 0) {
      value_ = in_.read_u8();
      count_ = in_.done() ? kForever : in_.read_var_uint() + 1;
    }
    if (count_ != kForever) --count_;
    return value_;
  }

 private:
  static constexpr std::uint64_t kForever = ~std::uint64_t{0};
  Decoder in_;
  std::uint8_t value_ = 0;
  std::uint64_t count_ = 0;
};

class UintOptRleDecoder {
 public:
  explicit UintOptRleDecoder(std::span<const std::uint8_t> bytes) : in_(bytes) {}
  std::uint64_t read() {
    if (count_ == 0) {
      const double value = in_.read_var_int();
      count_ = 1;
      if (std::signbit(value)) count_ = in_.read_var_uint() + 2;
      value_ = whole(std::fabs(value));
    }
    --count_;
    return value_;
  }
  Decoder& decoder() { return in_; }

 private:
  Decoder in_;
  std::uint64_t value_ = 0;
  std::uint64_t count_ = 0;
};

class IntDiffOptRleDecoder {
 public:
  explicit IntDiffOptRleDecoder(std::span<const std::uint8_t> bytes) : in_(bytes) {}
  std::uint64_t read() {
    if (count_ == 0) {
      const double encoded = in_.read_var_int();
      const bool run = std::fmod(std::fabs(encoded), 2) == 1;
      diff_ = std::floor(encoded / 2);
      count_ = run ? in_.read_var_uint() + 2 : 1;
    }
    value_ += diff_;
    --count_;
    return whole(value_);
  }

 private:
  Decoder in_;
  double value_ = 0;
  double diff_ = 0;
  std::uint64_t count_ = 0;
};

class StringDecoder {
 public:
  explicit StringDecoder(std::span<const std::uint8_t> bytes) : lengths_(bytes) {
    all_ = utf16(lengths_.decoder().read_var_string());
  }
  std::u16string read() {
    const std::uint64_t length = lengths_.read();
    if (length > all_.size() - position_) throw DecodeError("a string in the update ends early");
    std::u16string out = all_.substr(position_, static_cast<std::size_t>(length));
    position_ += static_cast<std::size_t>(length);
    return out;
  }

 private:
  UintOptRleDecoder lengths_;
  std::u16string all_;
  std::size_t position_ = 0;
};

// --- v2 ---

class V2Writer {
 public:
  Encoder& rest() { return rest_; }
  void client(std::uint64_t client) { clients_.write(client); }
  void left_id(const ID& id) {
    clients_.write(id.client);
    left_clocks_.write(id.clock);
  }
  void right_id(const ID& id) {
    clients_.write(id.client);
    right_clocks_.write(id.clock);
  }
  void info(std::uint8_t info) { infos_.write(info); }
  void string(std::u16string_view text) { strings_.write(text); }
  void string(std::string_view text) { strings_.write(utf16(text)); }
  void parent_info(bool root_name) { parent_infos_.write(root_name ? 1 : 0); }
  void type_ref(std::uint8_t ref) { type_refs_.write(ref); }
  void len(std::uint64_t length) { lengths_.write(length); }
  void any(const Any& value) { rest_.write_any(value); }
  void buf(std::span<const std::uint8_t> bytes) { rest_.write_var_bytes(bytes); }
  void json(const Any& value) { rest_.write_any(value); }
  // Yjs numbers every key it writes and never reuses a number (its key cache is disabled).
  void key(std::string_view key) {
    key_clocks_.write(key_clock_++);
    strings_.write(utf16(key));
  }
  void reset_ds() { ds_current_ = 0; }
  void ds_clock(std::uint64_t clock) {
    rest_.write_var_uint(clock - ds_current_);
    ds_current_ = clock;
  }
  void ds_len(std::uint64_t length) {
    rest_.write_var_uint(length - 1);
    ds_current_ += length;
  }
  Bytes finish() {
    Encoder out;
    out.write_var_uint(0);  // feature flags, none yet
    out.write_var_bytes(key_clocks_.finish());
    out.write_var_bytes(clients_.finish());
    out.write_var_bytes(left_clocks_.finish());
    out.write_var_bytes(right_clocks_.finish());
    out.write_var_bytes(infos_.finish());
    out.write_var_bytes(strings_.finish());
    out.write_var_bytes(parent_infos_.finish());
    out.write_var_bytes(type_refs_.finish());
    out.write_var_bytes(lengths_.finish());
    out.write_raw(rest_.bytes());
    return out.take();
  }

 private:
  Encoder rest_;
  IntDiffOptRleEncoder key_clocks_;
  UintOptRleEncoder clients_;
  IntDiffOptRleEncoder left_clocks_;
  IntDiffOptRleEncoder right_clocks_;
  RleEncoder infos_;
  StringEncoder strings_;
  RleEncoder parent_infos_;
  UintOptRleEncoder type_refs_;
  UintOptRleEncoder lengths_;
  std::uint64_t key_clock_ = 0;
  std::uint64_t ds_current_ = 0;
};

class V2Reader {
 public:
  explicit V2Reader(std::span<const std::uint8_t> update)
      : V2Reader(Decoder(update), update.size()) {}

  // Columns repeat values for free, so a struct can take no byte at all; bound what an update
  // may declare by its size instead.
  std::size_t budget() const { return budget_; }

  Decoder& rest() { return rest_; }
  std::uint64_t client() { return clients_.read(); }
  ID left_id() {
    const std::uint64_t client = clients_.read();
    return {client, left_clocks_.read()};
  }
  ID right_id() {
    const std::uint64_t client = clients_.read();
    return {client, right_clocks_.read()};
  }
  std::uint8_t info() { return infos_.read(); }
  std::u16string string16() { return strings_.read(); }
  std::string string() { return utf8(strings_.read()); }
  bool parent_info() { return parent_infos_.read() == 1; }
  std::uint64_t type_ref() { return type_refs_.read(); }
  std::uint64_t len() { return lengths_.read(); }
  Any any() { return rest_.read_any(); }
  std::span<const std::uint8_t> buf() { return rest_.read_var_bytes(); }
  Any json() { return rest_.read_any(); }
  std::string key() {
    const std::uint64_t clock = key_clocks_.read();
    if (clock < keys_.size()) return keys_[static_cast<std::size_t>(clock)];
    keys_.push_back(string());
    return keys_.back();
  }
  void reset_ds() { ds_current_ = 0; }
  std::uint64_t ds_clock() {
    ds_current_ = add(ds_current_, rest_.read_var_uint());
    return ds_current_;
  }
  std::uint64_t ds_len() {
    const std::uint64_t length = add(rest_.read_var_uint(), 1);
    ds_current_ = add(ds_current_, length);
    return length;
  }

 private:
  // The columns, in the order they were written; what follows them is the rest.
  struct Columns {
    explicit Columns(Decoder& in)
        : flags(in.read_var_uint()),
          key_clocks(in.read_var_bytes()),
          clients(in.read_var_bytes()),
          left_clocks(in.read_var_bytes()),
          right_clocks(in.read_var_bytes()),
          infos(in.read_var_bytes()),
          strings(in.read_var_bytes()),
          parent_infos(in.read_var_bytes()),
          type_refs(in.read_var_bytes()),
          lengths(in.read_var_bytes()) {}
    std::uint64_t flags;
    std::span<const std::uint8_t> key_clocks, clients, left_clocks, right_clocks, infos, strings,
        parent_infos, type_refs, lengths;
  };
  V2Reader(Decoder in, std::size_t size) : V2Reader(in, Columns(in), size) {}
  V2Reader(Decoder& in, const Columns& columns, std::size_t size)
      : rest_(in.read_raw(in.remaining())),
        key_clocks_(columns.key_clocks),
        clients_(columns.clients),
        left_clocks_(columns.left_clocks),
        right_clocks_(columns.right_clocks),
        infos_(columns.infos),
        strings_(columns.strings),
        parent_infos_(columns.parent_infos),
        type_refs_(columns.type_refs),
        lengths_(columns.lengths),
        budget_(size * 4 + 64) {}
  static std::uint64_t add(std::uint64_t a, std::uint64_t b) {
    if (b > kMaxClock - a) throw DecodeError("a clock in the update is too large");
    return a + b;
  }

  Decoder rest_;
  IntDiffOptRleDecoder key_clocks_;
  UintOptRleDecoder clients_;
  IntDiffOptRleDecoder left_clocks_;
  IntDiffOptRleDecoder right_clocks_;
  RleDecoder infos_;
  StringDecoder strings_;
  RleDecoder parent_infos_;
  UintOptRleDecoder type_refs_;
  UintOptRleDecoder lengths_;
  std::vector<std::string> keys_;
  std::size_t budget_;
  std::uint64_t ds_current_ = 0;
};

}  // namespace cairn::crdt::codec
