// SyncService on its own: real SQLite storage, a manual clock, and a change feed that records
// what it is told. (The HTTP around it is tested black-box in sync_api_test.)
#include "server/sync_service.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "protocol/errors.hpp"
#include "protocol/wire.hpp"
#include "server/accounts.hpp"
#include "server/storage/storage_factory.hpp"
#include "support/manual_clock.hpp"
#include "support/postgres.hpp"
#include "support/sync_bodies.hpp"
#include "support/temp_dir.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using server::ChangeFeed;
using server::DatasetRow;
using server::Role;
using server::SyncService;

// Records each announcement with the dataset's feed position as a new read transaction sees it
// at that moment: equal to the announced one when the commit was already visible.
class RecordingFeed final : public ChangeFeed {
 public:
  struct Seen {
    std::string dataset;
    std::uint64_t position = 0;
    std::uint64_t committed_position = 0;
  };

  void committed(std::string_view dataset_id, std::uint64_t position) override {
    auto tx = storage->begin(false);
    seen.push_back({std::string(dataset_id), position, tx->dataset(dataset_id)->last_seq});
  }

  server::Storage* storage = nullptr;
  std::vector<Seen> seen;
};

class SyncServiceTest : public ::testing::Test {
 protected:
  SyncServiceTest() {
    server::StorageConfig config;
    config.data_dir = dir_.path();
    use_test_backend(config);
    storage_ = server::open_storage(config);
    feed_.storage = storage_.get();
    auto tx = storage_->begin(true);
    tx->insert_user({"u1", "guest", "", "", 1});
    tx->insert_dataset(dataset_);
    tx->set_member(dataset_.id, "u1", Role::owner);
    tx->commit();
  }

  std::unique_ptr<SyncService> service(server::SyncSettings settings = {}) {
    return std::make_unique<SyncService>(*storage_, metrics_, feed_, clock_,
                                         std::vector<StoreSchema>{}, std::move(settings));
  }

  SyncService::Authorizer authorize() {
    return [this](server::StorageTransaction& tx) { return *tx.dataset(dataset_.id); };
  }

  protocol::PatchResponse patch(SyncService& sync, json::object body) {
    return sync.patch(caller_, authorize(), body);
  }

  // A numbered put of {"n": n} to journal/key.
  static json::object put(std::uint64_t seq, const std::string& key, int n,
                          std::optional<Timestamp> hlc = std::nullopt) {
    return change(seq, "journal", key, "put", {{"value", json::object{{"n", n}}}},
                  hlc ? protocol::hlc_to_wire(*hlc) : "");
  }

  static json::object request(json::array changes, std::string client = "phone") {
    return json::object{{"clientId", std::move(client)}, {"changes", std::move(changes)}};
  }

  TempDir dir_;
  std::unique_ptr<server::Storage> storage_;
  server::Metrics metrics_;
  RecordingFeed feed_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(1'800'000'000'000);
  DatasetRow dataset_{"d1", "personal", "u1", true, 1, 0};
  server::Caller caller_{"u1", "token-hash"};
};

TEST_F(SyncServiceTest, AppliedChangesAreAnnouncedOnceTheyAreCommitted) {
  auto sync = service();
  const protocol::PatchResponse response = patch(*sync, request({put(1, "a", 1), put(2, "b", 2)}));
  EXPECT_EQ(response.ack, 2u);
  EXPECT_EQ(response.cursor, 2u);
  EXPECT_EQ(response.server_time, 1'800'000'000'000);  // the injected clock's time
  ASSERT_EQ(feed_.seen.size(), 1u);
  EXPECT_EQ(feed_.seen[0].dataset, "d1");
  EXPECT_EQ(feed_.seen[0].position, 2u);
  EXPECT_EQ(feed_.seen[0].committed_position, 2u);  // already visible to a new reader
}

TEST_F(SyncServiceTest, ARequestThatChangesNothingIsNotAnnounced) {
  auto sync = service();
  patch(*sync, request({put(1, "a", 1)}));
  const protocol::PatchResponse resent = patch(*sync, request({put(1, "a", 1)}));  // a retry
  EXPECT_EQ(resent.ack, 1u);
  EXPECT_EQ(resent.cursor, 1u);
  EXPECT_EQ(feed_.seen.size(), 1u);
}

TEST_F(SyncServiceTest, ARefusedRequestLeavesNothingAndIsNotAnnounced) {
  auto sync = service();
  try {
    patch(*sync, request({put(3, "a", 1)}));  // the first change must be number 1
    FAIL() << "a sequence gap was accepted";
  } catch (const protocol::Refusal& refusal) {
    EXPECT_EQ(refusal.code(), protocol::Code::sequence_gap);
    EXPECT_EQ(refusal.details().at("expected"), 1);
  }
  EXPECT_TRUE(feed_.seen.empty());
  EXPECT_EQ(storage_->begin(false)->dataset("d1")->last_seq, 0u);
}

