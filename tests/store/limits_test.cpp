#include "foundation/limits.hpp"

#include "store/fixture.hpp"

namespace cairn::test {
namespace {

using LimitsTest = StoreTest;

TEST_F(LimitsTest, KeysMustBeNonEmptyUtf8OfAtMostOneKiB) {
  Database db = open();
  EXPECT_EQ(error_code_of([&] { db.put("journal", "", json("1")); }), ErrorCode::invalid_key);
  EXPECT_EQ(error_code_of([&] { db.put("journal", std::string(1025, 'k'), json("1")); }),
            ErrorCode::invalid_key);
  EXPECT_EQ(error_code_of([&] { db.put("journal", "bad\xff", json("1")); }),
            ErrorCode::invalid_key);
  EXPECT_EQ(error_code_of([&] { db.put("journal", "\xed\xa0\x80", json("1")); }),  // surrogate
            ErrorCode::invalid_key);
  EXPECT_EQ(error_code_of([&] { db.put("journal", "\xc0\xaf", json("1")); }),  // overlong '/'
            ErrorCode::invalid_key);
  db.put("journal", std::string(1024, 'k'), json("1"));
  db.put("journal", "caf\xc3\xa9 \xf0\x9f\x8c\x8a", json("1"));
  EXPECT_EQ(db.size("journal"), 2u);
}

TEST_F(LimitsTest, ValuesOverTheLimitAreRefusedWhole) {
  auto options = roadmap_options();
  options.limits.max_value_bytes = 64;
  Database db = open(options);
  Transaction txn = db.transaction();
  txn.put("journal", "small", json("1"));
  EXPECT_EQ(
      error_code_of([&] { txn.put("journal", "big", boost::json::value(std::string(100, 'x'))); }),
      ErrorCode::value_too_large);
  txn.commit();  // the earlier, valid write still commits; the refused one was never added
  EXPECT_TRUE(db.contains("journal", "small"));
  EXPECT_FALSE(db.contains("journal", "big"));
}

TEST_F(LimitsTest, TheDefaultValueLimitIsOneMiB) {
  Database db = open();
  const std::string just_under(1024 * 1024 - 2, 'x');
  db.put("journal", "under", boost::json::value(just_under));
  EXPECT_EQ(error_code_of([&] { db.put("journal", "over", boost::json::value(just_under + "x")); }),
            ErrorCode::value_too_large);
}

TEST_F(LimitsTest, IncrementsThatGrowAValueOverTheLimitAreRefused) {
  auto options = roadmap_options();
  options.limits.max_value_bytes = 12;
  Database db = open(options);
  db.put("playerStatistics", "s", json(R"({"xp":1})"));
  Transaction txn = db.transaction();
  txn.increment("playerStatistics", "s", "xp", 1'000'000'000'000);
  EXPECT_EQ(error_code_of([&] { txn.commit(); }), ErrorCode::value_too_large);
  EXPECT_EQ(db.get("playerStatistics", "s"), json(R"({"xp":1})"));
}

TEST_F(LimitsTest, AStoreMayNotGrowBeyondItsQuota) {
  auto options = roadmap_options();
  options.limits.max_store_bytes = 1000;
  Database db = open(options);
  for (int i = 0; i < 9; ++i) {
    db.put("journal", "k" + std::to_string(i), boost::json::value(std::string(100, 'x')));
  }
  const std::size_t bytes = db.store_info("journal").bytes;
  EXPECT_EQ(
      error_code_of([&] { db.put("journal", "k9", boost::json::value(std::string(100, 'x'))); }),
      ErrorCode::quota_exceeded);
  EXPECT_EQ(db.store_info("journal").bytes, bytes);
  db.put("aiConfig", "k9", boost::json::value(std::string(100, 'x')));  // quotas are per store
  db.erase("journal", "k0");                                            // shrinking always works
  db.put("journal", "k9", boost::json::value(std::string(100, 'x')));
}

TEST_F(LimitsTest, QuotaAccountingSurvivesAReopen) {
  {
    Database db = open();
    db.put("journal", "abc", json(R"("12345")"));
  }
  EXPECT_EQ(open().store_info("journal").bytes, 3u + 7u);
}

TEST(Utf8, AcceptsWellFormedAndRejectsMalformedSequences) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xe2\x82\xac"));       // €
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));   // U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\x80"));              // stray continuation
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong
}

}  // namespace
}  // namespace cairn::test
