// Tombstone compaction (docs/sync.md, "Deletes and compaction"): a real cairnd drops tombstones
// older than its retention window; devices that had not seen those deletes resync from the
// beginning and forget what the server no longer has; writes stamped before a dropped delete
// lose to it. Time is one manual clock, the server's and every device's: the window passes in a
// line of the test. Whatever a device held, nothing deleted comes back. And retention
// (docs/operations.md): history kept by age and count, what the server holds on /metrics.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <optional>

#include "support/api_client.hpp"
#include "support/in_process_cairnd.hpp"
#include "support/live_client.hpp"
#include "support/manual_clock.hpp"
#include "support/temp_dir.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::int64_t kDay = 24 * 3600 * 1000;

class CompactionTest : public ::testing::Test {
 protected:
  CompactionTest() {
    server::ServerOptions options;
    options.storage.data_dir = dir_ / "data";
    options.storage.durability = Durability::normal;
    options.rate_limit = 0;
    options.clock = clock_;
    options.token_lifetime = std::chrono::hours(24 * 1000);  // outlives the months that pass
    options.housekeeping.interval = 0ms;                     // rounds run when the test says
    options.housekeeping.batch = 2;                          // several transactions per dataset
    options.housekeeping.history_max_rows = 3;
    options.housekeeping.history_max_age = std::chrono::hours(24 * 30);
    options.housekeeping.history_min_age = 0ms;
    cairnd_.emplace(std::move(options));
    owner_.emplace(ApiClient::guest(cairnd_->port()));
    dataset_ = std::string(
        owner_->post("/api/datasets", json::object{{"name", "team"}}).at("datasetId").as_string());
  }

  DatabaseOptions app() {
    DatabaseOptions options;
    options.stores = {{"tasks", 1, MergePolicy::per_field()},
                      {"notes", 1, MergePolicy::whole_entry()}};
    options.clock = clock_;
    return options;
  }
  Database open(const std::string& name) { return Database::open(dir_ / (name + ".db"), app()); }
  SyncReport sync(Database& db) {
    SyncOptions options;
    options.server = "http://127.0.0.1:" + std::to_string(cairnd_->port());
    options.token = owner_->token();
    options.dataset = dataset_;
    options.request_timeout = 5s;
    return SyncClient::sync_once(db, options);
  }
  std::uint64_t housekeep() { return cairnd_->server().housekeep().tombstones; }
  std::string metrics() {
    return HttpClient("127.0.0.1", cairnd_->port()).request("GET", "/metrics").body;
  }
  std::size_t history(const std::string& store, const std::string& key) {
    const ApiResult result =
        owner_->get("/api/history?dataset=" + dataset_ + "&store=" + store + "&key=" + key);
    EXPECT_EQ(result.status, 200) << json::serialize(result.body);
    return result.body.at("versions").as_array().size();
  }

  TempDir dir_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::optional<InProcessCairnd> cairnd_;
  std::optional<ApiClient> owner_;
  std::string dataset_;
};

