// The storage conformance suite (see storage_conformance.hpp).
#include "server/storage_conformance.hpp"

#include <atomic>
#include <cairn/error.hpp>
#include <future>
#include <map>
#include <thread>
#include <tuple>

#include "server/storage/storage_copy.hpp"

namespace cairn::test {
namespace {

using server::DatasetRow;
using server::EntryRow;
using server::HistoryRow;
using server::Role;
using server::StorageTransaction;
using server::TokenRow;
using server::UserRow;

EntryRow entry(std::string store, std::string key, std::optional<std::string> value,
               std::uint64_t seq, std::uint64_t hlc_ms = 1000) {
  EntryRow row;
  row.store = std::move(store);
  row.key = std::move(key);
  row.value = std::move(value);
  row.hlc = Timestamp(hlc_ms, 2);
  row.replica = "r1";
  row.schema_version = 1;
  row.seq = seq;
  return row;
}

// A user with a dataset of its own, committed.
void add_user_with_dataset(server::Storage& storage, const std::string& user,
                           const std::string& dataset, std::int64_t created_ms = 1) {
  auto tx = storage.begin(true);
  tx->insert_user({user, "guest", "", "", created_ms});
  tx->insert_dataset({dataset, "personal", user, true, created_ms, 0});
  tx->set_member(dataset, user, Role::owner);
  tx->commit();
}

TEST_P(StorageConformance, UsersAreFoundByIdAndByGoogleSubject) {
  {
    auto tx = storage().begin(true);
    tx->insert_user({"u1", "guest", "", "", 10});
    tx->insert_user({"u2", "google", "sub-2", "bo@example.com", 11});
    tx->link_google("u1", "sub-1", "ada@example.com");
    tx->commit();
  }
  auto tx = storage().begin(false);
  const std::optional<UserRow> ada = tx->user_by_google("sub-1");
  ASSERT_TRUE(ada);
  EXPECT_EQ(ada->id, "u1");
  EXPECT_EQ(ada->email, "ada@example.com");
  EXPECT_EQ(ada->created_ms, 10);
  EXPECT_EQ(tx->user("u2")->google_sub, "sub-2");
  EXPECT_FALSE(tx->user("u3"));
  EXPECT_FALSE(tx->user_by_google("sub-3"));
}

TEST_P(StorageConformance, TokensAreKeptByHashAndCanBeRevoked) {
  {
    auto tx = storage().begin(true);
    tx->insert_user({"u1", "guest", "", "", 1});
    tx->insert_token({"hash-a", "u1", 5, 500, false});
    tx->insert_token({"hash-b", "u1", 6, 600, false});
    tx->revoke_token("hash-b");
    tx->commit();
  }
  auto tx = storage().begin(false);
  const std::optional<TokenRow> a = tx->token("hash-a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->user_id, "u1");
  EXPECT_EQ(a->expires_ms, 500);
  EXPECT_FALSE(a->revoked);
  EXPECT_TRUE(tx->token("hash-b")->revoked);
  EXPECT_FALSE(tx->token("hash-c"));
}

TEST_P(StorageConformance, MembershipDecidesWhoSeesADataset) {
  add_user_with_dataset(storage(), "u1", "d1", 1);
  add_user_with_dataset(storage(), "u2", "d2", 2);
  {
    auto tx = storage().begin(true);
    tx->insert_dataset({"d3", "family", "u1", false, 3, 0});
    tx->set_member("d3", "u1", Role::owner);
    tx->set_member("d3", "u2", Role::viewer);
    tx->set_member("d3", "u2", Role::editor);  // a second call changes the role
    tx->commit();
  }
  {
    auto tx = storage().begin(false);
    EXPECT_EQ(tx->role("d3", "u2"), Role::editor);
    EXPECT_FALSE(tx->role("d1", "u2"));
    EXPECT_EQ(tx->personal_dataset("u2")->id, "d2");
    const auto of_u2 = tx->datasets_of("u2");
    ASSERT_EQ(of_u2.size(), 2u);  // in order of creation
    EXPECT_EQ(of_u2[0].first.id, "d2");
    EXPECT_EQ(of_u2[1].first.id, "d3");
    EXPECT_EQ(of_u2[1].second, Role::editor);
    const auto members = tx->members("d3");
    ASSERT_EQ(members.size(), 2u);  // by user id
    EXPECT_EQ(members[0], std::make_pair(std::string("u1"), Role::owner));
    EXPECT_EQ(members[1], std::make_pair(std::string("u2"), Role::editor));
  }
  {
    auto tx = storage().begin(true);
    tx->remove_member("d3", "u2");
    tx->commit();
  }
  auto tx = storage().begin(false);
  EXPECT_FALSE(tx->role("d3", "u2"));
  EXPECT_EQ(tx->datasets_of("u2").size(), 1u);
}

TEST_P(StorageConformance, EntriesAreReplacedInPlaceAndTheFeedListsEachOnceInSeqOrder) {
  add_user_with_dataset(storage(), "u1", "d1");
  add_user_with_dataset(storage(), "u2", "d2");
  {
    auto tx = storage().begin(true);
    tx->put_entry("d1", entry("journal", "a", R"({"text":"one"})", 1));
    tx->put_entry("d1", entry("journal", "b", R"({"text":"two"})", 2));
    tx->put_entry("d1", entry("settings", "theme", R"("dark")", 3));
    tx->put_entry("d1", entry("journal", "a", std::nullopt, 4));  // a tombstone replaces "a"
    tx->put_entry("d2", entry("journal", "a", R"({"text":"other"})", 1));
    tx->set_last_seq("d1", 4);
    tx->commit();
  }
  auto tx = storage().begin(false);
  const std::optional<EntryRow> a = tx->entry("d1", "journal", "a");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->value);
  EXPECT_EQ(a->seq, 4u);
  EXPECT_EQ(a->hlc, Timestamp(1000, 2));
  EXPECT_EQ(a->replica, "r1");
  EXPECT_FALSE(tx->entry("d1", "journal", "c"));
  EXPECT_EQ(tx->dataset("d1")->last_seq, 4u);

  const auto feed = tx->changes_since("d1", 0, 100);
  ASSERT_EQ(feed.size(), 3u);
  EXPECT_EQ(feed[0].key, "b");
  EXPECT_EQ(feed[1].key, "theme");
  EXPECT_EQ(feed[2].key, "a");
  const auto page = tx->changes_since("d1", 2, 1);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].seq, 3u);
  EXPECT_TRUE(tx->changes_since("d1", 4, 100).empty());

