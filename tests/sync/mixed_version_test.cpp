// Old and new apps at once (docs/migrations.md): devices running three versions of a store's
// schema sync one dataset through a real cairnd and our fault proxy. Each works on every entry
// it can read, at its own version; an entry a version cannot read is held back and reported;
// when every device upgrades, every write is there.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <iostream>
#include <thread>

#include "support/announced.hpp"
#include "support/cairnd.hpp"
#include "support/fault_proxy.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

json::value j(std::string_view text) {
  return json::parse(text);
}

// The roadmap's patterns on one store, "people" (per-field merge):
//   v1 {"name", "text", "tags": {"<tag>": {...}}}
//   v2 B: text is renamed body; A: createdAt is added, 0 by default
//   v3 C: tags become an array of {"id": "<tag>", ...}
// Every step is invertible, so every version reads every entry. "notes" has a step that is not
// (a field removed with no value to restore it by): its version-2 entries are held back from
// version-1 devices.
StoreSchema people(std::uint32_t version) {
  std::vector<MigrationStep> steps = {
      {1, {MigrationOp::rename_field("text", "body"), MigrationOp::add_field("createdAt", 0)}},
      {2, {MigrationOp::object_to_array("tags")}}};
  steps.resize(version - 1);
  return {"people", version, MergePolicy::per_field(), std::move(steps)};
}
StoreSchema notes(std::uint32_t version) {
  std::vector<MigrationStep> steps = {{1, {MigrationOp::remove_field("draft")}}};
  steps.resize(std::min<std::uint32_t>(version, 2) - 1);
  return {"notes", std::min<std::uint32_t>(version, 2), MergePolicy::whole_entry(),
          std::move(steps)};
}
// "diary" merges whole entries (lww): v2 adds a mood, 0 by default.
StoreSchema diary(std::uint32_t version) {
  std::vector<MigrationStep> steps = {{1, {MigrationOp::add_field("mood", 0)}}};
  steps.resize(std::min<std::uint32_t>(version, 2) - 1);
  return {"diary", std::min<std::uint32_t>(version, 2), MergePolicy::whole_entry(),
          std::move(steps)};
}
DatabaseOptions app(std::uint32_t version) {
  DatabaseOptions options;
  options.stores = {people(version), notes(version), diary(version)};
  return options;
}

class MixedVersionTest : public ::testing::Test {
 protected:
  MixedVersionTest() : cairnd_(dir_ / "server", {"--rate-limit", "0"}), proxy_(cairnd_.port()) {}

  SyncOptions options(const std::string& token = {}) {
    SyncOptions options;
    options.server = proxy_.url();
    options.token = token;
    options.request_timeout = 2s;
    return options;
  }
  // One sync that completes, however many the proxy's faults take (each attempt resends what
  // the last did not finish: the server applies every change once).
  SyncReport sync(Database& db, const std::string& token) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      try {
        return SyncClient::sync_once(db, options(token));
      } catch (const Error&) {
      }
    }
    ADD_FAILURE() << "no sync completed in 100 attempts";
    return {};
  }
  // Each device syncs twice on its own thread, all at once; then each once more in turn, so that
  // every device has heard of every other's writes.
  void sync_all(std::initializer_list<Database*> devices, const std::string& token) {
    std::vector<std::thread> threads;
    for (Database* db : devices) {
      threads.emplace_back([this, db, &token] {
        sync(*db, token);
        sync(*db, token);
      });
    }
    for (std::thread& thread : threads)
      thread.join();
    for (Database* db : devices)
      sync(*db, token);
  }
  // The owner's device publishes the dataset's schema at version 3; the others join as the same
  // user. Returns the token.
  std::string publish(Database& owner) {
    SyncClient::sync_once(owner, options());
    const std::string token = SyncClient::stored_token(owner);
    SyncClient::push_schema(owner, options(token), app(3).stores);
    return token;
  }
  Database open(const std::string& name, std::uint32_t version) {
    return Database::open(dir_ / (name + ".db"), app(version));
  }
  // Closes `db` and opens its file with the schema of `version`: the application upgraded.
  Database upgrade(Database& db, std::uint32_t version) {
    const auto path = db.path();
    db = Database::open(dir_ / "closed.db", app(version));
    return Database::open(path, app(version));
  }

  TempDir dir_;
  Cairnd cairnd_;
  FaultProxy proxy_;
};

