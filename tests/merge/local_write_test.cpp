#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "merge/entry.hpp"

namespace cairn::merge {
namespace {
namespace json = boost::json;

const std::string kReplica = "aaaa";
Stamp stamp(std::uint64_t ms) {
  return {Timestamp(ms, 0), &kReplica};
}

Entry live(json::value value, std::uint64_t ms) {
  Entry entry;
  entry.value = std::move(value);
  entry.deleted = false;
  entry.stamp = stamp(ms);
  entry.schema_version = 1;
  return entry;
}

TEST(LocalWrite, WholeEntryPutRecordsTheValue) {
  auto write =
      plan_put(Entry{}, json::parse(R"({"text":"hi"})"), MergePolicy::whole_entry(), stamp(10), 1);
  ASSERT_TRUE(write);
  EXPECT_EQ(op_name(write->change.op), "put");
  EXPECT_EQ(change_payload(write->change), json::parse(R"({"value":{"text":"hi"}})"));
  EXPECT_FALSE(write->entry.deleted);
  EXPECT_EQ(write->entry.stamp, stamp(10));
}

TEST(LocalWrite, PuttingTheSameValueChangesNothing) {
  const Entry current = live(json::parse(R"({"a":1})"), 10);
  EXPECT_FALSE(
      plan_put(current, json::parse(R"({"a":1})"), MergePolicy::whole_entry(), stamp(11), 1));
  EXPECT_FALSE(
      plan_put(current, json::parse(R"({"a":1})"), MergePolicy::per_field(), stamp(11), 1));
}

TEST(LocalWrite, PerFieldPutRecordsOnlyTheFieldsThatChanged) {
  const Entry current = live(json::parse(R"({"a":1,"b":2,"c":3})"), 10);
  auto write = plan_put(current, json::parse(R"({"a":1,"b":20,"d":4})"), MergePolicy::per_field(),
                        stamp(20), 1);
  ASSERT_TRUE(write);
  EXPECT_EQ(op_name(write->change.op), "patch");
  EXPECT_EQ(change_payload(write->change), json::parse(R"({"set":{"b":20,"d":4},"unset":["c"]})"));
}

TEST(LocalWrite, PerFieldStampsKeepUntouchedFieldsAtTheirOldStamp) {
  const Entry current = live(json::parse(R"({"a":1,"b":2})"), 10);
  auto write =
      plan_put(current, json::parse(R"({"a":1,"b":3})"), MergePolicy::per_field(), stamp(20), 1);
  ASSERT_TRUE(write);
  ASSERT_EQ(write->entry.fields.size(), 2u);
  EXPECT_EQ(write->entry.fields[0].name, "a");
  EXPECT_EQ(write->entry.fields[0].stamp, stamp(10));
  EXPECT_EQ(write->entry.fields[1].name, "b");
  EXPECT_EQ(write->entry.fields[1].stamp, stamp(20));
  EXPECT_EQ(write->entry.stamp, stamp(20));
}

TEST(LocalWrite, RemovedFieldsLeaveFieldTombstones) {
  const Entry current = live(json::parse(R"({"a":1,"b":2})"), 10);
  auto write = plan_put(current, json::parse(R"({"a":1})"), MergePolicy::per_field(), stamp(20), 1);
  ASSERT_TRUE(write);
  ASSERT_EQ(write->entry.fields.size(), 2u);
  EXPECT_TRUE(write->entry.fields[1].deleted);
  EXPECT_EQ(write->entry.fields[1].name, "b");
}

TEST(LocalWrite, AFreshEntryNeedsNoPerFieldStamps) {
  auto write =
      plan_put(Entry{}, json::parse(R"({"a":1,"b":2})"), MergePolicy::per_field(), stamp(20), 1);
  ASSERT_TRUE(write);
  EXPECT_TRUE(write->entry.fields.empty());
  EXPECT_EQ(change_payload(write->change), json::parse(R"({"set":{"a":1,"b":2}})"));
}

TEST(LocalWrite, CounterFieldsAreRecordedAsIncrements) {
  const MergePolicy policy = MergePolicy::per_field({"xp"});
  const Entry current = live(json::parse(R"({"xp":120,"level":3})"), 10);
  auto write = plan_put(current, json::parse(R"({"xp":150,"level":3})"), policy, stamp(20), 1);
  ASSERT_TRUE(write);
  EXPECT_EQ(change_payload(write->change), json::parse(R"({"add":{"xp":30}})"));
  EXPECT_EQ(write->entry.value, json::parse(R"({"xp":150,"level":3})"));
}

TEST(LocalWrite, ACounterFieldMustHoldANumber) {
  const MergePolicy policy = MergePolicy::per_field({"xp"});
  try {
    plan_put(Entry{}, json::parse(R"({"xp":"lots"})"), policy, stamp(20), 1);
    FAIL() << "expected invalid_value";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_value);
  }
}

TEST(LocalWrite, IncrementCreatesTheEntryAndField) {
  const MergePolicy policy = MergePolicy::per_field({"xp"});
  const LocalWrite write = plan_increment(Entry{}, "xp", 5, policy, stamp(20), 1);
  EXPECT_EQ(write.entry.value, json::parse(R"({"xp":5})"));
  EXPECT_EQ(change_payload(write.change), json::parse(R"({"add":{"xp":5}})"));
  const LocalWrite again = plan_increment(write.entry, "xp", -2, policy, stamp(21), 1);
  EXPECT_EQ(again.entry.value, json::parse(R"({"xp":3})"));
}

TEST(LocalWrite, IncrementingANonCounterFieldFails) {
  EXPECT_THROW(plan_increment(Entry{}, "level", 1, MergePolicy::per_field({"xp"}), stamp(1), 1),
               Error);
}

TEST(LocalWrite, DeletingIsATombstoneAndDeletingTwiceChangesNothing) {
  auto write = plan_erase(live(json::parse("1"), 10), MergePolicy::whole_entry(), stamp(20), 1);
  ASSERT_TRUE(write);
  EXPECT_EQ(op_name(write->change.op), "delete");
  EXPECT_TRUE(write->entry.deleted);
  EXPECT_EQ(write->entry.stamp, stamp(20));
  EXPECT_FALSE(plan_erase(write->entry, MergePolicy::whole_entry(), stamp(30), 1));
}

TEST(LocalWrite, NonObjectValuesInPerFieldStoresAreWrittenWhole) {
  auto write = plan_put(live(json::parse(R"({"a":1})"), 10), json::parse("[1,2]"),
                        MergePolicy::per_field(), stamp(20), 1);
  ASSERT_TRUE(write);
  EXPECT_EQ(op_name(write->change.op), "put");
  EXPECT_TRUE(write->entry.fields.empty());
}

TEST(AddNumbers, StaysExactInIntegersAndFallsBackToDoubleOnOverflow) {
  EXPECT_EQ(add_numbers(json::value(2), json::value(3)), json::value(5));
  EXPECT_TRUE(add_numbers(json::value(INT64_MAX), json::value(1)).is_double());
  EXPECT_EQ(add_numbers(json::value(1.5), json::value(1)), json::value(2.5));
}

}  // namespace
}  // namespace cairn::merge