  const auto all = tx->all_entries("d1");  // by store and key, tombstones included
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].key, "a");
  EXPECT_EQ(all[1].key, "b");
  EXPECT_EQ(all[2].store, "settings");
  EXPECT_EQ(tx->all_entries("d2").size(), 1u);
}

TEST_P(StorageConformance, OldTombstonesAreFoundByAgeAndCompactionIsRecorded) {
  add_user_with_dataset(storage(), "u1", "d1");
  add_user_with_dataset(storage(), "u2", "d2");
  add_user_with_dataset(storage(), "u3", "d3");
  {
    auto tx = storage().begin(true);
    tx->put_entry("d1", entry("journal", "live", R"({"text":"kept"})", 1, 100));
    tx->put_entry("d1", entry("journal", "old", std::nullopt, 2, 300));
    tx->put_entry("d1", entry("journal", "older", std::nullopt, 3, 200));
    tx->put_entry("d1", entry("settings", "new", std::nullopt, 4, 5000));
    tx->put_entry("d2", entry("journal", "old", std::nullopt, 1, 100));
    tx->put_entry("d3", entry("journal", "new", std::nullopt, 1, 9000));
    tx->set_last_seq("d1", 4);
    tx->commit();
  }
  {
    auto tx = storage().begin(false);
    EXPECT_EQ(tx->datasets_with_tombstones(Timestamp(1000, 0), "", 10),
              (std::vector<std::string>{"d1", "d2"}));
    EXPECT_EQ(tx->datasets_with_tombstones(Timestamp(1000, 0), "d1", 10),
              (std::vector<std::string>{"d2"}));
    EXPECT_EQ(tx->datasets_with_tombstones(Timestamp(1000, 0), "", 1),
              (std::vector<std::string>{"d1"}));
    const auto old = tx->tombstones_before("d1", Timestamp(1000, 0), 10);  // oldest first
    ASSERT_EQ(old.size(), 2u);
    EXPECT_EQ(old[0].key, "older");
    EXPECT_EQ(old[1].key, "old");
    EXPECT_EQ(tx->tombstones_before("d1", Timestamp(1000, 0), 1).size(), 1u);
    EXPECT_EQ(tx->dataset("d1")->retained_seq, 0u);
    EXPECT_TRUE(tx->dataset("d1")->floor_hlc.is_zero());
  }
  {
    auto tx = storage().begin(true);
    tx->erase_entries("d1", {{"journal", "old"}, {"journal", "older"}});
    tx->set_compaction("d1", 3, Timestamp(300, 2), "r1");
    tx->commit();
  }
  auto tx = storage().begin(false);
  EXPECT_FALSE(tx->entry("d1", "journal", "old"));
  EXPECT_TRUE(tx->entry("d1", "journal", "live"));
  EXPECT_TRUE(tx->entry("d2", "journal", "old"));  // another dataset's
  EXPECT_EQ(tx->changes_since("d1", 0, 10).size(), 2u);
  const DatasetRow d1 = *tx->dataset("d1");
  EXPECT_EQ(d1.retained_seq, 3u);
  EXPECT_EQ(d1.floor_hlc, Timestamp(300, 2));
  EXPECT_EQ(d1.floor_replica, "r1");
  EXPECT_EQ(d1.last_seq, 4u);
  EXPECT_EQ(tx->datasets_of("u1").at(0).first.retained_seq, 3u);
  EXPECT_EQ(tx->datasets_with_tombstones(Timestamp(1000, 0), "", 10),
            (std::vector<std::string>{"d2"}));
}