TEST_F(CompactionTest, NothingDeletedComesBackFromAnyKindOfStaleDevice) {
  Database writer = open("writer");
  for (const char* key : {"k1", "k2", "k3", "k4", "k5"})
    writer.put("tasks", key, json::object{{"title", key}, {"done", false}});
  writer.put("notes", "n1", "first");
  sync(writer);

  // Every kind of device holds the entries before the deletes.
  Database reader = open("reader");      // holds them, offline through the deletes
  Database editor = open("editor");      // edits one offline, before the deletes
  Database patcher = open("patcher");    // patches one field offline, before the deletes
  Database follower = open("follower");  // saw the deletes
  Database late_editor = open("late");   // edits one offline, after the deletes
  for (Database* db : {&reader, &editor, &patcher, &follower, &late_editor}) {
    sync(*db);
    ASSERT_EQ(db->keys("tasks"), (std::vector<std::string>{"k1", "k2", "k3", "k4", "k5"}));
  }
  clock_->advance(1000);
  editor.put("tasks", "k1", json::object{{"title", "k1, edited"}, {"done", false}});
  editor.put("notes", "n1", "edited");
  patcher.put("tasks", "k2", json::object{{"title", "k2"}, {"done", true}});  // a patch of "done"
  clock_->advance(1000);
  writer.erase("tasks", "k1");
  writer.erase("tasks", "k2");
  writer.erase("tasks", "k3");
  writer.erase("notes", "n1");
  sync(writer);
  sync(follower);
  clock_->advance(1000);
  late_editor.put("tasks", "k3", json::object{{"title", "k3, written after its delete"}});

  // Not yet: the window has not passed.
  clock_->advance(89 * kDay);
  EXPECT_EQ(housekeep(), 0u);
  clock_->advance(2 * kDay);
  EXPECT_EQ(housekeep(), 4u);
  EXPECT_NE(metrics().find("cairnd_tombstones_dropped_total 4"), std::string::npos);

  // The reader's cursor is older than what the server kept: it pulls the dataset again and
  // forgets what the server no longer has, telling its subscribers.
  std::vector<std::string> heard;
  Subscription subscription = reader.subscribe("tasks", [&](const ChangeSet& changes) {
    for (const Change& change : changes.changes) {
      if (change.deleted()) heard.push_back(change.key);
    }
  });
  const SyncReport read = sync(reader);
  EXPECT_TRUE(read.full);
  EXPECT_EQ(read.forgotten, 4u);
  EXPECT_EQ(reader.keys("tasks"), (std::vector<std::string>{"k4", "k5"}));
  EXPECT_FALSE(reader.get("notes", "n1"));
  EXPECT_EQ(heard, (std::vector<std::string>{"k1", "k2", "k3"}));

  // Changes stamped before the deletes lose to them, though the tombstones are gone.
  const SyncReport edited = sync(editor);
  EXPECT_EQ(edited.conflicts, 2u);
  EXPECT_EQ(editor.keys("tasks"), (std::vector<std::string>{"k4", "k5"}));
  EXPECT_FALSE(editor.get("notes", "n1"));
  EXPECT_EQ(sync(patcher).conflicts, 1u);
  EXPECT_EQ(patcher.keys("tasks"), (std::vector<std::string>{"k4", "k5"}));

  // A write made after the delete wins over it, as it would have against the tombstone.
  const SyncReport late = sync(late_editor);
  EXPECT_EQ(late.conflicts, 0u);
  EXPECT_EQ(late_editor.keys("tasks"), (std::vector<std::string>{"k3", "k4", "k5"}));

  // The devices that saw the deletes drop their own tombstones (k1, k2, n1: k3 is back); a new
  // device never hears of them.
  const SyncReport followed = sync(follower);
  EXPECT_FALSE(followed.full);
  EXPECT_EQ(followed.tombstones_dropped, 3u);
  EXPECT_EQ(sync(writer).tombstones_dropped, 3u);
  Database newcomer = open("newcomer");
  sync(newcomer);

  // Every device, synced once more, holds exactly what the server holds.
  const std::vector<std::string> expected = {"k3", "k4", "k5"};
  for (Database* db : {&writer, &reader, &editor, &patcher, &follower, &late_editor, &newcomer}) {
    sync(*db);
    EXPECT_EQ(db->keys("tasks"), expected) << db->path();
    EXPECT_FALSE(db->get("notes", "n1")) << db->path();
    EXPECT_EQ(db->get("tasks", "k3"), json::value({{"title", "k3, written after its delete"}}));
  }
  const ApiResult feed = owner_->get("/api/sync/changes?dataset=" + dataset_ + "&since=0");
  ASSERT_EQ(feed.status, 200) << json::serialize(feed.body);
  EXPECT_EQ(feed.body.at("changes").as_array().size(), 3u);  // k3, k4, k5: no tombstones left
}

