#include "store/fixture.hpp"

namespace cairn::test {
namespace {

using TransactionTest = StoreTest;

TEST_F(TransactionTest, WritesAcrossStoresCommitTogether) {
  {
    Database db = open();
    Transaction txn = db.transaction();
    txn.put("journal", "2026/02/02/14:30", json(R"({"text":"Cooked dinner"})"));
    txn.increment("playerStatistics", "cooking", "xp", 25);
    txn.put("cdagTopology", "node:cooking", json(R"({"label":"Cooking","edges":["node:life"]})"));
    EXPECT_FALSE(db.contains("journal", "2026/02/02/14:30"));  // not visible before commit
    txn.commit();
  }
  Database db = open();
  EXPECT_TRUE(db.contains("journal", "2026/02/02/14:30"));
  EXPECT_EQ(db.get("playerStatistics", "cooking"), json(R"({"xp":25})"));
  EXPECT_TRUE(db.contains("cdagTopology", "node:cooking"));
  EXPECT_EQ(db.pending_count(), 3u);
}

TEST_F(TransactionTest, AFailedCommitWritesNothing) {
  auto options = roadmap_options();
  options.limits.max_store_bytes = 100;
  Database db = open(options);
  db.put("aiConfig", "model", json(R"("small")"));
  Transaction txn = db.transaction();
  txn.put("journal", "a", json(R"("fits")"));
  txn.put("aiConfig", "prompt", boost::json::value(std::string(200, 'x')));
  EXPECT_EQ(error_code_of([&] { txn.commit(); }), ErrorCode::quota_exceeded);
  EXPECT_FALSE(db.contains("journal", "a"));
  EXPECT_FALSE(db.contains("aiConfig", "prompt"));
  EXPECT_EQ(db.pending_count(), 1u);
  EXPECT_FALSE(txn.is_open());
}

TEST_F(TransactionTest, ReadsSeeTheTransactionsOwnWrites) {
  Database db = open();
  db.put("playerStatistics", "cooking", json(R"({"xp":10,"level":1})"));
  Transaction txn = db.transaction();
  txn.increment("playerStatistics", "cooking", "xp", 5);
  EXPECT_EQ(txn.get("playerStatistics", "cooking"), json(R"({"xp":15,"level":1})"));
  txn.erase("playerStatistics", "cooking");
  EXPECT_FALSE(txn.get("playerStatistics", "cooking"));
  txn.put("playerStatistics", "cooking", json(R"({"xp":1})"));
  EXPECT_EQ(txn.get("playerStatistics", "cooking"), json(R"({"xp":1})"));
  EXPECT_EQ(db.get("playerStatistics", "cooking"), json(R"({"xp":10,"level":1})"));
}

TEST_F(TransactionTest, GetShowsWritesExactlyAsCommitLeavesThem) {
  Database db = open();
  db.put("playerStatistics", "cooking", json(R"({"xp":10,"level":1})"));
  Transaction txn = db.transaction();
  txn.increment("playerStatistics", "cooking", "xp", 5);
  txn.erase("playerStatistics", "cooking");
  txn.increment("playerStatistics", "cooking", "xp", 3);  // a new entry, its counter from 0
  const auto previewed = txn.get("playerStatistics", "cooking");
  txn.commit();
  EXPECT_EQ(previewed, db.get("playerStatistics", "cooking"));
  EXPECT_EQ(previewed, json(R"({"xp":3})"));
}

TEST_F(TransactionTest, GetRefusesAnIncrementThatCommitWouldRefuse) {
  Database db = open();
  db.put("playerStatistics", "cooking", json("[1,2]"));  // not an object: no counter to add to
  Transaction txn = db.transaction();
  txn.increment("playerStatistics", "cooking", "xp", 5);
  EXPECT_EQ(error_code_of([&] { txn.get("playerStatistics", "cooking"); }),
            ErrorCode::invalid_value);
  EXPECT_EQ(error_code_of([&] { txn.commit(); }), ErrorCode::invalid_value);
  EXPECT_EQ(db.get("playerStatistics", "cooking"), json("[1,2]"));
}

TEST_F(TransactionTest, SeveralWritesToOneKeyLeaveTheLastAndRecordEach) {
  Database db = open();
  Transaction txn = db.transaction();
  txn.increment("playerStatistics", "cooking", "xp", 5);
  txn.increment("playerStatistics", "cooking", "xp", 7);
  txn.commit();
  EXPECT_EQ(db.get("playerStatistics", "cooking"), json(R"({"xp":12})"));
  EXPECT_EQ(db.pending_count(), 2u);
}

TEST_F(TransactionTest, RollbackAndDestructionDiscard) {
  Database db = open();
  {
    Transaction txn = db.transaction();
    txn.put("journal", "a", json("1"));
  }
  Transaction txn = db.transaction();
  txn.put("journal", "b", json("1"));
  txn.rollback();
  EXPECT_EQ(db.size("journal"), 0u);
  EXPECT_EQ(db.pending_count(), 0u);
}

TEST_F(TransactionTest, AClosedTransactionCannotBeUsed) {
  Database db = open();
  Transaction txn = db.transaction();
  txn.put("journal", "a", json("1"));
  txn.commit();
  EXPECT_EQ(error_code_of([&] { txn.put("journal", "b", json("1")); }),
            ErrorCode::transaction_closed);
  EXPECT_EQ(error_code_of([&] { txn.commit(); }), ErrorCode::transaction_closed);
}

TEST_F(TransactionTest, AnEmptyOrNoOpTransactionWritesNothing) {
  Database db = open();
  db.transaction().commit();
  db.put("journal", "a", json("1"));
  db.put("journal", "a", json("1"));  // same value
  db.erase("journal", "missing");
  EXPECT_EQ(db.pending_count(), 1u);
}

TEST_F(TransactionTest, IncrementingAFieldThatIsNotACounterFails) {
  Database db = open();
  Transaction txn = db.transaction();
  EXPECT_EQ(error_code_of([&] { txn.increment("playerStatistics", "cooking", "level", 1); }),
            ErrorCode::invalid_value);
  EXPECT_EQ(error_code_of([&] { txn.increment("journal", "x", "xp", 1); }),
            ErrorCode::invalid_value);
}

}  // namespace
}  // namespace cairn::test