TEST_P(StorageConformance, RetentionRemovesHistoryAndSnapshotsByAgeAndCount) {
  add_user_with_dataset(storage(), "u1", "d1");
  {
    auto tx = storage().begin(true);
    // Entry a: 5 rows, at times 1..5; entry b: 1 row at 10; a document's updates at 2 and 20.
    for (std::int64_t ms = 1; ms <= 5; ++ms) {
      tx->append_history({0, "d1", "journal", "a", 1, "u1", "", 0, Timestamp(1, 0), "r", ms, "put",
                          "{}", "applied", ""});
    }
    tx->append_history({0, "d1", "journal", "b", 1, "u1", "", 0, Timestamp(1, 0), "r", 10, "put",
                        "{}", "applied", ""});
    for (std::int64_t ms : {2, 20}) {
      tx->append_history({0, "d1", "", "notes/x", 1, "u1", "", 0, Timestamp(1, 0), "", ms, "update",
                          "{}", "applied", ""});
    }
    tx->append_document_update("d1", "notes/x", {0, "abc", "u1", 2});
    for (std::int64_t ms = 1; ms <= 4; ++ms)
      tx->add_document_snapshot("d1", "notes/x", {0, 1, ms, "", "", "state"});
    tx->add_document_snapshot("d1", "notes/y", {0, 1, 1, "", "", "only"});
    tx->put_entry("d1", entry("journal", "a", R"({"t":1})", 1));
    tx->put_entry("d1", entry("journal", "gone", std::nullopt, 2));
    tx->commit();
  }
  const auto history_ms = [&](std::string_view store, std::string_view key) {
    std::vector<std::int64_t> out;
    for (const HistoryRow& row : storage().begin(false)->history("d1", store, key, 100))
      out.push_back(row.server_ms);
    return out;
  };
  {
    auto tx = storage().begin(true);
    EXPECT_EQ(tx->drop_history(false, 3, 1), 1u);  // a batch of one
    EXPECT_EQ(tx->drop_history(false, 3, 10), 1u);
    EXPECT_EQ(tx->drop_history(false, 3, 10), 0u);
    EXPECT_EQ(tx->trim_history(2, 3, 10), 0u);  // a's rows beyond its newest 2 are all recent
    EXPECT_EQ(tx->trim_history(2, 4, 10), 1u);  // a keeps its newest 2
    EXPECT_EQ(tx->trim_history(2, 4, 10), 0u);
    EXPECT_EQ(tx->drop_history(true, 3, 10), 1u);  // the audit log's record at 2
    tx->commit();
  }
  EXPECT_EQ(history_ms("journal", "a"), (std::vector<std::int64_t>{4, 5}));
  EXPECT_EQ(history_ms("journal", "b"), (std::vector<std::int64_t>{10}));
  EXPECT_EQ(history_ms("", "notes/x"), (std::vector<std::int64_t>{20}));
  {
    auto tx = storage().begin(true);
    // The newest row of all stays, whatever its age: ids go on rising after it.
    EXPECT_EQ(tx->drop_history(true, 1000, 10), 0u);
    EXPECT_EQ(tx->drop_snapshots(3, 10), 2u);  // x's at 1 and 2; y's only one stays
    EXPECT_EQ(tx->trim_snapshots(1, 10), 1u);  // x keeps its newest
    EXPECT_EQ(tx->trim_snapshots(0, 10), 0u);  // at least one is always kept
    tx->commit();
  }
  auto tx = storage().begin(false);
  const auto x = tx->document_snapshots("d1", "notes/x");
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x[0].id, 4u);
  EXPECT_EQ(tx->document_snapshots("d1", "notes/y").size(), 1u);

  const server::Holdings held = tx->holdings(8);
  ASSERT_EQ(held.stores.size(), 1u);
  EXPECT_EQ(held.stores[0].store, "journal");
  EXPECT_EQ(held.stores[0].entries, 1u);
  EXPECT_EQ(held.stores[0].tombstones, 1u);
  EXPECT_EQ(held.stores[0].bytes, 8u);  // a {"t":1}
  EXPECT_EQ(held.stores[0].largest, 8u);
  EXPECT_EQ(held.stores[0].near_quota, 1u);
  EXPECT_EQ(tx->holdings(9).stores[0].near_quota, 0u);
  EXPECT_EQ(held.history_rows, 3u);
  EXPECT_EQ(held.audit_rows, 1u);
  EXPECT_EQ(held.documents, 1u);
  EXPECT_EQ(held.document_log_bytes, 3u);
  EXPECT_EQ(held.snapshots, 2u);
  EXPECT_EQ(held.snapshot_bytes, 9u);  // "state" and "only"
}

