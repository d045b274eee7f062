// JSON text as Cairn writes it: numbers as JavaScript writes them, strings escaped, and every
// value reads back as itself.
#include "foundation/json_text.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <charconv>
#include <cstring>
#include <random>

namespace cairn::test {
namespace {

namespace json = boost::json;

std::string number(double value) {
  std::string out;
  append_json_number(out, value);
  return out;
}

TEST(JsonText, NumbersAreWrittenAsJavaScriptWritesThem) {
  // Each expectation is what `String(x)` (and JSON.stringify) gives in JavaScript.
  EXPECT_EQ(number(0.3), "0.3");
  EXPECT_EQ(number(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(number(-2.5), "-2.5");
  EXPECT_EQ(number(100.0), "100");
  EXPECT_EQ(number(1e20), "100000000000000000000");
  EXPECT_EQ(number(1e21), "1e+21");
  EXPECT_EQ(number(1.5e300), "1.5e+300");
  EXPECT_EQ(number(0.000001), "0.000001");
  EXPECT_EQ(number(1.5e-6), "0.0000015");
  EXPECT_EQ(number(1e-7), "1e-7");
  EXPECT_EQ(number(-1.25e-8), "-1.25e-8");
  EXPECT_EQ(number(123.456), "123.456");
  EXPECT_EQ(number(0.0), "0");
  EXPECT_EQ(number(-0.0), "0");
  EXPECT_EQ(number(5e-324), "5e-324");
  EXPECT_EQ(number(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(number(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(number(std::nan("")), "null");
}

TEST(JsonText, ValuesAreWrittenOnOneLineAndEscaped) {
  const json::value value = json::parse(
      R"({"text":"a \"quote\", a \\ and a\nnewline\u0001","n":[1,-2,0.5,true,null],"u":"é☃"})");
  EXPECT_EQ(
      json_text(value),
      R"({"text":"a \"quote\", a \\ and a\nnewline\u0001","n":[1,-2,0.5,true,null],"u":"é☃"})");
  EXPECT_EQ(json_text(json::value(std::uint64_t{18446744073709551615u})), "18446744073709551615");
  EXPECT_EQ(json_text(json::value(std::int64_t{-9223372036854775807 - 1})), "-9223372036854775808");
}

TEST(JsonText, EveryDoubleReadsBackAsItself) {
  const std::uint64_t seed = 20261202;
  std::mt19937_64 random(seed);
  for (int i = 0; i < 100'000; ++i) {
    std::uint64_t bits = random();
    double value;
    std::memcpy(&value, &bits, sizeof value);
    if (!std::isfinite(value)) continue;
    const std::string text = number(value);
    // Read back exactly (Boost.JSON 1.81's own parser may miss by one unit in the last place).
    double parsed = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    ASSERT_TRUE(error == std::errc() && end == text.data() + text.size()) << text;
    ASSERT_EQ(parsed, value) << "seed " << seed << ": " << text;
  }
}

// Strings of every length around the 8-byte steps of the escaping scan, with a character that
// needs escaping at every position, read back as themselves and are written as Boost writes them.
TEST(JsonText, StringsAreEscapedWhereverTheSpecialCharactersFall) {
  const std::uint64_t seed = 20261202;
  std::mt19937_64 random(seed);
  const std::string specials = std::string("\"\\\n\r\t\b\f\x01\x1f", 9) + std::string(1, '\0');
  const std::vector<std::string> plain = {
      "a", "Z", "0", " ", "~", "\x7f", "\xc3\xa9", "\xe2\x82\xac"};  // ASCII and UTF-8 characters
  for (std::size_t length = 0; length <= 40; ++length) {
    for (std::size_t at = 0; at <= length; ++at) {
      std::string text;
      for (std::size_t i = 0; i < length; ++i) {
        text += i == at ? std::string(1, specials[random() % specials.size()])
                        : plain[random() % plain.size()];
      }
      const json::value value(text);
      const std::string written = json_text(value);
      ASSERT_EQ(json::parse(written), value) << "seed " << seed << ": " << written;
      ASSERT_EQ(written, json::serialize(value)) << "seed " << seed;
    }
  }
}

TEST(JsonText, DecimalsParseWhole) {
  std::uint64_t value = 0;
  EXPECT_TRUE(parse_decimal("42", value));
  EXPECT_EQ(value, 42u);
  EXPECT_FALSE(parse_decimal("", value));
  EXPECT_FALSE(parse_decimal("4x", value));
  EXPECT_FALSE(parse_decimal("-1", value));
  EXPECT_FALSE(parse_decimal("99999999999999999999", value));
}

}  // namespace
}  // namespace cairn::test
