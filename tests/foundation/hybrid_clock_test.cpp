#include "foundation/hybrid_clock.hpp"

#include <gtest/gtest.h>

#include "support/manual_clock.hpp"

namespace cairn {
namespace {

using test::ManualClock;

TEST(Timestamp, PackedOrderIsTimestampOrder) {
  EXPECT_LT(Timestamp(1000, 5), Timestamp(1000, 6));
  EXPECT_LT(Timestamp(1000, Timestamp::kMaxLogical), Timestamp(1001, 0));
  EXPECT_LT(Timestamp(1000, 6).packed(), Timestamp(1001, 0).packed());
  const Timestamp t(1'764'058'271'123, 42);
  EXPECT_EQ(t.physical_ms(), 1'764'058'271'123u);
  EXPECT_EQ(t.logical(), 42u);
  EXPECT_EQ(Timestamp::from_packed(t.packed()), t);
}

TEST(Timestamp, PrintsAsUtcWithCounter) {
  EXPECT_EQ(Timestamp(1'764'058'271'123, 0).to_string(), "2025-11-25T08:11:11.123Z");
  EXPECT_EQ(Timestamp(1'764'058'271'123, 7).to_string(), "2025-11-25T08:11:11.123Z+7");
}

TEST(HybridClock, FollowsThePhysicalClockWhenItMovesForward) {
  auto physical = std::make_shared<ManualClock>(5000);
  HybridClock clock(physical, Timestamp());
  EXPECT_EQ(clock.now(), Timestamp(5000, 0));
  physical->set(6000);
  EXPECT_EQ(clock.now(), Timestamp(6000, 0));
}

TEST(HybridClock, CountsWhileThePhysicalClockStandsStill) {
  auto physical = std::make_shared<ManualClock>(5000);
  HybridClock clock(physical, Timestamp());
  EXPECT_EQ(clock.now(), Timestamp(5000, 0));
  EXPECT_EQ(clock.now(), Timestamp(5000, 1));
  EXPECT_EQ(clock.now(), Timestamp(5000, 2));
}

TEST(HybridClock, NeverRunsBackwardsWhenTheWallClockStepsBack) {
  auto physical = std::make_shared<ManualClock>(10'000);
  HybridClock clock(physical, Timestamp());
  Timestamp previous = clock.now();
  physical->set(2'000);  // an NTP correction of eight seconds back
  for (int i = 0; i < 1000; ++i) {
    const Timestamp next = clock.now();
    ASSERT_GT(next, previous);
    ASSERT_GE(next.physical_ms(), 10'000u);
    previous = next;
  }
  physical->set(20'000);
  EXPECT_EQ(clock.now(), Timestamp(20'000, 0));
}

TEST(HybridClock, ACounterOverflowSpillsIntoTheNextMillisecond) {
  auto physical = std::make_shared<ManualClock>(7000);
  HybridClock clock(physical, Timestamp(7000, Timestamp::kMaxLogical - 1));
  EXPECT_EQ(clock.now(), Timestamp(7000, Timestamp::kMaxLogical));
  EXPECT_EQ(clock.now(), Timestamp(7001, 0));
}

TEST(HybridClock, StartsAboveThePersistedReadingAfterARestart) {
  auto physical = std::make_shared<ManualClock>(1000);  // the wall clock is behind the file
  const Timestamp persisted(9000, 3);
  HybridClock clock(physical, persisted);
  EXPECT_GT(clock.now(), persisted);
}

TEST(HybridClock, ReceivingARemoteReadingMovesAboveIt) {
  auto physical = std::make_shared<ManualClock>(1000);
  HybridClock clock(physical, Timestamp());
  const Timestamp remote(50'000, 9);  // another replica whose clock runs ahead
  const Timestamp merged = clock.receive(remote);
  EXPECT_GT(merged, remote);
  EXPECT_GT(clock.now(), merged);
  EXPECT_EQ(clock.last().physical_ms(), 50'000u);
}

TEST(HybridClock, ReceivingAnOldReadingStillAdvances) {
  auto physical = std::make_shared<ManualClock>(1000);
  HybridClock clock(physical, Timestamp());
  const Timestamp before = clock.now();
  EXPECT_GT(clock.receive(Timestamp(10, 0)), before);
}

}  // namespace
}  // namespace cairn
