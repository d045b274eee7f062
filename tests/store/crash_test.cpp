// Durability, proven: a child process commits in a loop and the parent SIGKILLs it at random
// moments. After each kill the database must reopen, hold every commit the child reported, and
// its outbox must agree with its entries. Trials and seeds are fixed and printed; set
// CAIRN_CRASH_TRIALS and CAIRN_CRASH_SEED to soak or to replay one.
#include <csignal>
#include <cstdlib>
#include <random>
#include <thread>

#include "store/fixture.hpp"
#include "support/process.hpp"
#include "support/seeds.hpp"

namespace cairn::test {
namespace {

DatabaseOptions crash_options() {
  DatabaseOptions options;
  options.stores = {{"journal", 1, MergePolicy::whole_entry()},
                    {"playerStatistics", 1, MergePolicy::per_field({"xp"})},
                    {"aiConfig", 1, MergePolicy::whole_entry()}};
  return options;
}

// Checks the database against the commits the child reported; returns how many it holds.
std::int64_t verify(const std::filesystem::path& path, std::int64_t reported) {
  Database db = Database::open(path, crash_options());
  const auto held = static_cast<std::int64_t>(db.size("journal"));
  // Every reported commit is there; at most one more (committed, killed before it could report).
  EXPECT_GE(held, reported);
  EXPECT_LE(held, reported + 1);
  for (std::int64_t n = 1; n <= held; ++n) {
    auto value = db.get("journal", "n/" + std::to_string(n));
    EXPECT_TRUE(value && value->at("n") == n) << "journal n/" << n << " missing or wrong";
    if (::testing::Test::HasFailure()) return held;
  }
  EXPECT_EQ(db.get("playerStatistics", "total"),
            held == 0 ? std::nullopt
                      : std::optional<boost::json::value>(boost::json::object{{"xp", held}}));
  if (held > 0) {
    EXPECT_EQ(db.get("aiConfig", "latest"), boost::json::value(held));
  }

  // The outbox agrees with the entries: three records per commit, in order, nothing more.
  const auto records = db.outbox(0, 1'000'000);
  EXPECT_EQ(records.size(), static_cast<std::size_t>(3 * held));
  EXPECT_EQ(db.pending_count(), records.size());
  std::int64_t journal_puts = 0, xp = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& record = records[i];
    if (i > 0) {
      EXPECT_EQ(record.seq, records[i - 1].seq + 1);
    }
    if (record.store == "journal") {
      ++journal_puts;
      EXPECT_EQ(record.key, "n/" + std::to_string(journal_puts));
    }
    if (record.store == "playerStatistics") xp += record.payload.at("add").at("xp").as_int64();
  }
  EXPECT_EQ(journal_puts, held);
  EXPECT_EQ(xp, held);
  return held;
}

TEST(CrashTest, EveryReportedCommitSurvivesSigkill) {
  const std::uint64_t trials = env_or("CAIRN_CRASH_TRIALS", 60);
  const std::uint64_t base_seed = env_or("CAIRN_CRASH_SEED", 20261125);
  TempDir dir;
  const auto path = dir / "crash.db";
  std::int64_t total = 0;
  for (std::uint64_t trial = 0; trial < trials; ++trial) {
    const std::uint64_t seed = base_seed + trial;
    SCOPED_TRACE("crash trial " + std::to_string(trial) + " seed " + std::to_string(seed) +
                 " (replay: CAIRN_CRASH_SEED=" + std::to_string(seed) + " CAIRN_CRASH_TRIALS=1)");
    std::mt19937_64 random(seed);
    const auto kill_after =
        std::chrono::microseconds(std::uniform_int_distribution<int>(1'000, 40'000)(random));

    Process child({CRASH_WRITER_PATH, path.string(), std::to_string(seed)});
    std::int64_t reported = total;
    // Let it get going, then kill it at a random moment.
    if (auto line = child.read_line(std::chrono::seconds(20))) {
      reported = std::stoll(line->substr(line->find(' ') + 1));
    }
    std::this_thread::sleep_for(kill_after);
    child.signal(SIGKILL);
    ASSERT_TRUE(child.wait());
    while (auto line = child.read_line(std::chrono::milliseconds(200))) {
      reported = std::stoll(line->substr(line->find(' ') + 1));
    }
    ASSERT_GT(reported, total) << "the child made no progress";
    total = verify(path, reported);
    if (HasFailure()) {
      std::cout << "crash test failed at trial " << trial << " seed " << seed << '\n';
      return;
    }
  }
  std::cout << "crash test: " << trials << " trials from seed " << base_seed << ", " << total
            << " commits survived\n";
}

// Killed while it creates its database: the half-made file (perhaps with a hot rollback journal)
// must still open, as an empty database or with its first commits.
TEST(CrashTest, ADatabaseKilledWhileBeingCreatedStillOpens) {
  const std::uint64_t base_seed = env_or("CAIRN_CRASH_SEED", 20261125);
  TempDir dir;
  for (std::uint64_t trial = 0; trial < 30; ++trial) {
    const std::uint64_t seed = base_seed + trial;
    SCOPED_TRACE("creation crash trial " + std::to_string(trial) + " seed " + std::to_string(seed));
    std::mt19937_64 random(seed);
    const auto path = dir / ("new-" + std::to_string(trial) + ".db");
    Process child({CRASH_WRITER_PATH, path.string(), std::to_string(seed)});
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 3'000));
    child.signal(SIGKILL);
    ASSERT_TRUE(child.wait());
    std::int64_t reported = 0;
    while (auto line = child.read_line(std::chrono::milliseconds(100))) {
      reported = std::stoll(line->substr(line->find(' ') + 1));
    }
    verify(path, reported);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace cairn::test
