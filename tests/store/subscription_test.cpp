#include "store/fixture.hpp"

namespace cairn::test {
namespace {

using SubscriptionTest = StoreTest;

TEST_F(SubscriptionTest, AStoreSubscriberHearsEachCommitOnceWithItsChanges) {
  Database db = open();
  std::vector<ChangeSet> heard;
  Subscription subscription =
      db.subscribe("journal", [&](const ChangeSet& set) { heard.push_back(set); });
  Transaction txn = db.transaction();
  txn.put("journal", "a", json("1"));
  txn.put("journal", "b", json("2"));
  txn.put("aiConfig", "model", json(R"("small")"));  // another store: not heard
  EXPECT_TRUE(heard.empty());                        // nothing before commit
  txn.commit();
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0].origin, Origin::local);
  ASSERT_EQ(heard[0].changes.size(), 2u);
  EXPECT_EQ(heard[0].changes[0].key, "a");
  EXPECT_EQ(heard[0].changes[0].value, json("1"));
  EXPECT_FALSE(heard[0].changes[0].previous);
  EXPECT_EQ(heard[0].changes[1].key, "b");
}

TEST_F(SubscriptionTest, AKeySubscriberHearsOnlyThatKey) {
  Database db = open();
  int calls = 0;
  Subscription subscription = db.subscribe("journal", "a", [&](const ChangeSet& set) {
    ++calls;
    EXPECT_EQ(set.changes.size(), 1u);
    EXPECT_EQ(set.changes[0].key, "a");
  });
  db.put("journal", "b", json("1"));
  EXPECT_EQ(calls, 0);
  db.put("journal", "a", json("1"));
  db.erase("journal", "a");
  EXPECT_EQ(calls, 2);
}

TEST_F(SubscriptionTest, DeletesCarryThePreviousValue) {
  Database db = open();
  db.put("journal", "a", json("1"));
  std::optional<Change> heard;
  Subscription subscription = db.subscribe([&](const ChangeSet& set) { heard = set.changes[0]; });
  db.erase("journal", "a");
  ASSERT_TRUE(heard);
  EXPECT_TRUE(heard->deleted());
  EXPECT_EQ(heard->previous, json("1"));
}

TEST_F(SubscriptionTest, ListenersRunAfterTheCommitIsVisible) {
  Database db = open();
  bool visible = false;
  Subscription subscription = db.subscribe("journal", [&](const ChangeSet&) {
    visible = db.contains("journal", "a") && db.pending_count() == 1;
  });
  db.put("journal", "a", json("1"));
  EXPECT_TRUE(visible);
}

TEST_F(SubscriptionTest, AFailedCommitIsNotHeard) {
  auto options = roadmap_options();
  options.limits.max_store_bytes = 10;
  Database db = open(options);
  int calls = 0;
  Subscription subscription = db.subscribe([&](const ChangeSet&) { ++calls; });
  EXPECT_THROW(db.put("journal", "a", json(R"("a long value")")), Error);
  EXPECT_EQ(calls, 0);
}

TEST_F(SubscriptionTest, AListenerMayWriteAndItsCommitIsHeardInOrder) {
  Database db = open();
  std::vector<std::string> order;
  // A derived index: every journal entry bumps a counter in playerStatistics.
  Subscription derived = db.subscribe("journal", [&](const ChangeSet& set) {
    order.push_back("journal " + set.changes[0].key);
    Transaction txn = db.transaction();
    txn.increment("playerStatistics", "writing", "xp", 1);
    txn.commit();
    order.push_back("journal listener done");
  });
  Subscription stats = db.subscribe("playerStatistics", [&](const ChangeSet& set) {
    order.push_back("stats " + set.changes[0].key);
  });
  db.put("journal", "a", json("1"));
  EXPECT_EQ(order,
            (std::vector<std::string>{"journal a", "stats writing", "journal listener done"}));
  EXPECT_EQ(db.get("playerStatistics", "writing"), json(R"({"xp":1})"));
}

TEST_F(SubscriptionTest, DroppingTheSubscriptionStopsDelivery) {
  Database db = open();
  int calls = 0;
  {
    Subscription subscription = db.subscribe([&](const ChangeSet&) { ++calls; });
    db.put("journal", "a", json("1"));
  }
  db.put("journal", "b", json("1"));
  EXPECT_EQ(calls, 1);
  Subscription reset = db.subscribe([&](const ChangeSet&) { ++calls; });
  reset.reset();
  db.put("journal", "c", json("1"));
  EXPECT_EQ(calls, 1);
}

TEST_F(SubscriptionTest, AThrowingListenerDoesNotStopTheOthers) {
  Database db = open();
  int calls = 0;
  Subscription bad = db.subscribe([&](const ChangeSet&) { throw std::runtime_error("boom"); });
  Subscription good = db.subscribe([&](const ChangeSet&) { ++calls; });
  db.put("journal", "a", json("1"));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(db.contains("journal", "a"));
}

TEST_F(SubscriptionTest, ASubscriptionMayOutliveItsDatabase) {
  Subscription subscription;
  int calls = 0;
  {
    Database db = open();
    subscription = db.subscribe([&](const ChangeSet&) { ++calls; });
    db.put("journal", "a", json("1"));
  }
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(subscription);  // still held, though its database has closed
  {
    Database reopened = open();  // the same file, a new Database: the old listener is not in it
    reopened.put("journal", "b", json("1"));
  }
  EXPECT_EQ(calls, 1);
  subscription.reset();  // must not touch the closed database (ASan checks it)
  EXPECT_FALSE(subscription);
}

}  // namespace
}  // namespace cairn::test