TEST_F(MixedVersionTest, ThreeVersionsEditOneDatasetEachAtItsOwnVersionAndLoseNothing) {
  const std::uint64_t seed = 20261204;
  std::cout << "fault schedule seed " << seed << '\n';
  Database v3 = open("v3", 3);
  const std::string token = publish(v3);
  Database v1 = open("v1", 1);
  Database v2 = open("v2", 2);
  proxy_.set_schedule(seed, {60, 15, 15, 10, 0});

  // Each writes an entry in its own version's shape.
  v1.put("people", "ada", j(R"({"name": "Ada", "text": "hi", "tags": {"math": {"n": 1}}})"));
  v2.put("people", "bob", j(R"({"name": "Bob", "body": "yo", "createdAt": 5, "tags": {}})"));
  v3.put("people", "cy",
         j(R"({"name": "Cy", "body": "hey", "createdAt": 7, "tags": [{"id": "art", "n": 2}]})"));
  sync_all({&v1, &v2, &v3}, token);

  // Each reads every entry at its own version.
  EXPECT_EQ(v1.get("people", "cy"),
            j(R"({"name": "Cy", "text": "hey", "tags": {"art": {"n": 2}}})"));
  EXPECT_EQ(v2.get("people", "ada"),
            j(R"({"name": "Ada", "body": "hi", "tags": {"math": {"n": 1}}, "createdAt": 0})"));
  EXPECT_EQ(v3.get("people", "bob"),
            j(R"({"name": "Bob", "body": "yo", "createdAt": 5, "tags": []})"));

  // Concurrent edits across versions, each a put of the whole value as that version sees it (a
  // per-field store records the fields it changes): a v1 device renames Cy (it knows nothing of
  // createdAt), v3 dates Ada's entry, v2 edits Bob's body and v1 tags Bob.
  v1.put("people", "cy", j(R"({"name": "Cyrus", "text": "hey", "tags": {"art": {"n": 2}}})"));
  v3.put("people", "ada",
         j(R"({"name": "Ada", "body": "hi", "tags": [{"id": "math", "n": 1}], "createdAt": 42})"));
  v2.put("people", "bob", j(R"({"name": "Bob", "body": "yo!", "createdAt": 5, "tags": {}})"));
  v1.put("people", "bob", j(R"({"name": "Bob", "text": "yo", "tags": {"chess": {"n": 3}}})"));
  sync_all({&v3, &v1, &v2}, token);
  proxy_.clear_schedule();
  EXPECT_GT(proxy_.dropped_before() + proxy_.dropped_after(), 0u);  // the faults did happen

  // Converged, each at its version; no version's write erased another's fields.
  EXPECT_EQ(v1.get("people", "cy"),
            j(R"({"name": "Cyrus", "text": "hey", "tags": {"art": {"n": 2}}})"));
  EXPECT_EQ(
      v3.get("people", "cy"),
      j(R"({"name": "Cyrus", "body": "hey", "createdAt": 7, "tags": [{"id": "art", "n": 2}]})"));
  EXPECT_EQ(v1.get("people", "ada"),
            j(R"({"name": "Ada", "text": "hi", "tags": {"math": {"n": 1}}})"));
  EXPECT_EQ(v2.get("people", "ada"),
            j(R"({"name": "Ada", "body": "hi", "tags": {"math": {"n": 1}}, "createdAt": 42})"));
  const json::value bob3 = *v3.get("people", "bob");
  EXPECT_EQ(bob3.at("createdAt"), 5);  // v1's put of Bob kept what it does not know
  EXPECT_EQ(bob3.at("tags"), j(R"([{"id": "chess", "n": 3}])"));
  EXPECT_EQ(v2.get("people", "bob")->at("createdAt"), 5);
  EXPECT_EQ(v1.get("people", "bob")->at("tags"), j(R"({"chess": {"n": 3}})"));
  EXPECT_EQ(bob3.at("body"), "yo!");  // only v2 changed it
  EXPECT_EQ(v1.get("people", "bob")->at("text"), "yo!");
  for (Database* db : {&v1, &v2, &v3}) {
    EXPECT_TRUE(SyncClient::stored_status(*db).held_back_entries.empty());
    EXPECT_EQ(db->pending_count(), 0u);
  }

  // Everyone upgrades: every device holds the same entries at version 3, every write present.
  v1 = upgrade(v1, 3);
  v2 = upgrade(v2, 3);
  for (Database* db : {&v1, &v2, &v3})
    sync(*db, token);
  for (const char* key : {"ada", "bob", "cy"}) {
    EXPECT_EQ(v1.get("people", key), v3.get("people", key)) << key;
    EXPECT_EQ(v2.get("people", key), v3.get("people", key)) << key;
  }
  EXPECT_EQ(
      v1.get("people", "ada"),
      j(R"({"name": "Ada", "body": "hi", "tags": [{"id": "math", "n": 1}], "createdAt": 42})"));
  EXPECT_EQ(v1.get("people", "cy")->at("createdAt"), 7);
  EXPECT_EQ(v1.get("people", "cy")->at("name"), "Cyrus");
}

