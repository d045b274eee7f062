// JSON text as Cairn writes it, everywhere (server answers, stored values, CLI output, exports):
// numbers as people and JavaScript write them — 0.3, 1e+21, 5e-7, 100 — not Boost.JSON's 3E-1;
// strings escaped as RFC 8259 requires (", \ and control characters), UTF-8 left as it is.
// Doubles that are not finite (which JSON cannot hold) are written as null.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace cairn {

std::string json_text(const boost::json::value& value);
std::string json_text(const boost::json::object& object);
std::string json_text(const boost::json::array& array);
// Appends the text of `value` to `out`.
void append_json_text(std::string& out, const boost::json::value& value);
// A double as JavaScript's Number.prototype.toString writes it (shortest round-trip digits).
void append_json_number(std::string& out, double value);

// Parses a non-negative decimal integer ("0", "42") that fills all of `text`; false otherwise.
bool parse_decimal(std::string_view text, std::uint64_t& value);

}  // namespace cairn
