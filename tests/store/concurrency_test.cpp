// Several threads reading and writing one Database at once. Runs under ThreadSanitizer in CI
// (scripts/test.sh), which turns any data race into a failure.
#include <atomic>
#include <thread>

#include "store/fixture.hpp"

namespace cairn::test {
namespace {

using ConcurrencyTest = StoreTest;

constexpr int kKeysPerBatch = 8;

// Each writer commits batches that set every key of a "batch" store to the same number, and
// increments a shared counter. Readers check that they always see whole transactions (all keys
// equal) and that counts only grow.
TEST_F(ConcurrencyTest, ReadersSeeWholeTransactionsWhileWritersCommit) {
  auto options = roadmap_options();
  options.stores.push_back({"batch", 1, MergePolicy::whole_entry()});
  Database db = open(options);
  constexpr int kWriters = 3;
  constexpr int kCommitsPerWriter = 150;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<long> reads{0};
  std::atomic<int> heard{0};
  Subscription subscription = db.subscribe("playerStatistics", [&](const ChangeSet& set) {
    heard += static_cast<int>(set.changes.size());
  });

  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      std::size_t last_size = 0;
      while (!done.load()) {
        std::optional<std::int64_t> first;
        bool whole = true;
        db.for_each("batch", [&](std::string_view, const boost::json::value& value) {
          if (!first) first = value.as_int64();
          whole = whole && value.as_int64() == *first;
          return true;
        });
        if (!whole) ++torn;
        const std::size_t size = db.size("journal");
        if (size < last_size) ++torn;
        last_size = size;
        (void)db.get("playerStatistics", "total");
        (void)db.entry_info("journal", "w0-0");
        ++reads;
      }
    });
  }

  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kCommitsPerWriter; ++i) {
        Transaction txn = db.transaction();
        for (int k = 0; k < kKeysPerBatch; ++k) {
          txn.put("batch", "k" + std::to_string(k), boost::json::value(w * 100000 + i));
        }
        txn.put("journal", "w" + std::to_string(w) + "-" + std::to_string(i), json("1"));
        txn.increment("playerStatistics", "total", "xp", 1);
        txn.commit();
      }
    });
  }
  for (auto& writer : writers)
    writer.join();
  done = true;
  for (auto& reader : readers)
    reader.join();

  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(db.size("journal"), static_cast<std::size_t>(kWriters * kCommitsPerWriter));
  EXPECT_EQ(db.get("playerStatistics", "total"),
            boost::json::value({{"xp", kWriters * kCommitsPerWriter}}));
  EXPECT_EQ(heard.load(), kWriters * kCommitsPerWriter);
  // Every write changed something (each batch value is unique), so each has an outbox record.
  EXPECT_EQ(db.pending_count(),
            static_cast<std::size_t>(kWriters * kCommitsPerWriter * (kKeysPerBatch + 2)));
}

TEST_F(ConcurrencyTest, SubscribingAndUnsubscribingWhileCommitting) {
  Database db = open();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 300; ++i)
      db.put("journal", "k", boost::json::value(i));
    done = true;
  });
  std::atomic<int> calls{0};
  while (!done.load()) {
    Subscription subscription = db.subscribe("journal", [&](const ChangeSet&) { ++calls; });
    std::this_thread::yield();
  }
  writer.join();
  EXPECT_EQ(db.get("journal", "k"), boost::json::value(299));
}

}  // namespace
}  // namespace cairn::test