TEST_F(MixedVersionTest, AnEntryAnOlderVersionCannotReadIsHeldBackReportedAndArrivesOnUpgrade) {
  Database v2 = open("v2", 2);
  const std::string token = publish(v2);
  Database v1 = open("v1", 1);

  // "notes" v2 dropped "draft": a v2 entry cannot be taken down to v1.
  v2.put("notes", "n1", j(R"({"title": "plan"})"));
  v1.put("notes", "n2", j(R"({"title": "list", "draft": true})"));
  sync(v2, token);
  const SyncReport report = sync(v1, token);
  EXPECT_EQ(report.held_back, 1u);
  EXPECT_FALSE(v1.contains("notes", "n1"));
  const SyncStatus status = SyncClient::stored_status(v1);
  EXPECT_TRUE(status.held_back);
  EXPECT_EQ(status.held_back_entries,
            (std::map<std::string, std::uint64_t, std::less<>>{{"notes", 1}}));

  // The other way works: v1's entry goes up to v2 without the removed field.
  sync(v2, token);
  EXPECT_EQ(v2.get("notes", "n2"), j(R"({"title": "list"})"));

  // Syncing again does not count it twice.
  sync(v1, token);
  EXPECT_EQ(SyncClient::stored_status(v1).held_back_entries.at("notes"), 1u);

  // A delete at v2 is readable at any version: the entry is no longer held back.
  v2.put("notes", "n3", j(R"({"title": "gone soon"})"));
  sync(v2, token);
  sync(v1, token);
  EXPECT_EQ(SyncClient::stored_status(v1).held_back_entries.at("notes"), 2u);
  v2.erase("notes", "n3");
  sync(v2, token);
  sync(v1, token);
  EXPECT_EQ(SyncClient::stored_status(v1).held_back_entries.at("notes"), 1u);
  EXPECT_FALSE(v1.contains("notes", "n3"));

  // On upgrade the held-back entry arrives and nothing is reported any more.
  v1 = upgrade(v1, 2);
  const SyncReport after = sync(v1, token);
  EXPECT_TRUE(after.full);
  EXPECT_EQ(v1.get("notes", "n1"), j(R"({"title": "plan"})"));
  EXPECT_EQ(v1.get("notes", "n2"), j(R"({"title": "list"})"));
  EXPECT_TRUE(SyncClient::stored_status(v1).held_back_entries.empty());
  EXPECT_FALSE(SyncClient::stored_status(v1).held_back);
}