TEST_P(StorageConformance, ValuesAndStampsComeBackByteForByte) {
  add_user_with_dataset(storage(), "u1", "d1");
  EntryRow row = entry("s", "k", R"({"n":0.3,"t":"é\n\u0000"})", 1);
  row.stamps = R"({"fields":{"n":["1","r2"]}})";
  row.schema_version = 7;
  {
    auto tx = storage().begin(true);
    tx->put_entry("d1", row);
    tx->commit();
  }
  auto tx = storage().begin(false);
  const EntryRow back = *tx->entry("d1", "s", "k");
  EXPECT_EQ(back.value, row.value);
  EXPECT_EQ(back.stamps, row.stamps);
  EXPECT_EQ(back.schema_version, 7u);
}

TEST_P(StorageConformance, AppliedSequenceNumbersAreKeptPerDatasetAndClient) {
  add_user_with_dataset(storage(), "u1", "d1");
  add_user_with_dataset(storage(), "u2", "d2");
  {
    auto tx = storage().begin(true);
    EXPECT_EQ(tx->applied_seq("d1", "phone"), 0u);
    tx->set_applied_seq("d1", "phone", 7);
    tx->set_applied_seq("d1", "phone", 9);
    tx->set_applied_seq("d2", "phone", 3);
    tx->commit();
  }
  auto tx = storage().begin(false);
  EXPECT_EQ(tx->applied_seq("d1", "phone"), 9u);
  EXPECT_EQ(tx->applied_seq("d2", "phone"), 3u);
  EXPECT_EQ(tx->applied_seq("d1", "laptop"), 0u);
}

