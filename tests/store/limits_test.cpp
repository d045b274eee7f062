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

TEST_F(LimitsTest, TheApplicationHearsWhenAStorePassesTheWarningShareOfItsQuota) {
  auto options = roadmap_options();
  options.limits.max_store_bytes = 1000;  // warned at 800 bytes
  std::vector<QuotaEvent> heard;
  options.on_quota = [&](const QuotaEvent& event) { heard.push_back(event); };
  const auto put = [](Database& db, int i) {  // 102 bytes: a 2-byte key, a 100-byte value
    db.put("journal", "k" + std::to_string(i), boost::json::value(std::string(98, 'x')));
  };
  {
    Database db = open(options);
    for (int i = 0; i < 7; ++i)
      put(db, i);
    EXPECT_TRUE(heard.empty());
    EXPECT_FALSE(db.store_info("journal").near_quota);
    put(db, 7);  // 816 bytes
    ASSERT_EQ(heard.size(), 1u);
    EXPECT_EQ(heard[0].store, "journal");
    EXPECT_EQ(heard[0].bytes, 816u);
    EXPECT_EQ(heard[0].limit, 1000u);
    EXPECT_TRUE(heard[0].above);
    EXPECT_TRUE(db.store_info("journal").near_quota);
    EXPECT_EQ(db.store_info("journal").quota_bytes, 1000u);
    put(db, 8);  // still above: told once
    EXPECT_EQ(heard.size(), 1u);
    db.erase("journal", "k0");
    db.erase("journal", "k1");  // 714 bytes
    ASSERT_EQ(heard.size(), 2u);
    EXPECT_FALSE(heard[1].above);
    put(db, 0);  // 816 again
    EXPECT_EQ(heard.size(), 3u);
  }
  heard.clear();
  Database reopened = open(options);  // above already: told at open
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_TRUE(heard[0].above);
  EXPECT_EQ(heard[0].bytes, 816u);
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