TEST_F(MixedVersionTest, AnOlderDevicesWholeWriteKeepsTheFieldsItsVersionDoesNotKnow) {
  Database v2 = open("v2", 2);
  const std::string token = publish(v2);
  Database v1 = open("v1", 1);
  v2.put("diary", "d", j(R"({"text": "rain", "mood": 5})"));
  sync(v2, token);
  sync(v1, token);
  EXPECT_EQ(v1.get("diary", "d"), j(R"({"text": "rain"})"));

  // The v1 device replaces the whole entry, as an lww store writes: v2's mood stays.
  v1.put("diary", "d", j(R"({"text": "sun"})"));
  sync(v1, token);
  sync(v2, token);
  EXPECT_EQ(v2.get("diary", "d"), j(R"({"text": "sun", "mood": 5})"));
  EXPECT_EQ(v1.get("diary", "d"), j(R"({"text": "sun"})"));
}

TEST_F(MixedVersionTest, PushesOnTheLiveChannelComeAtTheSubscribersVersion) {
  Database v2 = open("v2", 2);
  const std::string token = publish(v2);
  SyncOptions live = options(token);
  live.interval = std::chrono::hours(1);  // no polling: what arrives comes by push
  Database v1 = open("v1", 1);
  Announced heard;
  Subscription changes = v1.subscribe([&](const ChangeSet&) { heard.announce(); });
  SyncClient client(v1, live);
  Subscription status = client.subscribe([&](const SyncStatus&) { heard.announce(); });
  ASSERT_TRUE(client.wait_until_synced(10s));
  ASSERT_TRUE(heard.wait([&] { return client.status().live; }));

  v2.put("people", "ada", j(R"({"name": "Ada", "body": "hi", "createdAt": 3, "tags": {}})"));
  v2.put("notes", "n1", j(R"({"title": "plan"})"));
  SyncClient::sync_once(v2, options(token));
  ASSERT_TRUE(heard.wait([&] {
    return v1.get("people", "ada") == j(R"({"name": "Ada", "text": "hi", "tags": {}})");
  }));
  EXPECT_TRUE(heard.wait([&] {
    return client.status().held_back_entries ==
           std::map<std::string, std::uint64_t, std::less<>>{{"notes", 1}};
  }));
  EXPECT_FALSE(v1.contains("notes", "n1"));

  // The v1 device's edit over the live channel keeps v2's createdAt.
  v1.put("people", "ada", j(R"({"name": "Ada L.", "text": "hi", "tags": {}})"));
  ASSERT_TRUE(client.wait_until_synced(10s));
  SyncClient::sync_once(v2, options(token));
  EXPECT_EQ(v2.get("people", "ada"),
            j(R"({"name": "Ada L.", "body": "hi", "createdAt": 3, "tags": {}})"));
}

TEST_F(MixedVersionTest, ASchemaThatWouldStrandEntriesIsRefused) {
  Database v1 = open("v1", 1);
  SyncClient::sync_once(v1, options());
  const std::string token = SyncClient::stored_token(v1);
  v1.put("people", "ada", j(R"({"name": "Ada", "text": "hi", "tags": {}})"));
  sync(v1, token);

  // Version 3 with only the step from 2: the version-1 entry could never be read at 3.
  StoreSchema stranding = people(3);
  stranding.migrations.erase(stranding.migrations.begin());
  try {
    SyncClient::push_schema(v1, options(token), {stranding, notes(1)});
    ADD_FAILURE() << "the schema was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::refused);
    EXPECT_NE(std::string(e.what()).find("schema_conflict"), std::string::npos) << e.what();
  }
  EXPECT_EQ(SyncClient::pull_schema(v1, options(token)).revision, 0u);
}

}  // namespace
}  // namespace cairn::test
