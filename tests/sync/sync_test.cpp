// The sync client against a real cairnd, through our fault-injecting proxy: the roadmap's
// end-to-end scenarios and the client's own rules.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <condition_variable>
#include <fstream>
#include <thread>

#include "support/announced.hpp"
#include "support/api_client.hpp"
#include "support/cairnd.hpp"
#include "support/fault_proxy.hpp"
#include "support/manual_clock.hpp"
#include "support/process.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

json::value j(std::string_view text) {
  return json::parse(text);
}

constexpr const char* kSchema = R"({"stores": {
  "journal": {"version": 1, "policy": {"merge": "lww"}},
  "userInformation": {"version": 1, "policy": {"merge": "field-lww"}},
  "playerStatistics": {"version": 1, "policy": {"merge": "field-lww", "counters": ["xp"]}}}})";

DatabaseOptions app_options() {
  DatabaseOptions options;
  options.stores = {{"journal", 1, MergePolicy::whole_entry()},
                    {"userInformation", 1, MergePolicy::per_field()},
                    {"playerStatistics", 1, MergePolicy::per_field({"xp"})}};
  return options;
}

// Polls until `condition` holds or `timeout` passes.
template <class F>
bool eventually(F condition, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

class SyncTest : public ::testing::Test {
 protected:
  SyncTest() {
    std::ofstream(dir_ / "schema.json") << kSchema;
    cairnd_ = std::make_unique<Cairnd>(
        dir_ / "server",
        std::vector<std::string>{"--schema", (dir_ / "schema.json").string(), "--rate-limit", "0"});
    proxy_ = std::make_unique<FaultProxy>(cairnd_->port());
  }

  Database open(const std::string& name) {
    return Database::open(dir_ / (name + ".db"), app_options());
  }
  SyncOptions options(const std::string& token = {}) {
    SyncOptions options;
    options.server = proxy_->url();
    options.token = token;
    options.debounce = 5ms;
    options.backoff_base = 20ms;
    options.backoff_cap = 200ms;
    options.request_timeout = 2s;
    options.jitter_seed = 7;
    return options;
  }
  static std::string stored_token(Database& db) { return SyncClient::stored_token(db); }

  // Stops cairnd, copies its database aside (backup) or back, and starts it again. A restore is
  // done by cairnd --restore-from (docs/operations.md), or by copying the file back over it.
  enum class Restore { with_cairnd, by_copying };
  void backup_server() {
    stop_server();
    std::filesystem::copy_file(dir_ / "server" / "cairnd.db", dir_ / "backup.db");
    start_server();
  }
  void restore_server(Restore how) {
    stop_server();
    if (how == Restore::with_cairnd) {
      const RunResult result = run({CAIRND_PATH, "--data", (dir_ / "server").string(),
                                    "--restore-from", (dir_ / "backup.db").string()});
      ASSERT_EQ(result.status, 0) << result.err;
    } else {
      std::filesystem::copy_file(dir_ / "backup.db", dir_ / "server" / "cairnd.db",
                                 std::filesystem::copy_options::overwrite_existing);
      std::filesystem::remove(dir_ / "server" / "cairnd.db-wal");
    }
    start_server();
  }
  void stop_server() {
    cairnd_->process().signal(SIGTERM);
    ASSERT_EQ(cairnd_->process().wait(), 0);
  }
  void start_server() {
    cairnd_ = std::make_unique<Cairnd>(
        dir_ / "server",
        std::vector<std::string>{"--schema", (dir_ / "schema.json").string(), "--rate-limit", "0"});
    proxy_->set_target(cairnd_->port());
  }

  TempDir dir_;
  std::unique_ptr<Cairnd> cairnd_;
  std::unique_ptr<FaultProxy> proxy_;
};

// (a) The user makes changes, the network fails, the user keeps working, the network returns,
// everything syncs.
TEST_F(SyncTest, OfflineWorkSyncsWhenTheNetworkReturns) {
  Database phone = open("phone");
  SyncClient sync(phone, options());
  ASSERT_TRUE(sync.wait_until_synced(10s));
  phone.put("journal", "2026/02/01/10:00", j(R"({"text":"online"})"));
  ASSERT_TRUE(sync.wait_until_synced(10s));

  proxy_->set_mode(FaultProxy::Mode::refuse);
  proxy_->cut();
  for (int i = 0; i < 20; ++i) {
    phone.put("journal", "offline/" + std::to_string(i), json::value(i));
  }
  ASSERT_TRUE(eventually([&] { return sync.status().state == SyncState::offline; }));
  EXPECT_EQ(sync.status().pending, 20u);
  EXPECT_FALSE(sync.status().last_error.empty());
  EXPECT_EQ(phone.size("journal"), 21u);  // the app kept working on local data

  proxy_->set_mode(FaultProxy::Mode::pass);
  sync.sync_now();
  ASSERT_TRUE(sync.wait_until_synced(10s));
  EXPECT_EQ(sync.status().pending, 0u);
  EXPECT_EQ(sync.status().state, SyncState::idle);

  // A second device of the same user sees everything.
  Database laptop = open("laptop");
  SyncClient::sync_once(laptop, options(stored_token(phone)));
  EXPECT_EQ(laptop.size("journal"), 21u);
  EXPECT_EQ(laptop.get("journal", "offline/19"), json::value(19));
}

// (b) The app opens, shows local data at once, and fresh server data arrives silently.
TEST_F(SyncTest, LocalDataFirstThenFresherServerDataArrives) {
  std::string token;
  {
    Database phone = open("phone");
    phone.put("userInformation", "settings", j(R"({"name":"Ada","theme":"light"})"));
    SyncClient::sync_once(phone, options());
    token = stored_token(phone);
  }
  {  // meanwhile, another device changes the theme
    Database laptop = open("laptop");
    SyncClient::sync_once(laptop, options(token));
    laptop.put("userInformation", "settings", j(R"({"name":"Ada","theme":"dark"})"));
    SyncClient::sync_once(laptop, options(token));
  }
  proxy_->set_mode(FaultProxy::Mode::delay);  // a slow network: local data must not wait for it
  proxy_->set_delay(300ms);
  Database phone = open("phone");
  std::vector<ChangeSet> heard;
  std::mutex mutex;
  Subscription subscription = phone.subscribe("userInformation", [&](const ChangeSet& set) {
    std::lock_guard lock(mutex);
    heard.push_back(set);
  });
  SyncClient sync(phone, options());
  EXPECT_EQ(phone.get("userInformation", "settings"), j(R"({"name":"Ada","theme":"light"})"));
  ASSERT_TRUE(eventually([&] {
    return phone.get("userInformation", "settings") == j(R"({"name":"Ada","theme":"dark"})");
  }));
  std::lock_guard lock(mutex);
  ASSERT_FALSE(heard.empty());
  EXPECT_EQ(heard.back().origin, Origin::remote);
}

// (c) Two users edit the same data; both converge to the server's resolution, and the conflict is
// reported.
TEST_F(SyncTest, TwoUsersEditingTheSameEntryConvergeOnTheServersResolution) {
  ApiClient owner_api = ApiClient::guest(cairnd_->port());
  ApiClient other_api = ApiClient::guest(cairnd_->port());
  const std::string dataset =
      std::string(owner_api.post("/api/datasets", json::object{{"name", "family"}})
                      .at("datasetId")
                      .as_string());
  owner_api.post("/api/datasets/" + dataset + "/members",
                 json::object{{"userId", other_api.user_id()}, {"role", "editor"}});
  SyncOptions ada = options(owner_api.token());
  SyncOptions bo = options(other_api.token());
  ada.dataset = bo.dataset = dataset;

  // Each device's clock set by hand: Bo writes one second after Ada.
  const std::uint64_t now = system_clock()->now_ms();
  DatabaseOptions ada_options = app_options();
  ada_options.clock = std::make_shared<ManualClock>(now);
  DatabaseOptions bo_options = app_options();
  bo_options.clock = std::make_shared<ManualClock>(now + 1000);
  Database ada_db = Database::open(dir_ / "ada.db", ada_options);
  Database bo_db = Database::open(dir_ / "bo.db", bo_options);
  SyncClient::sync_once(ada_db, ada);
  SyncClient::sync_once(bo_db, bo);
  ada_db.put("journal", "2026/02/01/10:00", j(R"({"text":"Ada's version"})"));
  bo_db.put("journal", "2026/02/01/10:00", j(R"({"text":"Bo's version"})"));  // written later
  const SyncReport first = SyncClient::sync_once(ada_db, ada);
  const SyncReport second = SyncClient::sync_once(bo_db, bo);
  SyncClient::sync_once(ada_db, ada);
  EXPECT_EQ(first.conflicts, 0u);
  EXPECT_EQ(second.conflicts, 1u);  // Bo's write replaced Ada's, which Bo had not seen
  EXPECT_EQ(ada_db.get("journal", "2026/02/01/10:00"), j(R"({"text":"Bo's version"})"));
  EXPECT_EQ(bo_db.get("journal", "2026/02/01/10:00"), j(R"({"text":"Bo's version"})"));
  const ApiResult history =
      owner_api.get("/api/history?dataset=" + dataset + "&store=journal&key=2026/02/01/10:00");
  EXPECT_EQ(history.at("versions").as_array().back().at("resolution"), "client-won");
}

// (d) A lost acknowledgement: the server applied the changes but the answer never came; the
// client resends and the server applies them once.
TEST_F(SyncTest, ALostAcknowledgementIsResentAndAppliedOnce) {
  Database phone = open("phone");
  SyncClient::sync_once(phone, options());
  Transaction txn = phone.transaction();
  for (int i = 0; i < 10; ++i)
    txn.increment("playerStatistics", "running", "xp", 5);
  txn.commit();
  proxy_->set_mode(FaultProxy::Mode::drop_after);
  EXPECT_THROW(SyncClient::sync_once(phone, options()), Error);
  EXPECT_GE(proxy_->dropped_after(), 1u);
  EXPECT_EQ(phone.pending_count(), 10u);  // not acknowledged, so still queued
  proxy_->set_mode(FaultProxy::Mode::pass);
  SyncClient::sync_once(phone, options());
  EXPECT_EQ(phone.pending_count(), 0u);
  EXPECT_EQ(phone.get("playerStatistics", "running"), j(R"({"xp":50})"));
  ApiClient api(cairnd_->port(), stored_token(phone));
  EXPECT_EQ(api.post("/api/sync/full", json::object{}).at("playerStatistics").at("running"),
            j(R"({"xp":50})"));
}

TEST_F(SyncTest, PendingLocalChangesAreRebasedOnTheServersState) {
  Database phone = open("phone");
  SyncClient::sync_once(phone, options());
  const std::string token = stored_token(phone);
  Database laptop = open("laptop");
  SyncClient::sync_once(laptop, options(token));
  {
    Transaction txn = laptop.transaction();
    txn.increment("playerStatistics", "running", "xp", 100);
    txn.commit();
  }
  SyncClient::sync_once(laptop, options(token));
  {
    Transaction txn = phone.transaction();
    txn.increment("playerStatistics", "running", "xp", 7);
    txn.commit();
  }
  // Pull only (the phone's change is blocked before reaching the server): the phone shows the
  // server's 100 plus its own pending 7.
  proxy_->set_schedule(3, {0, 100, 0, 0, 0});
  EXPECT_THROW(SyncClient::sync_once(phone, options()), Error);
  proxy_->clear_schedule();
  SyncClient::sync_once(phone, options());
  EXPECT_EQ(phone.get("playerStatistics", "running"), j(R"({"xp":107})"));
  SyncClient::sync_once(laptop, options(token));
  EXPECT_EQ(laptop.get("playerStatistics", "running"), j(R"({"xp":107})"));
}

TEST_F(SyncTest, ATokenIsKeptAndAGuestIsCreatedOnFirstUse) {
  Database phone = open("phone");
  EXPECT_TRUE(SyncClient::stored_status(phone).user_id.empty());
  const SyncReport report = SyncClient::sync_once(phone, options());
  EXPECT_TRUE(report.full);
  const SyncStatus status = SyncClient::stored_status(phone);
  EXPECT_FALSE(status.user_id.empty());
  EXPECT_FALSE(status.dataset.empty());
  EXPECT_GT(status.last_success_ms, 0);
  // The next sync uses the kept server and token.
  SyncOptions kept;
  EXPECT_FALSE(SyncClient::sync_once(phone, kept).full);
  // A full sync on request pulls everything again.
  const SyncReport full = SyncClient::sync_once(phone, kept, /*full=*/true);
  EXPECT_TRUE(full.full);
  EXPECT_GE(full.received, 2u);  // the seeded profile, at least
}

// A device given its user's token while the server is down keeps it: the next sync, given no
// token, is that user's, not a new guest's.
TEST_F(SyncTest, ATokenGivenWhileTheServerIsDownIsKept) {
  ApiClient user = ApiClient::guest(cairnd_->port());
  Database tablet = open("tablet");
  proxy_->set_mode(FaultProxy::Mode::refuse);
  EXPECT_THROW(SyncClient::sync_once(tablet, options(user.token())), Error);
  EXPECT_EQ(stored_token(tablet), user.token());
  proxy_->set_mode(FaultProxy::Mode::pass);
  SyncClient::sync_once(tablet, options());
  EXPECT_EQ(SyncClient::stored_status(tablet).user_id, user.user_id());
}

TEST_F(SyncTest, StatusListenersHearTheStates) {
  Database phone = open("phone");
  std::mutex mutex;
  std::vector<SyncState> states;
  SyncClient sync(phone, options());
  Subscription subscription = sync.subscribe([&](const SyncStatus& status) {
    std::lock_guard lock(mutex);
    states.push_back(status.state);
  });
  ASSERT_TRUE(sync.wait_until_synced(10s));
  proxy_->set_mode(FaultProxy::Mode::refuse);
  proxy_->cut();
  phone.put("journal", "k", j("1"));
  ASSERT_TRUE(eventually([&] { return sync.status().state == SyncState::offline; }));
  proxy_->set_mode(FaultProxy::Mode::pass);
  ASSERT_TRUE(sync.wait_until_synced(10s));
  std::lock_guard lock(mutex);
  EXPECT_NE(std::find(states.begin(), states.end(), SyncState::syncing), states.end());
  EXPECT_NE(std::find(states.begin(), states.end(), SyncState::offline), states.end());
  EXPECT_EQ(states.back(), SyncState::idle);
}

TEST_F(SyncTest, AStalledServerTimesOutAndTheClientRecovers) {
  Database phone = open("phone");
  SyncOptions slow = options();
  slow.request_timeout = 300ms;
  SyncClient::sync_once(phone, slow);
  phone.put("journal", "k", j("1"));
  proxy_->set_mode(FaultProxy::Mode::stall);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_THROW(SyncClient::sync_once(phone, slow), Error);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  proxy_->set_mode(FaultProxy::Mode::pass);
  SyncClient::sync_once(phone, slow);
  EXPECT_EQ(phone.pending_count(), 0u);
}

TEST_F(SyncTest, ARevokedTokenIsAnErrorNotAnOutage) {
  Database phone = open("phone");
  SyncClient::sync_once(phone, options());
  ApiClient api(cairnd_->port(), stored_token(phone));
  ASSERT_EQ(api.post_text("/api/auth/logout", "").status, 204);
  phone.put("journal", "k", j("1"));
  SyncClient sync(phone, options());
  ASSERT_TRUE(eventually([&] { return sync.status().state == SyncState::error; }));
  EXPECT_NE(sync.status().last_error.find("revoked"), std::string::npos)
      << sync.status().last_error;
  EXPECT_EQ(sync.status().pending, 1u);
}

TEST_F(SyncTest, EntriesFromOlderSchemasAreMigratedAndNewerOnesHeldBackUntilAnUpgrade) {
  // A newer build declares journal v2 (text -> body); an older build (v1) shares the dataset.
  auto v2 = app_options();
  v2.stores[0] = StoreSchema("journal", 2, MergePolicy::whole_entry(),
                             {{1, {MigrationOp::rename_field("text", "body")}}});
  Database old_app = open("old");
  SyncClient::sync_once(old_app, options());
  const std::string token = stored_token(old_app);
  old_app.put("journal", "a", j(R"({"text":"from v1"})"));
  SyncClient::sync_once(old_app, options(token));

  {
    Database new_app = Database::open(dir_ / "new.db", v2);
    SyncClient::sync_once(new_app, options(token));
    EXPECT_EQ(new_app.get("journal", "a"), j(R"({"body":"from v1"})"));  // migrated on arrival
    new_app.put("journal", "b", j(R"({"body":"from v2"})"));
    SyncClient::sync_once(new_app, options(token));
  }

  // The older build does not know version 2: it holds the entry back, untouched on the server.
  const SyncReport report = SyncClient::sync_once(old_app, options(token));
  EXPECT_EQ(report.held_back, 1u);
  EXPECT_FALSE(old_app.contains("journal", "b"));
  EXPECT_TRUE(SyncClient::stored_status(old_app).held_back);
  EXPECT_EQ(old_app.get("journal", "a"), j(R"({"text":"from v1"})"));

  // Once it upgrades, its store migrates and the next sync fetches what was held back.
  const auto path = old_app.path();
  old_app = Database::open(dir_ / "unused.db", app_options());
  Database upgraded = Database::open(path, v2);
  const SyncReport after = SyncClient::sync_once(upgraded, options(token));
  EXPECT_TRUE(after.full);
  EXPECT_EQ(upgraded.get("journal", "b"), j(R"({"body":"from v2"})"));
  EXPECT_EQ(upgraded.get("journal", "a"), j(R"({"body":"from v1"})"));
  EXPECT_FALSE(SyncClient::stored_status(upgraded).held_back);
}

TEST_F(SyncTest, EntriesOfAStoreThisBuildDoesNotDeclareArriveOnceItDoes) {
  // A newer build adds a store "notes"; an older build syncs the same dataset without it.
  auto with_notes = app_options();
  with_notes.stores.push_back({"notes", 1, MergePolicy::whole_entry()});
  Database old_app = open("old");
  SyncClient::sync_once(old_app, options());
  const std::string token = stored_token(old_app);
  {
    Database new_app = Database::open(dir_ / "new.db", with_notes);
    new_app.put("notes", "n1", j(R"("buy milk")"));
    SyncClient::sync_once(new_app, options(token));
  }
  const SyncReport report = SyncClient::sync_once(old_app, options(token));
  EXPECT_EQ(report.skipped, 1u);
  EXPECT_EQ(report.held_back, 0u);  // held back means newer versions of stores it declares

  // Reopening the same build changes nothing: the cursor stays.
  auto path = old_app.path();
  old_app = Database::open(dir_ / "unused.db", app_options());
  old_app = Database::open(path, app_options());
  EXPECT_FALSE(SyncClient::sync_once(old_app, options(token)).full);

  // The older build upgrades: the store is created on open, and the next sync fetches its entries
  // even though the cursor had moved past them.
  old_app = Database::open(dir_ / "unused.db", app_options());
  Database upgraded = Database::open(path, with_notes);
  const SyncReport after = SyncClient::sync_once(upgraded, options(token));
  EXPECT_TRUE(after.full);
  EXPECT_EQ(upgraded.get("notes", "n1"), j(R"("buy milk")"));
  EXPECT_FALSE(SyncClient::stored_status(upgraded).held_back);
}

TEST_F(SyncTest, ACursorTheServerNoLongerKnowsTriggersAFullResync) {
  Database phone = open("phone");
  phone.put("journal", "early", j("1"));
  SyncClient::sync_once(phone, options());
  backup_server();                       // the operator takes a backup of the server ...
  phone.put("journal", "late", j("2"));  // ... the phone syncs more ...
  SyncClient::sync_once(phone, options());
  restore_server(Restore::by_copying);  // ... and the server is restored by copying the file
                                        // back: the phone's cursor is in its future
  const SyncReport report = SyncClient::sync_once(phone, options());
  EXPECT_TRUE(report.full);  // the server answered 410 and the client pulled everything again
  EXPECT_EQ(phone.get("journal", "early"), j("1"));
}

TEST_F(SyncTest, AServerRestoredFromABackupStillGetsThePendingChanges) {
  Database phone = open("phone");
  phone.put("journal", "early", j("1"));
  SyncClient::sync_once(phone, options());
  const std::string token = stored_token(phone);
  backup_server();
  phone.put("journal", "late", j("2"));
  SyncClient::sync_once(phone, options(token));  // acknowledged, then lost with the restore
  restore_server(Restore::with_cairnd);
  phone.put("journal", "offline", j("3"));
  // The server expects the number after "early": the outbox is renumbered from there, and the
  // phone's own writes go out again, so the server regains "late".
  const SyncReport report = SyncClient::sync_once(phone, options(token));
  EXPECT_TRUE(report.renumbered);
  EXPECT_EQ(report.resent, 3u);  // early, late, offline: each entry's write as it stands
  EXPECT_EQ(phone.pending_count(), 0u);
  Database laptop = open("laptop");
  SyncClient::sync_once(laptop, options(token));
  EXPECT_EQ(laptop.get("journal", "offline"), j("3"));
  EXPECT_EQ(laptop.get("journal", "early"), j("1"));
  EXPECT_EQ(laptop.get("journal", "late"), j("2"));
  // Later changes follow on as usual.
  phone.put("journal", "after", j("4"));
  EXPECT_FALSE(SyncClient::sync_once(phone, options(token)).renumbered);
  SyncClient::sync_once(laptop, options(token));
  EXPECT_EQ(laptop.get("journal", "after"), j("4"));
}

// After a restore, other devices write before this one syncs again. Its cursor was handed out
// before the restore; cairnd --restore-from moved the feed past it, so nothing written since is
// skipped.
TEST_F(SyncTest, AfterARestoreNoChangeMadeSinceIsSkipped) {
  Database phone = open("phone");
  phone.put("journal", "early", j("1"));
  SyncClient::sync_once(phone, options());
  const std::string token = stored_token(phone);
  Database laptop = open("laptop");
  SyncClient::sync_once(laptop, options(token));
  backup_server();
  phone.put("journal", "late-1", j("2"));
  phone.put("journal", "late-2", j("2"));
  SyncClient::sync_once(phone, options(token));  // the phone's cursor moves past the backup
  restore_server(Restore::with_cairnd);
  for (int i = 0; i < 5; ++i)  // more writes than the phone's cursor is ahead of the backup
    laptop.put("journal", "from-laptop-" + std::to_string(i), j(std::to_string(i)));
  SyncClient::sync_once(laptop, options(token));
  const SyncReport report = SyncClient::sync_once(phone, options(token));
  EXPECT_FALSE(report.full);  // its cursor is still good
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(phone.get("journal", "from-laptop-" + std::to_string(i)), j(std::to_string(i)));
}

TEST_F(SyncTest, ADeviceWithNothingPendingSendsAgainWhatARestoredServerLost) {
  Database phone = open("phone");
  phone.put("userInformation", "profile", j(R"({"name":"Ann","city":"Oslo"})"));
  SyncClient::sync_once(phone, options());
  const std::string token = stored_token(phone);
  backup_server();
  phone.put("userInformation", "profile", j(R"({"name":"Ann","city":"Bergen"})"));  // a patch
  phone.put("journal", "k", j("1"));
  SyncClient::sync_once(phone, options(token));
  restore_server(Restore::with_cairnd);
  const SyncReport report = SyncClient::sync_once(phone, options(token));
  EXPECT_TRUE(report.renumbered);
  EXPECT_EQ(phone.pending_count(), 0u);
  Database laptop = open("laptop");
  SyncClient::sync_once(laptop, options(token));
  EXPECT_EQ(laptop.get("userInformation", "profile"), j(R"({"name":"Ann","city":"Bergen"})"));
  EXPECT_EQ(laptop.get("journal", "k"), j("1"));
  // Nothing more to recover at the next sync.
  EXPECT_FALSE(SyncClient::sync_once(phone, options(token)).renumbered);
}

TEST_F(SyncTest, ADatabaseRestoredFromABackupContinuesAsANewReplicaAndLosesNothing) {
  const auto path = dir_ / "phone.db";
  const auto add_xp = [](Database& db, int xp) {
    Transaction txn = db.transaction();
    txn.increment("playerStatistics", "running", "xp", xp);
    txn.commit();
  };
  std::string token, first_replica;
  {
    Database phone = open("phone");
    add_xp(phone, 10);
    SyncClient::sync_once(phone, options());
    token = stored_token(phone);
    first_replica = phone.replica_id();
    add_xp(phone, 5);  // pending in the backup ...
  }
  std::filesystem::copy_file(path, dir_ / "phone-backup.db");
  {
    Database phone = open("phone");
    SyncClient::sync_once(phone, options(token));  // ... and sent after it
    phone.put("journal", "before-restore", j("1"));
    SyncClient::sync_once(phone, options(token));
  }
  // The device is restored from its backup, and the user goes on writing.
  std::filesystem::copy_file(dir_ / "phone-backup.db", path,
                             std::filesystem::copy_options::overwrite_existing);
  Database phone = open("phone");
  phone.put("journal", "after-restore", j("2"));
  add_xp(phone, 1);
  const SyncReport report = SyncClient::sync_once(phone, options(token));
  EXPECT_TRUE(report.new_replica);
  EXPECT_NE(phone.replica_id(), first_replica);
  EXPECT_EQ(phone.pending_count(), 0u);

  Database laptop = open("laptop");
  SyncClient::sync_once(laptop, options(token));
  EXPECT_EQ(laptop.get("journal", "after-restore"), j("2"));
  EXPECT_EQ(laptop.get("journal", "before-restore"), j("1"));
  // 10 + 5 (sent before the restore, and again from the backup: applied once) + 1.
  EXPECT_EQ(laptop.get("playerStatistics", "running"), j(R"({"xp":16})"));
  SyncClient::sync_once(phone, options(token));
  EXPECT_EQ(phone.get("playerStatistics", "running"), j(R"({"xp":16})"));
  EXPECT_EQ(phone.get("journal", "before-restore"), j("1"));
}

TEST_F(SyncTest, TheCliSyncsReportsAndShowsStatus) {
  {
    Database phone = open("phone");
    phone.put("journal", "k", j(R"({"text":"from the app"})"));
  }
  const std::string db = (dir_ / "phone.db").string();
  RunResult result = run({CAIRN_CLI_PATH, "sync", db, "--server", proxy_->url(), "--json"});
  ASSERT_EQ(result.status, 0) << result.err;
  const json::value report = json::parse(result.out);
  EXPECT_EQ(report.at("sent"), 1);
  EXPECT_EQ(report.at("acknowledged"), 1);
  EXPECT_EQ(report.at("pending"), 0);
  EXPECT_EQ(report.at("full"), true);

  result = run({CAIRN_CLI_PATH, "status", db});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("pending       0 changes"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("last error    none"), std::string::npos) << result.out;

  // A second device joins with the first one's token.
  const std::string token = run({CAIRN_CLI_PATH, "status", db, "--show-token"}).out;
  const std::string laptop = (dir_ / "laptop.db").string();
  run({CAIRN_CLI_PATH, "import", laptop, "-"},
      R"({"format":"cairn-export","formatVersion":1,"stores":{"journal":{"entries":{}}}})");
  result = run({CAIRN_CLI_PATH, "sync", laptop, "--server", proxy_->url(), "--token",
                token.substr(0, token.find('\n'))});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(json::parse(run({CAIRN_CLI_PATH, "get", laptop, "journal", "k"}).out),
            j(R"({"text":"from the app"})"));

  // A token the server does not know is refused as unauthorized, not as a bad argument.
  const std::string stranger = (dir_ / "stranger.db").string();
  run({CAIRN_CLI_PATH, "init", stranger});
  result = run({CAIRN_CLI_PATH, "sync", stranger, "--server", proxy_->url(), "--token", "forged"});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("cairn: error [unauthorized]: "), std::string::npos) << result.err;

  // An unreachable server is a clear error with a non-zero exit.
  proxy_->set_mode(FaultProxy::Mode::refuse);
  proxy_->cut();
  result = run({CAIRN_CLI_PATH, "sync", db});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("[unavailable]"), std::string::npos) << result.err;
}

TEST_F(SyncTest, TheCliPublishesAndReadsTheDatasetsSchema) {
  const std::string db = (dir_ / "owner.db").string();
  run({CAIRN_CLI_PATH, "init", db});
  ASSERT_EQ(run({CAIRN_CLI_PATH, "sync", db, "--server", proxy_->url()}).status, 0);

  // Before any revision the dataset reads as the server's default schema.
  RunResult result = run({CAIRN_CLI_PATH, "schema", "pull", db, "--json"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(json::parse(result.out).at("revision"), 0);
  EXPECT_EQ(json::parse(result.out).at("schema").at("stores").at("journal").at("version"), 1);

  const std::string v2 = (dir_ / "v2.json").string();
  // The usual way: pull, edit, push. Every store stays declared (a schema only moves forward).
  json::value next = json::parse(run({CAIRN_CLI_PATH, "schema", "pull", db}).out);
  next.at("stores").at("journal") = j(R"({"version": 2, "policy": {"merge": "lww"},
    "migrations": [{"from": 1, "ops": [{"op": "rename", "from": "text", "to": "body"}]}]})");
  std::ofstream(v2) << json::serialize(next);
  result = run({CAIRN_CLI_PATH, "schema", "push", db, v2});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, "published revision 1 of the dataset's schema\n");

  // `pull` prints a schema file that `cairn migrate --schema` reads.
  result = run({CAIRN_CLI_PATH, "schema", "pull", db});
  ASSERT_EQ(result.status, 0) << result.err;
  const json::value pulled = json::parse(result.out);
  EXPECT_EQ(pulled.at("stores").at("journal").at("version"), 2);
  EXPECT_EQ(pulled.at("stores").at("journal").at("migrations").as_array().size(), 1u);

  // Going back is refused with the server's reason, and nothing changes.
  const std::string v1 = (dir_ / "v1.json").string();
  next.at("stores").at("journal") = j(R"({"version": 1, "policy": {"merge": "lww"}})");
  std::ofstream(v1) << json::serialize(next);
  result = run({CAIRN_CLI_PATH, "schema", "push", db, v1});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("(schema_conflict)"), std::string::npos) << result.err;
  EXPECT_EQ(json::parse(run({CAIRN_CLI_PATH, "schema", "pull", db, "--json"}).out).at("revision"),
            1);
}

}  // namespace
}  // namespace cairn::test

namespace cairn::test {
namespace {

// A device syncing live: no periodic polling, so what it learns of others comes by push.
struct LiveDevice {
  LiveDevice(Database database, SyncOptions options) : db(std::move(database)), sync(db, options) {
    changes = db.subscribe([this](const ChangeSet& set) {
      if (set.origin == Origin::remote) remote_changes += set.changes.size();
      heard.announce();
    });
    status = sync.subscribe([this](const SyncStatus&) { heard.announce(); });
    presence = sync.subscribe_presence([this](const std::vector<Peer>&) { heard.announce(); });
  }
  bool live() {
    return heard.wait([&] { return sync.status().live; });
  }

  Database db;
  SyncClient sync;
  Announced heard;
  std::atomic<std::size_t> remote_changes{0};
  Subscription changes, status, presence;
};

TEST_F(SyncTest, ChangesArriveByPushAndDevicesSeeEachOthersPresence) {
  SyncOptions polling_never = options();
  polling_never.interval = std::chrono::hours(1);
  std::optional<LiveDevice> laptop(std::in_place, open("laptop"), polling_never);
  ASSERT_TRUE(laptop->sync.wait_until_synced(10s));
  ASSERT_TRUE(laptop->live());
  SyncOptions same_user = polling_never;
  same_user.token = stored_token(laptop->db);
  LiveDevice phone(open("phone"), same_user);
  ASSERT_TRUE(phone.sync.wait_until_synced(10s));
  ASSERT_TRUE(phone.live());

  // A write on the laptop reaches the phone by push (it never polls), with origin remote.
  laptop->db.put("journal", "2026/02/01/10:00", j(R"({"text":"pushed"})"));
  ASSERT_TRUE(phone.heard.wait(
      [&] { return phone.db.get("journal", "2026/02/01/10:00") == j(R"({"text":"pushed"})"); }));
  EXPECT_GE(phone.remote_changes.load(), 1u);

  // Presence: each sees the other's state, and the phone sees the laptop leave.
  laptop->sync.set_presence(json::object{{"device", "laptop"}, {"editing", "journal/today"}});
  ASSERT_TRUE(phone.heard.wait([&] {
    const std::vector<Peer> peers = phone.sync.peers();
    return peers.size() == 1 && peers[0].state.contains("editing");
  }));
  EXPECT_EQ(phone.sync.peers()[0].user_id, phone.sync.status().user_id);
  laptop.reset();
  EXPECT_TRUE(phone.heard.wait([&] { return phone.sync.peers().empty(); }));
}

TEST_F(SyncTest, WritesDrainOverTheLiveChannelWithSeveralBatchesInFlight) {
  Database phone = open("phone");
  SyncClient::sync_once(phone, options());  // a user, a dataset, a cursor
  for (int batch = 0; batch < 10; ++batch) {
    Transaction tx = phone.transaction();
    for (int i = 0; i < 300; ++i) {
      char key[16];
      std::snprintf(key, sizeof key, "k%05d", batch * 300 + i);
      tx.put("journal", key, json::value(i));
    }
    tx.commit();
  }
  SyncOptions small_batches = options();
  small_batches.batch_changes = 100;  // 30 batches, 8 in flight at a time
  LiveDevice device(std::move(phone), small_batches);
  ASSERT_TRUE(device.sync.wait_until_synced(10s));
  EXPECT_TRUE(device.sync.status().live);
  ApiClient api(cairnd_->port(), stored_token(device.db));
  std::size_t journal = 0;
  std::string cursor = "0";
  for (bool more = true; more;) {
    const ApiResult page = api.get("/api/sync/changes?since=" + cursor);
    for (const auto& item : page.at("changes").as_array())
      journal += item.at("store") == "journal";
    cursor = std::string(page.at("cursor").as_string());
    more = page.at("hasMore").as_bool();
  }
  EXPECT_EQ(journal, 3000u);
  // Each change applied once: the server's history holds one version of each.
  EXPECT_EQ(api.get("/api/history?store=journal&key=k02999").at("versions").as_array().size(), 1u);
}

TEST_F(SyncTest, WhenTheLiveChannelFailsSyncingPollsAndTheChannelComesBack) {
  SyncOptions fast_polling = options();
  fast_polling.interval = 50ms;
  LiveDevice laptop(open("laptop"), fast_polling);
  ASSERT_TRUE(laptop.sync.wait_until_synced(10s));
  ASSERT_TRUE(laptop.live());
  proxy_->cut();  // every connection through the proxy drops, the live one included
  ASSERT_TRUE(laptop.heard.wait([&] { return !laptop.sync.status().live; }));
  laptop.db.put("journal", "k", j("1"));
  ASSERT_TRUE(laptop.sync.wait_until_synced(10s));  // by polling or over a new channel
  EXPECT_TRUE(laptop.heard.wait([&] { return laptop.sync.status().live; }));  // it came back
}

TEST_F(SyncTest, CairnWatchPrintsChangesAndPresenceAsTheyArrive) {
  Database laptop_db = open("laptop");
  SyncClient::sync_once(laptop_db, options());
  const std::string token = stored_token(laptop_db);
  {
    Database watcher = open("watcher");
    SyncClient::sync_once(watcher, options(token));
  }
  Process watch({CAIRN_CLI_PATH, "watch", (dir_ / "watcher.db").string(), "--json", "--presence",
                 R"({"device":"cli"})"});
  SyncOptions live = options(token);
  live.interval = std::chrono::hours(1);
  LiveDevice laptop(std::move(laptop_db), live);
  laptop.sync.set_presence(json::object{{"device", "laptop"}});
  // The laptop sees the watcher's presence once it is live...
  ASSERT_TRUE(laptop.heard.wait([&] {
    const std::vector<Peer> peers = laptop.sync.peers();
    return peers.size() == 1 && peers[0].state.contains("device");
  }));
  // ...and the watcher prints the laptop's presence and then its write, as they arrive.
  laptop.db.put("journal", "from-laptop", j(R"({"text":"hello"})"));
  bool saw_presence = false, saw_change = false;
  while (!saw_change) {
    const std::optional<std::string> line = watch.read_line();
    ASSERT_TRUE(line.has_value()) << "cairn watch printed nothing more";
    const json::object printed = json::parse(*line).as_object();
    if (printed.at("type") == "presence") {
      for (const auto& peer : printed.at("peers").as_array())
        saw_presence = saw_presence || peer.at("state") == j(R"({"device":"laptop"})");
    } else if (printed.at("key") == "from-laptop") {
      EXPECT_EQ(printed.at("value"), j(R"({"text":"hello"})"));
      saw_change = true;
    }
  }
  EXPECT_TRUE(saw_presence);
  watch.signal(SIGTERM);
  EXPECT_EQ(watch.wait(), 0);  // a clean stop
}

TEST_F(SyncTest, AServerThatRefusesTheLiveChannelIsPolled) {
  Cairnd no_live(dir_ / "no-live", {"--live-max-connections", "0", "--rate-limit", "0"});
  SyncOptions polling = options();
  polling.server = "http://127.0.0.1:" + std::to_string(no_live.port());
  polling.interval = 50ms;
  LiveDevice laptop(open("laptop"), polling);
  ASSERT_TRUE(laptop.sync.wait_until_synced(10s));
  SyncOptions same_user = polling;
  same_user.token = stored_token(laptop.db);
  LiveDevice phone(open("phone"), same_user);
  ASSERT_TRUE(phone.sync.wait_until_synced(10s));
  laptop.db.put("journal", "k", j("1"));
  ASSERT_TRUE(laptop.sync.wait_until_synced(10s));
  EXPECT_TRUE(phone.heard.wait([&] { return phone.db.get("journal", "k") == j("1"); }));
  EXPECT_FALSE(phone.sync.status().live);
}

}  // namespace
}  // namespace cairn::test