TEST_P(StorageConformance, HistoryIsKeptInOrderAndFindsAClientsChange) {
  add_user_with_dataset(storage(), "u1", "d1");
  {
    auto tx = storage().begin(true);
    for (std::uint64_t n = 1; n <= 3; ++n) {
      tx->append_history({0, "d1", "journal", "a", n, "u1", "phone", n, Timestamp(n, 0), "r1",
                          static_cast<std::int64_t>(n), "put", "{}", "applied", ""});
    }
    tx->append_history({0, "d1", "journal", "b", 0, "u1", "phone", 4, Timestamp(4, 0), "r1", 4,
                        "delete", "{}", "rejected", "server-won"});
    tx->commit();
  }
  auto tx = storage().begin(false);
  const auto versions = tx->history("d1", "journal", "a", 2);
  ASSERT_EQ(versions.size(), 2u);  // oldest first, at most the limit
  EXPECT_EQ(versions[0].client_seq, 1u);
  EXPECT_EQ(versions[1].client_seq, 2u);
  EXPECT_LT(versions[0].id, versions[1].id);
  const std::optional<HistoryRow> rejected = tx->client_change("d1", "journal", "b", "phone", 4);
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->outcome, "rejected");
  EXPECT_EQ(rejected->resolution, "server-won");
  EXPECT_FALSE(tx->client_change("d1", "journal", "b", "phone", 5));
  EXPECT_FALSE(tx->client_change("d1", "journal", "b", "laptop", 4));
}

TEST_P(StorageConformance, DocumentLogsKeepBytesInOrderAndCompactIntoOneUpdate) {
  add_user_with_dataset(storage(), "u1", "d1");
  const std::string binary("\0\xff\x01 \xc3", 5);  // not UTF-8, with a NUL
  {
    auto tx = storage().begin(true);
    EXPECT_EQ(tx->append_document_update("d1", "notes", {0, binary, "u1", 10}), 1u);
    EXPECT_EQ(tx->append_document_update("d1", "notes", {0, "b", "u2", 11}), 2u);
    EXPECT_EQ(tx->append_document_update("d1", "notes/2", {0, "x", "u1", 12}), 1u);
    EXPECT_EQ(tx->append_document_update("d1", "notes", {0, "c", "u1", 13}), 3u);
    tx->commit();
  }
  {
    auto tx = storage().begin(false);
    const std::vector<server::DocumentUpdateRow> log = tx->document_updates("d1", "notes", 0);
    ASSERT_EQ(log.size(), 3u);
    EXPECT_EQ(log[0].data, binary);
    EXPECT_EQ(log[1].user_id, "u2");
    EXPECT_EQ(log[2].server_ms, 13);
    EXPECT_EQ(tx->document_updates("d1", "notes", 2).size(), 1u);
    EXPECT_TRUE(tx->document_updates("d1", "never", 0).empty());
    EXPECT_TRUE(tx->document_updates("d2", "notes", 0).empty());
  }
  {
    auto tx = storage().begin(true);
    tx->compact_document("d1", "notes", 2, "merged");
    EXPECT_EQ(tx->append_document_update("d1", "notes", {0, "d", "u1", 14}), 4u);
    tx->commit();
  }
  auto tx = storage().begin(false);
  const std::vector<server::DocumentUpdateRow> log = tx->document_updates("d1", "notes", 0);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].seq, 2u);
  EXPECT_EQ(log[0].data, "merged");
  EXPECT_EQ(log[0].user_id, "");
  EXPECT_EQ(log[1].data, "c");
  EXPECT_EQ(log[2].seq, 4u);
  EXPECT_EQ(tx->document_updates("d1", "notes/2", 0).size(), 1u);
}