TEST_F(SyncServiceTest, ClockSkewIsJudgedByTheInjectedClock) {
  auto sync = service();
  const Timestamp ahead(clock_->now_ms() + 10 * 60'000, 0);  // 10 minutes ahead; 5 allowed
  try {
    patch(*sync, request({put(1, "a", 1, ahead)}));
    FAIL() << "a clock 10 minutes ahead was accepted";
  } catch (const protocol::Refusal& refusal) {
    EXPECT_EQ(refusal.code(), protocol::Code::clock_skew);
  }
  clock_->advance(6 * 60'000);  // now only 4 minutes ahead
  EXPECT_EQ(patch(*sync, request({put(1, "a", 1, ahead)})).ack, 1u);
}

TEST_F(SyncServiceTest, EachServiceStampsWithItsOwnReplica) {
  // Two cairnd processes on one database: what each stamps itself (here, new users' profiles)
  // carries its own replica id, so that the two never issue the same (hlc, replica).
  server::SyncSettings settings;
  settings.profile_template = json::parse(R"({"profile": {"name": "Guest"}})").as_object();
  auto first = service(settings);
  auto second = service(settings);
  EXPECT_NE(first->replica(), second->replica());
  EXPECT_EQ(first->replica().rfind("server-", 0), 0u);
  server::Accounts on_first(*storage_, *first, std::chrono::hours(1), nullptr);
  server::Accounts on_second(*storage_, *second, std::chrono::hours(1), nullptr);
  const std::string ada = on_first.create_guest().dataset_id;
  const std::string bo = on_second.create_guest().dataset_id;
  auto tx = storage_->begin(false);
  EXPECT_EQ(tx->entry(ada, "profile", "name")->replica, first->replica());
  EXPECT_EQ(tx->entry(bo, "profile", "name")->replica, second->replica());
}

TEST_F(SyncServiceTest, TheFeedIsPagedFromACursor) {
  server::SyncSettings settings;
  settings.page_size = 2;
  auto sync = service(settings);
  patch(*sync, request({put(1, "a", 1), put(2, "b", 2), put(3, "c", 3)}));
  const DatasetRow dataset = *storage_->begin(false)->dataset("d1");
  const protocol::FeedPage first = sync->changes(dataset, 0, 100);  // clamped to the page size
  ASSERT_EQ(first.changes.size(), 2u);
  EXPECT_TRUE(first.has_more);
  const protocol::FeedPage rest = sync->changes(dataset, first.cursor, 100);
  ASSERT_EQ(rest.changes.size(), 1u);
  EXPECT_EQ(rest.changes[0].key, "c");
  EXPECT_FALSE(rest.has_more);
  try {
    sync->changes(dataset, 99, 10);  // a cursor this dataset never gave out
    FAIL();
  } catch (const protocol::Refusal& refusal) {
    EXPECT_EQ(refusal.code(), protocol::Code::cursor_expired);
  }
}

TEST_F(SyncServiceTest, ANewUsersSeededDatasetIsAnnounced) {
  server::SyncSettings settings;
  settings.profile_template =
      json::parse(R"({"profile": {"name": "Guest", "level": 1}})").as_object();
  auto sync = service(settings);
  server::Accounts accounts(*storage_, *sync, std::chrono::hours(1), nullptr);
  const server::Session guest = accounts.create_guest();
  ASSERT_EQ(feed_.seen.size(), 1u);
  EXPECT_EQ(feed_.seen[0].dataset, guest.dataset_id);
  EXPECT_EQ(feed_.seen[0].position, 2u);
  EXPECT_EQ(feed_.seen[0].committed_position, 2u);
  EXPECT_EQ(guest.expires_ms, 1'800'000'000'000 + 3'600'000);  // from the injected clock
}

TEST(FeedSubscribers, PassesCommitsToSubscribersUntilTheirSubscriptionEnds) {
  server::FeedSubscribers feed;
  std::vector<std::pair<std::string, std::uint64_t>> first, second;
  auto a = feed.subscribe([&](std::string_view d, std::uint64_t p) { first.emplace_back(d, p); });
  {
    auto b =
        feed.subscribe([&](std::string_view d, std::uint64_t p) { second.emplace_back(d, p); });
    feed.committed("d1", 4);
  }
  feed.committed("d2", 7);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[1], std::make_pair(std::string("d2"), std::uint64_t{7}));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0], std::make_pair(std::string("d1"), std::uint64_t{4}));
}

}  // namespace
}  // namespace cairn::test