TEST_F(CompactionTest, ACursorOlderThanWhatTheServerKeptIsRefusedWith410OnEveryTransport) {
  Database writer = open("writer");
  writer.put("notes", "a", "1");
  writer.put("notes", "b", "2");
  sync(writer);
  const std::string stale = "1";
  writer.erase("notes", "a");
  sync(writer);
  clock_->advance(91 * kDay);
  writer.put("notes", "c", "3");  // young: stays
  sync(writer);
  ASSERT_EQ(housekeep(), 1u);

  const ApiResult refused =
      owner_->get("/api/sync/changes?dataset=" + dataset_ + "&since=" + stale);
  EXPECT_EQ(refused.status, 410) << json::serialize(refused.body);
  EXPECT_EQ(refused.body.at("error").at("code"), "cursor_compacted");
  EXPECT_EQ(refused.body.at("error").at("retainedFrom"), 3);
  EXPECT_EQ(owner_->get("/api/sync/changes?dataset=" + dataset_ + "&since=0").status, 200);
  EXPECT_EQ(owner_->get("/api/sync/changes?dataset=" + dataset_ + "&since=3").status, 200);
  const ApiResult patch = owner_->post(
      "/api/sync/patch",
      json::object{{"dataset", dataset_}, {"cursor", stale}, {"changes", json::array{}}});
  EXPECT_EQ(patch.status, 410) << json::serialize(patch.body);

  LiveClient live(cairnd_->port(), owner_->token());
  live.send({{"type", "subscribe"}, {"dataset", dataset_}, {"cursor", stale}});
  const json::object error = live.next("error");
  EXPECT_EQ(error.at("code"), "cursor_compacted");
  live.send({{"type", "subscribe"}, {"dataset", dataset_}, {"cursor", "0"}});
  EXPECT_EQ(live.next("subscribed").at("cursor"), "0");
}

TEST_F(CompactionTest, ADeviceDropsOnlyTombstonesOlderThanItsWindow) {
  Database device = open("device");
  device.put("notes", "old", "1");
  device.put("notes", "young", "2");
  device.put("notes", "kept", "3");
  sync(device);
  device.erase("notes", "old");
  sync(device);
  clock_->advance(60 * kDay);
  device.erase("notes", "young");
  const SyncReport first = sync(device);
  EXPECT_EQ(first.tombstones_dropped, 0u);
  EXPECT_EQ(device.store_info("notes").tombstones, 2u);
  clock_->advance(31 * kDay);
  EXPECT_EQ(sync(device).tombstones_dropped, 1u);  // "old" only
  EXPECT_EQ(device.store_info("notes").tombstones, 1u);
  EXPECT_TRUE(device.entry_info("notes", "young"));
  EXPECT_FALSE(device.entry_info("notes", "old"));
  EXPECT_EQ(device.keys("notes"), (std::vector<std::string>{"kept"}));
  // Reopened, the file agrees with what memory held.
  const auto path = device.path();
  device = open("other");
  Database reopened = Database::open(path, app());
  EXPECT_EQ(reopened.store_info("notes").tombstones, 1u);
  EXPECT_FALSE(reopened.entry_info("notes", "old"));
}

TEST_F(CompactionTest, HistoryIsKeptByAgeAndCountAndMetricsShowWhatTheServerHolds) {
  Database device = open("device");
  for (int i = 1; i <= 5; ++i) {
    device.put("tasks", "a", json::object{{"n", i}});
    sync(device);
  }
  ASSERT_EQ(history("tasks", "a"), 5u);
  EXPECT_EQ(metrics().find("cairnd_history_rows"), std::string::npos);  // before the first round
  clock_->advance(1);
  cairnd_->server().housekeep();
  EXPECT_EQ(history("tasks", "a"), 3u);  // the newest 3

  clock_->advance(31 * std::int64_t{24 * 3600 * 1000});
  device.put("tasks", "b", json::object{{"n", 1}});
  sync(device);
  const server::HousekeepingReport report = cairnd_->server().housekeep();
  EXPECT_EQ(report.history_rows, 5u);    // a's 3, and the 2 of the owner's seeded profile
  EXPECT_EQ(history("tasks", "a"), 0u);  // older than 30 days
  EXPECT_EQ(history("tasks", "b"), 1u);
  EXPECT_EQ(device.get("tasks", "a"), json::value({{"n", 5}}));  // the entry itself stays

  const std::string text = metrics();
  for (const char* line :
       {"cairnd_store_entries{store=\"tasks\"} 2", "cairnd_history_rows{kind=\"entries\"} 1",
        "cairnd_retention_dropped_total{kind=\"history\"} 7", "cairnd_store_quota_bytes 52428800",
        "cairnd_stores_near_quota{store=\"tasks\"} 0"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

}  // namespace
}  // namespace cairn::test