TEST_P(StorageConformance, DocumentSnapshotsAreNumberedPerDocumentAndKeepTheirBytes) {
  add_user_with_dataset(storage(), "u1", "d1");
  const std::string binary("\0\xfe\x01", 3);
  {
    auto tx = storage().begin(true);
    EXPECT_EQ(tx->add_document_snapshot("d1", "notes", {0, 4, 100, "", "", binary}), 1u);
    EXPECT_EQ(tx->add_document_snapshot("d1", "other", {0, 1, 101, "u1", "x", "y"}), 1u);
    EXPECT_EQ(tx->add_document_snapshot("d1", "notes", {0, 9, 102, "u1", "before the edit", "z"}),
              2u);
    tx->commit();
  }
  auto tx = storage().begin(false);
  const std::vector<server::DocumentSnapshotRow> listed = tx->document_snapshots("d1", "notes");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].seq, 4u);
  EXPECT_EQ(listed[1].label, "before the edit");
  EXPECT_EQ(listed[1].user_id, "u1");
  EXPECT_EQ(listed[1].server_ms, 102);
  EXPECT_TRUE(listed[1].data.empty());  // listed without their bytes
  EXPECT_EQ(tx->document_snapshot("d1", "notes", 1)->data, binary);
  EXPECT_FALSE(tx->document_snapshot("d1", "notes", 3));
  EXPECT_FALSE(tx->document_snapshot("d2", "notes", 1));
}

TEST_P(StorageConformance, ADatasetKeepsEveryRevisionOfItsSchemaAndCountsEntriesPerVersion) {
  add_user_with_dataset(storage(), "u1", "d1");
  add_user_with_dataset(storage(), "u2", "d2");
  {
    auto tx = storage().begin(true);
    EXPECT_FALSE(tx->dataset_schema("d1"));
    tx->add_dataset_schema("d1", {1, R"({"stores":{}})", "u1", 10});
    tx->add_dataset_schema("d1", {2, R"({"stores":{"j":{"version":2}}})", "u1", 20});
    std::uint64_t seq = 0;
    for (const auto& [store, key, version] :
         std::vector<std::tuple<std::string, std::string, std::uint32_t>>{
             {"j", "a", 1}, {"j", "b", 2}, {"j", "c", 2}, {"j", "gone", 1}, {"a", "x", 3}}) {
      EntryRow row = entry(store, key, key == "gone" ? std::nullopt : std::optional("{}"), ++seq);
      row.schema_version = version;
      tx->put_entry("d1", row);
    }
    tx->put_entry("d2", entry("j", "other", "{}", 1));
    tx->commit();
  }
  auto tx = storage().begin(false);
  const std::optional<server::DatasetSchemaRow> latest = tx->dataset_schema("d1");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->revision, 2u);
  EXPECT_EQ(latest->schema, R"({"stores":{"j":{"version":2}}})");
  EXPECT_EQ(latest->user_id, "u1");
  EXPECT_EQ(latest->server_ms, 20);
  EXPECT_FALSE(tx->dataset_schema("d2"));
  // Tombstones do not count: nothing needs translating there.
  const std::vector<server::StoreVersionCount> expected = {{"a", 3, 1}, {"j", 1, 1}, {"j", 2, 2}};
  EXPECT_EQ(tx->entry_versions("d1"), expected);
}

TEST_P(StorageConformance, ATransactionThatIsNotCommittedLeavesNothing) {
  add_user_with_dataset(storage(), "u1", "d1");
  {
    auto tx = storage().begin(true);
    tx->put_entry("d1", entry("s", "k", "1", 1));
    tx->set_last_seq("d1", 1);
    tx->insert_user({"u2", "guest", "", "", 1});
  }  // dropped: rolled back
  auto tx = storage().begin(false);
  EXPECT_FALSE(tx->entry("d1", "s", "k"));
  EXPECT_EQ(tx->dataset("d1")->last_seq, 0u);
  EXPECT_FALSE(tx->user("u2"));
}

