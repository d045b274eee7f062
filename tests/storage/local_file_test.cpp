// LocalFile, the local database file, on its own: its header checks, and each table's rows as
// the store engine writes and reads them.
#include "storage/local_file.hpp"

#include <gtest/gtest.h>

#include <cairn/error.hpp>

#include "support/temp_dir.hpp"

namespace cairn::test {
namespace {

class LocalFileTest : public ::testing::Test {
 protected:
  LocalFile create() { return LocalFile(path_, false, true, Durability::normal); }

  template <class F>
  std::optional<ErrorCode> open_error(F open) {
    try {
      open();
    } catch (const Error& e) {
      return e.code();
    }
    return std::nullopt;
  }

  TempDir dir_;
  std::filesystem::path path_ = dir_ / "app.db";
};

TEST_F(LocalFileTest, ANewFileHasAReplicaAndTheHeader) {
  LocalFile file = create();
  EXPECT_TRUE(file.created());
  const LocalFile::Replica replica = file.replica();
  EXPECT_FALSE(replica.id.empty());
  EXPECT_EQ(replica.next_seq, 1u);
  EXPECT_EQ(file.connection().query_int("PRAGMA application_id"), LocalFile::kApplicationId);
  EXPECT_EQ(file.connection().query_int("PRAGMA user_version"), LocalFile::kFormat);
}

TEST_F(LocalFileTest, TheClockAndTheReplicaSurviveReopening) {
  std::string id;
  {
    LocalFile file = create();
    id = file.replica().id;
    file.save_clock(Timestamp(5000, 3), 42);
  }
  LocalFile again(path_, false, false, Durability::normal);
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.replica().id, id);
  EXPECT_EQ(again.replica().hlc, Timestamp(5000, 3));
  EXPECT_EQ(again.replica().next_seq, 42u);
}

TEST_F(LocalFileTest, AMissingFileIsNotCreatedUnlessAskedTo) {
  EXPECT_EQ(open_error([&] { LocalFile(path_, false, false, Durability::normal); }),
            ErrorCode::not_found);
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(LocalFileTest, AFileThatIsNotCairnsIsRefusedAndLeftAsItWas) {
  {
    sqlite::Connection other(path_, sqlite::Connection::Mode::read_write_create);
    other.exec("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine')");
  }
  const std::string before = read_bytes(path_);
  EXPECT_EQ(open_error([&] { create(); }), ErrorCode::not_a_cairn_database);
  EXPECT_EQ(read_bytes(path_), before);
}

TEST_F(LocalFileTest, AFileFromANewerCairnIsRefusedAndLeftAsItWas) {
  { create(); }
  {
    sqlite::Connection raw(path_, sqlite::Connection::Mode::read_write);
    raw.exec("PRAGMA user_version = 99");
  }
  const std::string before = read_bytes(path_);
  EXPECT_EQ(open_error([&] { create(); }), ErrorCode::format_too_new);
  EXPECT_EQ(read_bytes(path_), before);
}

TEST_F(LocalFileTest, StoresAreListedWithTheirVersionAndPolicy) {
  LocalFile file = create();
  const std::uint32_t journal = file.insert_store("journal", 1, R"({"merge":"lww"})");
  const std::uint32_t stats = file.insert_store("stats", 2, R"({"merge":"field-lww"})");
  EXPECT_NE(journal, stats);
  file.update_store(journal, 3, R"({"merge":"field-lww"})");
  const auto stores = file.stores();
  ASSERT_EQ(stores.size(), 2u);
  const auto& first = stores[0].name == "journal" ? stores[0] : stores[1];
  EXPECT_EQ(first.id, journal);
  EXPECT_EQ(first.version, 3u);
  EXPECT_EQ(first.policy, R"({"merge":"field-lww"})");
}

TEST_F(LocalFileTest, EntriesComeBackInKeyOrderWithEverythingWritten) {
  LocalFile file = create();
  const std::uint32_t store = file.insert_store("journal", 1, "{}");
  const std::uint32_t other = file.insert_replica("phone-1");
  file.write_entry(store, {"b", std::string_view(R"({"n":0.3})"), Timestamp(10, 1), other, 1,
                           R"({"fields":{}})"});
  file.write_entry(store, {"a", std::nullopt, Timestamp(11, 0), other, 1, ""});  // tombstone
  file.write_entry(store, {"b", std::string_view("2"), Timestamp(12, 0), other, 2, ""});
  for (std::uint64_t seq : {1, 2})
    file.append_outbox({seq, store, "b", "put", R"({"value":2})", Timestamp(12, 0), 2});
  struct Seen {
    std::string key;
    std::optional<std::string> value;
    Timestamp hlc;
    std::uint32_t version, pending = 0;
  };
  std::vector<Seen> seen;
  file.for_each_entry(store, [&](const LocalFile::EntryRow& row) {
    seen.push_back({std::string(row.key),
                    row.value ? std::optional<std::string>(*row.value) : std::nullopt, row.hlc,
                    row.schema_version});
  });
  file.for_each_pending(store, [&](std::string_view key, std::uint32_t count) {
    for (Seen& entry : seen) {
      if (entry.key == key) entry.pending = count;
    }
  });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].key, "a");
  EXPECT_FALSE(seen[0].value);
  EXPECT_EQ(seen[1].key, "b");
  EXPECT_EQ(seen[1].value, "2");  // replaced in place
  EXPECT_EQ(seen[1].hlc, Timestamp(12, 0));
  EXPECT_EQ(seen[1].version, 2u);
  EXPECT_EQ(seen[1].pending, 2u);
  const auto ids = file.replica_ids();
  EXPECT_NE(std::find(ids.begin(), ids.end(), std::make_pair(other, std::string("phone-1"))),
            ids.end());
}

TEST_F(LocalFileTest, TheOutboxIsReadInOrderAndDeletedThroughASequenceNumber) {
  LocalFile file = create();
  const std::uint32_t store = file.insert_store("journal", 1, "{}");
  for (std::uint64_t seq = 1; seq <= 4; ++seq) {
    file.append_outbox({seq, store, seq % 2 ? "a" : "b", "put", "{}", Timestamp(seq, 0), 1});
  }
  EXPECT_EQ(file.outbox_count(), 4u);
  const auto page = file.outbox(1, 2);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].seq, 2u);
  EXPECT_EQ(page[1].seq, 3u);
  EXPECT_EQ(file.outbox_for_entry(store, "a").size(), 2u);

  std::vector<std::string> acknowledged;
  file.for_each_outbox_through(
      2, [&](std::uint32_t, std::string_view key) { acknowledged.emplace_back(key); });
  EXPECT_EQ(acknowledged, (std::vector<std::string>{"a", "b"}));
  file.delete_outbox_through(2);
  EXPECT_EQ(file.outbox_count(), 2u);
  EXPECT_EQ(file.outbox(0, 10).front().seq, 3u);

  EXPECT_EQ(file.renumber_outbox(100), 102u);  // after a server restore: numbered from 100
  const auto renumbered = file.outbox(0, 10);
  ASSERT_EQ(renumbered.size(), 2u);
  EXPECT_EQ(renumbered[0].seq, 100u);
  EXPECT_EQ(renumbered[0].key, "a");
  EXPECT_EQ(renumbered[1].seq, 101u);
}

TEST_F(LocalFileTest, SyncStateIsSavedWhole) {
  LocalFile file = create();
  EXPECT_TRUE(file.sync_state().cursor.empty());
  LocalFile::SyncState state;
  state.server = "http://127.0.0.1:8787";
  state.token = "t";
  state.user_id = "u1";
  state.dataset = "d1";
  state.cursor = "17";
  state.held_back = true;
  state.last_success_ms = 99;
  state.last_error = "unavailable";
  file.save_sync_state(state);
  const LocalFile::SyncState back = file.sync_state();
  EXPECT_EQ(back.server, state.server);
  EXPECT_EQ(back.cursor, "17");
  EXPECT_TRUE(back.held_back);
  EXPECT_FALSE(back.skipped_stores);
  EXPECT_EQ(back.last_success_ms, 99);
  EXPECT_EQ(back.last_error, "unavailable");
}

TEST_F(LocalFileTest, BackupsKeepTheNewestAndRestoreAStoreAsItWas) {
  LocalFile file = create();
  const std::uint32_t store = file.insert_store("journal", 1, "{}");
  const std::uint32_t own = file.insert_replica("device-2");
  file.write_entry(store, {"a", std::string_view("1"), Timestamp(1, 0), own, 1, ""});
  for (std::uint32_t version = 1; version <= 4; ++version) {
    file.backup_store(store, version, version + 1, Timestamp(version, 0), 3);
  }
  const auto backups = file.backups();
  ASSERT_EQ(backups.size(), 3u);  // the oldest was dropped
  const auto oldest = std::min_element(backups.begin(), backups.end(), [](auto& x, auto& y) {
    return x.from_version < y.from_version;
  });
  EXPECT_EQ(oldest->from_version, 2u);
  EXPECT_EQ(oldest->entries, 1u);

  file.write_entry(store, {"a", std::string_view("2"), Timestamp(2, 0), own, 5, ""});
  file.update_store(store, 5, "{}");
  file.restore_backup(*oldest);
  std::vector<std::string> values;
  file.for_each_entry(store, [&](const LocalFile::EntryRow& row) {
    values.emplace_back(row.value.value_or("null"));
  });
  EXPECT_EQ(values, std::vector<std::string>{"1"});
  EXPECT_EQ(file.stores()[0].version, 2u);
}

}  // namespace
}  // namespace cairn::test