TEST_P(StorageConformance, TheClockReadingSurvivesReopening) {
  {
    auto tx = storage().begin(true);
    EXPECT_EQ(tx->clock(), Timestamp());
    tx->save_clock(Timestamp(123456, 7));
    tx->commit();
  }
  storage_.reset();
  storage_ = GetParam().open(dir_.path());
  auto tx = storage().begin(false);
  EXPECT_EQ(tx->clock(), Timestamp(123456, 7));
}

// cairnd --copy-to's reading and writing (here between two storages of this backend; copy_test
// moves a SQLite server into PostgreSQL): every row of every table, a chunk at a time in key
// order, byte for byte.
TEST_P(StorageConformance, EveryRowCopiesIntoEmptyStorageAndTheCopyIsChecked) {
  add_user_with_dataset(storage(), "u1", "d1");
  {
    auto tx = storage().begin(true);
    tx->insert_user({"u2", "google", "sub-2", "u2@example.com", 5});
    tx->insert_token({"hash-1", "u1", 1, 99, false});
    tx->insert_token({"hash-2", "u2", 2, 99, false});
    tx->revoke_token("hash-2");
    tx->insert_dataset({"d2", "family", "u2", false, 6, 0});
    tx->set_member("d2", "u1", Role::viewer);
    // More than a chunk, with keys whose byte order is not their alphabetical one.
    std::uint64_t seq = 0;
    for (int n = 0; n < 1100; ++n) {
      for (const char* prefix : {"K", "k", "\xC3\xA9"}) {
        if (n >= 10 && prefix[0] != 'k') continue;
        EntryRow row = entry("journal", prefix + std::to_string(n),
                             "{\"n\":" + std::to_string(n) + "}", ++seq);
        if (n == 3) row.value.reset();  // a tombstone
        if (n == 4) row.stamps = R"({"fields":{"a":"1"}})";
        tx->put_entry("d1", row);
      }
    }
    tx->set_last_seq("d1", seq);
    tx->set_applied_seq("d1", "phone", 7);
    tx->append_history({0, "d1", "journal", "k1", 1, "u1", "phone", 7, Timestamp(9, 1), "r1", 10,
                        "put", R"({"value":1})", "applied", "client-won"});
    tx->append_document_update("d1", "notes/a", {0, std::string("\0\x01\xff\x80", 4), "u1", 12});
    tx->add_document_snapshot("d1", "notes/a", {0, 1, 12, "u1", "first", std::string("\0\x02", 2)});
    tx->add_dataset_schema("d1", {1, R"({"stores":{"journal":{"version":2}}})", "u1", 13});
    tx->save_clock(Timestamp(777, 3));
    tx->set_compaction("d2", 5, Timestamp(40, 1), "r9");
    tx->commit();
  }
  TempDir other_dir;
  std::unique_ptr<server::Storage> copy = GetParam().open(other_dir.path());
  const server::CopyReport report = server::copy_storage(storage(), *copy);
  std::map<std::string, std::uint64_t> rows(report.rows.begin(), report.rows.end());
  EXPECT_EQ(rows["users"], 2u);
  EXPECT_EQ(rows["entries"], 1120u);
  EXPECT_EQ(rows["history"], 1u);
  EXPECT_EQ(rows["document_updates"], 1u);
  EXPECT_EQ(rows["document_snapshots"], 1u);
  EXPECT_EQ(rows["dataset_schemas"], 1u);

  auto original = storage().begin(false);
  auto copied = copy->begin(false);
  EXPECT_EQ(copied->user_by_google("sub-2")->email, "u2@example.com");
  EXPECT_TRUE(copied->token("hash-2")->revoked);
  EXPECT_FALSE(copied->token("hash-1")->revoked);
  EXPECT_EQ(copied->role("d2", "u1"), Role::viewer);
  EXPECT_EQ(copied->dataset("d1")->last_seq, 1120u);
  EXPECT_EQ(copied->dataset("d2")->retained_seq, 5u);
  EXPECT_EQ(copied->dataset("d2")->floor_hlc, Timestamp(40, 1));
  EXPECT_EQ(copied->dataset("d2")->floor_replica, "r9");
  EXPECT_EQ(copied->applied_seq("d1", "phone"), 7u);
  EXPECT_EQ(copied->clock(), Timestamp(777, 3));
  const auto feed = [](StorageTransaction& tx) {
    std::vector<std::string> out;
    for (const EntryRow& row : tx.changes_since("d1", 0, 5000))
      out.push_back(row.key + "=" + row.value.value_or("-") + "@" + std::to_string(row.seq) +
                    row.stamps);
    return out;
  };
  EXPECT_EQ(feed(*copied), feed(*original));
  const HistoryRow kept = copied->history("d1", "journal", "k1", 10).at(0);
  EXPECT_EQ(kept.id, original->history("d1", "journal", "k1", 10).at(0).id);
  EXPECT_EQ(kept.resolution, "client-won");
  EXPECT_EQ(copied->document_updates("d1", "notes/a", 0).at(0).data,
            std::string("\0\x01\xff\x80", 4));
  EXPECT_EQ(copied->dataset_schema("d1")->schema, R"({"stores":{"journal":{"version":2}}})");
  copied.reset();
  {
    // History goes on after the copied rows.
    auto tx = copy->begin(true);
    tx->append_history({0, "d1", "journal", "k1", 2, "u1", "phone", 8, Timestamp(10, 0), "r1", 11,
                        "put", "{}", "applied", ""});
    tx->commit();
    EXPECT_GT(copy->begin(false)->history("d1", "journal", "k1", 10).at(1).id, kept.id);
  }
  // Only into empty storage.
  try {
    server::copy_storage(storage(), *copy);
    ADD_FAILURE() << "copied into storage that holds data";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument) << e.what();
  }
}

TEST_P(StorageConformance, AdvancingFeedsMovesEveryDatasetForward) {
  add_user_with_dataset(storage(), "u1", "d1");
  add_user_with_dataset(storage(), "u2", "d2");
  {
    auto tx = storage().begin(true);
    tx->set_last_seq("d1", 5);
    EXPECT_EQ(tx->advance_feeds(1000), 2u);
    tx->commit();
  }
  auto tx = storage().begin(false);
  EXPECT_EQ(tx->dataset("d1")->last_seq, 1005u);
  EXPECT_EQ(tx->dataset("d2")->last_seq, 1000u);
}

TEST_P(StorageConformance, ReadersSeeTheLastCommitWhileAWriterWorks) {
  add_user_with_dataset(storage(), "u1", "d1");
  auto writer = storage().begin(true);
  writer->set_last_seq("d1", 9);
  {
    auto reader = storage().begin(false);  // does not wait for the writer
    EXPECT_EQ(reader->dataset("d1")->last_seq, 0u);
  }
  writer->commit();
  writer.reset();
  auto reader = storage().begin(false);
  EXPECT_EQ(reader->dataset("d1")->last_seq, 9u);
}

// Whoever reads a dataset in a write transaction has it to itself until the transaction ends:
// feed positions are handed out one writer at a time.
TEST_P(StorageConformance, WritersOfADatasetExcludeEachOther) {
  add_user_with_dataset(storage(), "u1", "d1");
  auto first = storage().begin(true);
  std::atomic<bool> second_read{false};
  std::promise<void> second_done;
  std::thread second([&] {
    auto tx = storage().begin(true);
    // Read-modify-write: correct only if the first transaction's write is seen.
    const std::uint64_t seq = tx->dataset("d1")->last_seq;  // waits for the first to end
    second_read = true;
    tx->set_last_seq("d1", seq + 1);
    tx->commit();
    second_done.set_value();
  });
  const std::uint64_t seq = first->dataset("d1")->last_seq;
  first->set_last_seq("d1", seq + 1);
  EXPECT_FALSE(second_read.load());
  first->commit();
  first.reset();
  second_done.get_future().wait();
  second.join();
  auto reader = storage().begin(false);
  EXPECT_EQ(reader->dataset("d1")->last_seq, 2u);
}

}  // namespace
}  // namespace cairn::test
