// The live channel (GET /api/live) of a real cairnd, in this process (for its manual clock and
// small limits), over real WebSockets on loopback: authorisation, backlog and pushes, presence,
// patches over the socket, bad input, backpressure, and a seeded ordering property.
#include "protocol/live.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <random>
#include <thread>

#include "support/api_client.hpp"
#include "support/in_process_cairnd.hpp"
#include "support/live_client.hpp"
#include "support/manual_clock.hpp"
#include "support/seeds.hpp"
#include "support/sync_bodies.hpp"
#include "support/temp_dir.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

class LiveTest : public ::testing::Test {
 protected:
  server::ServerOptions defaults() {
    server::ServerOptions options;
    options.storage.data_dir = dir_ / "data";
    options.storage.durability = Durability::normal;
    options.clock = clock_;
    options.rate_limit = 0;
    return options;
  }
  void start(server::ServerOptions options) { cairnd_.emplace(std::move(options)); }
  void start() { start(defaults()); }
  std::uint16_t port() { return cairnd_->port(); }
  server::StorageConfig storage_config() const { return test_storage_config(dir_ / "data"); }

  TempDir dir_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::optional<InProcessCairnd> cairnd_;
};

std::string text(const json::value& value) {
  return std::string(value.as_string());
}

TEST_F(LiveTest, TheUpgradeNeedsAValidTokenInTheHeaderOrTheQuery) {
  start();
  ApiClient guest = ApiClient::guest(port());
  for (const std::string& target :
       {std::string("/api/live"), std::string("/api/live?token=nope")}) {
    try {
      net::WebSocketClient refused("127.0.0.1", port(), target);
      FAIL() << target << " was accepted";
    } catch (const net::WebSocketRefused& e) {
      EXPECT_EQ(e.status(), 401) << target;
      EXPECT_EQ(json::parse(e.body()).at("error").at("code"), "unauthorized") << e.body();
    }
  }
  LiveClient by_header(port(), guest.token());
  LiveClient by_query(port(), guest.token(), LiveClient::TokenIn::query);
  for (LiveClient* client : {&by_header, &by_query}) {
    client->send({{"type", "subscribe"}});
    const json::object subscribed = client->next("subscribed");
    EXPECT_EQ(subscribed.at("dataset"), json::value(guest.dataset_id()));
  }
  // Without the upgrade, the route says what it is.
  const ApiResult plain = guest.get("/api/live");
  EXPECT_EQ(plain.status, 426);
  EXPECT_EQ(plain.error_code(), "upgrade_required");
}

TEST_F(LiveTest, ASubscriberGetsTheBacklogThenEachCommitAsItHappens) {
  start();
  ApiClient guest = ApiClient::guest(port());
  ASSERT_EQ(guest.post("/api/sync/patch", journal_put("laptop", 1, "a", 1)).status, 200);
  ASSERT_EQ(guest.post("/api/sync/patch", journal_put("laptop", 2, "b", 2)).status, 200);

  LiveClient live(port(), guest.token());
  live.send({{"type", "subscribe"}, {"cursor", "0"}});
  const json::object subscribed = live.next("subscribed");
  EXPECT_EQ(subscribed.at("cursor"), "0");
  EXPECT_FALSE(subscribed.at("connection").as_string().empty());
  // The backlog: the seeded profile and both writes, exactly as GET /api/sync/changes has them.
  const json::object backlog = live.next("changes");
  const ApiResult feed = guest.get("/api/sync/changes?since=0");
  EXPECT_EQ(backlog.at("changes"), feed.at("changes"));
  EXPECT_EQ(backlog.at("cursor"), feed.at("cursor"));

  ASSERT_EQ(guest.post("/api/sync/patch", journal_put("laptop", 3, "c", 3)).status, 200);
  const json::object pushed = live.next("changes");
  const ApiResult after = guest.get("/api/sync/changes?since=" + text(backlog.at("cursor")));
  EXPECT_EQ(pushed.at("changes"), after.at("changes"));
  EXPECT_EQ(pushed.at("changes").as_array().size(), 1u);
  EXPECT_EQ(pushed.at("cursor"), after.at("cursor"));
  EXPECT_EQ(pushed.at("dataset"), json::value(guest.dataset_id()));
}

TEST_F(LiveTest, ASubscriberResumesAcrossAServerRestartWithoutGapOrDuplicate) {
  start();
  ApiClient guest = ApiClient::guest(port());
  const std::string token = guest.token();
  std::string cursor;
  {
    LiveClient live(port(), token);
    live.send({{"type", "subscribe"}});
    live.next("subscribed");
    ASSERT_EQ(guest.post("/api/sync/patch", journal_put("laptop", 1, "a", 1)).status, 200);
    cursor = text(live.next("changes").at("cursor"));
  }
  cairnd_.reset();  // the server stops (its live connections close) and starts again
  start();
  ApiClient again(port(), token);
  ASSERT_EQ(again.post("/api/sync/patch", journal_put("laptop", 2, "b", 2)).status, 200);
  LiveClient live(port(), token);
  live.send({{"type", "subscribe"}, {"cursor", cursor}});
  live.next("subscribed");
  const json::object backlog = live.next("changes");  // what it missed, and only that
  ASSERT_EQ(backlog.at("changes").as_array().size(), 1u);
  EXPECT_EQ(backlog.at("changes").at(0).at("key"), "b");
  ASSERT_EQ(again.post("/api/sync/patch", journal_put("laptop", 3, "c", 3)).status, 200);
  const json::object pushed = live.next("changes");
  ASSERT_EQ(pushed.at("changes").as_array().size(), 1u);
  EXPECT_EQ(pushed.at("changes").at(0).at("key"), "c");
}

TEST_F(LiveTest, WithoutACursorASubscriptionStartsNowAndAnUnknownCursorHasExpired) {
  start();
  ApiClient guest = ApiClient::guest(port());
  LiveClient live(port(), guest.token());
  live.send({{"type", "subscribe"}});
  const json::object subscribed = live.next("subscribed");
  ASSERT_EQ(guest.post("/api/sync/patch", journal_put("laptop", 1, "a", 1)).status, 200);
  const json::object pushed = live.next("changes");
  ASSERT_EQ(pushed.at("changes").as_array().size(), 1u);  // the new write, not the profile
  EXPECT_EQ(pushed.at("changes").at(0).at("key"), "a");

  live.send({{"type", "subscribe"}, {"cursor", "999999"}});
  const json::object expired = live.next("error");
  EXPECT_EQ(expired.at("code"), "cursor_expired");
  (void)subscribed;
}

TEST_F(LiveTest, PatchesTravelOnTheSocketExactlyOnceAndASubscriberGetsTheirChangesOnlyByPush) {
  start();
  ApiClient guest = ApiClient::guest(port());
  LiveClient writer(port(), guest.token());
  // Not subscribed: the ack carries the feed after the cursor, as over HTTP.
  json::object body = journal_put("phone", 1, "a", "first");
  body["cursor"] = "0";
  writer.send({{"type", "patch"}, {"id", 7}, {"body", body}});
  json::object ack = writer.next("ack");
  EXPECT_EQ(ack.at("id"), 7);
  EXPECT_EQ(ack.at("body").at("ack"), 1);
  EXPECT_FALSE(ack.at("body").at("changes").as_array().empty());
  // The same change again is acknowledged, not applied twice.
  writer.send({{"type", "patch"}, {"id", 8}, {"body", journal_put("phone", 1, "a", "first")}});
  ack = writer.next("ack");
  EXPECT_EQ(ack.at("body").at("ack"), 1);
  // A gap is refused with the HTTP API's code, naming the patch.
  writer.send({{"type", "patch"}, {"id", 9}, {"body", journal_put("phone", 5, "a", "gap")}});
  const json::object gap = writer.next("error");
  EXPECT_EQ(gap.at("code"), "sequence_gap");
  EXPECT_EQ(gap.at("id"), 9);

  // Subscribed: the ack has no changes; the write arrives once, as a push.
  writer.send({{"type", "subscribe"}});
  const std::string cursor = text(writer.next("subscribed").at("cursor"));
  body = journal_put("phone", 2, "b", "second");
  body["cursor"] = cursor;
  writer.send({{"type", "patch"}, {"id", 10}, {"body", body}});
  json::object pushed;
  bool acked = false;
  while (!acked || pushed.empty()) {
    json::object message = writer.next();
    if (message.at("type") == "ack") {
      acked = true;
      EXPECT_FALSE(message.at("body").as_object().contains("changes"));
    } else if (message.at("type") == "changes") {
      pushed = std::move(message);
    }
  }
  ASSERT_EQ(pushed.at("changes").as_array().size(), 1u);
  EXPECT_EQ(pushed.at("changes").at(0).at("value"), "second");
  // Over HTTP, the change is there once.
  EXPECT_EQ(guest.get("/api/sync/changes?since=" + cursor).at("changes").as_array().size(), 1u);
}

// Sends a patch and reads until its ack and the push of its commit have come; returns the items
// the pushes held.
json::array patch_and_pushes(LiveClient& client, std::uint64_t id, const json::object& body) {
  client.send({{"type", "patch"}, {"id", id}, {"body", body}});
  std::optional<std::uint64_t> written;  // the feed's position after the patch
  std::uint64_t cursor = 0;
  json::array items;
  while (!written || cursor < *written) {
    json::object message = client.next();
    if (message.at("type") == "ack") {
      EXPECT_EQ(message.at("id"), id);
      written = std::stoull(text(message.at("body").at("cursor")));
    } else if (message.at("type") == "changes") {
      cursor = std::stoull(text(message.at("cursor")));
      for (json::value& item : message.at("changes").as_array())
        items.push_back(std::move(item));
    }
  }
  return items;
}

TEST_F(LiveTest, WithoutEchoAConnectionsOwnWritesComeBackOnlyWhenAnotherWriterTouchedThem) {
  start();
  ApiClient guest = ApiClient::guest(port());
  LiveClient device(port(), guest.token());
  device.send({{"type", "subscribe"}, {"echo", false}});
  const std::string start = text(device.next("subscribed").at("cursor"));
  LiveClient watcher(port(), guest.token());  // with echo, as by default
  watcher.send({{"type", "subscribe"}});
  watcher.next("subscribed");
  int counter = 0;
  const auto put = [&](const std::string& client, std::uint64_t seq, const std::string& key,
                       const std::string& value, bool clock = true) {
    const std::string hlc =
        clock ? std::to_string(clock_->now_ms()) + ":" + std::to_string(counter++) : "";
    return json::object{
        {"clientId", client},
        {"changes", json::array{change(seq, "journal", key, "put", {{"value", value}}, hlc)}}};
  };
  const auto values = [](const json::array& items) {
    std::vector<std::string> out;
    for (const json::value& item : items)
      out.push_back(text(item.at("key")) + "=" + text(item.at("value")));
    return out;
  };
  using Values = std::vector<std::string>;

  // An entry the connection creates, and then writes again, is its own: not pushed back.
  EXPECT_EQ(values(patch_and_pushes(device, 1, put("phone", 1, "a", "one"))), Values{});
  EXPECT_EQ(values(patch_and_pushes(device, 2, put("phone", 2, "a", "two"))), Values{});
  // A change without a clock is stamped by the server: the state is the server's, so it comes.
  EXPECT_EQ(values(patch_and_pushes(device, 3, put("phone", 3, "b", "bee", false))),
            Values{"b=bee"});
  // Another writer's change is pushed; and the connection's next write to that entry comes back
  // too, since its state is no longer the connection's alone.
  ASSERT_EQ(guest.post("/api/sync/patch", put("laptop", 1, "a", "three")).status, 200);
  EXPECT_EQ(values(device.next("changes").at("changes").as_array()), Values{"a=three"});
  EXPECT_EQ(values(patch_and_pushes(device, 4, put("phone", 4, "a", "four"))), Values{"a=four"});
  // Others receive every write, as always.
  Values seen;
  while (seen.size() < 5) {
    for (const std::string& value : values(watcher.next("changes").at("changes").as_array()))
      seen.push_back(value);
  }
  EXPECT_EQ(seen, (Values{"a=one", "a=two", "b=bee", "a=three", "a=four"}));
  // Subscribing again from before, with echo, gets the feed as it is.
  device.send({{"type", "subscribe"}, {"cursor", start}});
  device.next("subscribed");
  EXPECT_EQ(values(device.next("changes").at("changes").as_array()), (Values{"b=bee", "a=four"}));
}

class LiveDatasetTest : public LiveTest {
 protected:
  LiveDatasetTest() {
    start();
    owner_.emplace(ApiClient::guest(port()));
    viewer_.emplace(ApiClient::guest(port()));
    stranger_.emplace(ApiClient::guest(port()));
    const ApiResult created = owner_->post("/api/datasets", json::object{{"name", "family"}});
    dataset_ = text(created.at("datasetId"));
    EXPECT_EQ(owner_
                  ->post("/api/datasets/" + dataset_ + "/members",
                         json::object{{"userId", viewer_->user_id()}, {"role", "viewer"}})
                  .status,
              200);
  }
  std::optional<ApiClient> owner_, viewer_, stranger_;
  std::string dataset_;
};

TEST_F(LiveDatasetTest, AViewerSubscribesButCannotWrite) {
  LiveClient viewer(port(), viewer_->token());
  viewer.send({{"type", "subscribe"}, {"dataset", dataset_}});
  viewer.next("subscribed");
  viewer.send({{"type", "patch"}, {"id", 1}, {"body", journal_put("v", 1, "k", 1, dataset_)}});
  const json::object refused = viewer.next("error");
  EXPECT_EQ(refused.at("code"), "forbidden");
  EXPECT_EQ(refused.at("dataset"), json::value(dataset_));
  // The owner's write reaches the viewer by push.
  ASSERT_EQ(owner_->post("/api/sync/patch", journal_put("o", 1, "k", 1, dataset_)).status, 200);
  EXPECT_EQ(viewer.next("changes").at("changes").at(0).at("key"), "k");
}

// The first presence message that shows a peer. A state set just before a subscribe may reach
// the server after the newcomer's snapshot; it then arrives as the next update.
json::object next_presence_with_peers(LiveClient& client) {
  for (;;) {
    json::object presence = client.next("presence");
    if (!presence.at("peers").as_array().empty()) return presence;
  }
}

TEST_F(LiveDatasetTest, AnotherUsersDatasetIsAnsweredLikeAMissingOne) {
  LiveClient stranger(port(), stranger_->token());
  stranger.send({{"type", "subscribe"}, {"dataset", dataset_}});
  const json::object theirs = stranger.next("error");
  stranger.send({{"type", "subscribe"}, {"dataset", "dnosuchdataset"}});
  const json::object missing = stranger.next("error");
  EXPECT_EQ(theirs.at("code"), "not_found");
  EXPECT_EQ(missing.at("code"), "not_found");
  // The same words, but for the id.
  std::string theirs_message = text(theirs.at("message"));
  theirs_message.replace(theirs_message.find(dataset_), dataset_.size(), "dnosuchdataset");
  EXPECT_EQ(theirs_message, text(missing.at("message")));
  stranger.send({{"type", "patch"}, {"id", 1}, {"body", journal_put("s", 1, "k", 1, dataset_)}});
  EXPECT_EQ(stranger.next("error").at("code"), "not_found");
  // And nothing of the dataset leaks by push or presence.
  ASSERT_EQ(owner_->post("/api/sync/patch", journal_put("o", 1, "k", 1, dataset_)).status, 200);
  EXPECT_FALSE(stranger.socket().receive(200ms).has_value());
}

TEST_F(LiveDatasetTest, ARemovedMemberLosesTheSubscriptionAtOnce) {
  LiveClient viewer(port(), viewer_->token());
  viewer.send({{"type", "subscribe"}, {"dataset", dataset_}});
  viewer.next("subscribed");
  viewer.send({{"type", "presence"}, {"dataset", dataset_}, {"state", {{"device", "phone"}}}});
  LiveClient owner(port(), owner_->token());
  owner.send({{"type", "subscribe"}, {"dataset", dataset_}});
  owner.next("subscribed");
  EXPECT_EQ(next_presence_with_peers(owner).at("peers").as_array().size(), 1u);

  ASSERT_EQ(owner_->del("/api/datasets/" + dataset_ + "/members/" + viewer_->user_id()).status,
            204);
  // Told as if the dataset did not exist; the others see it leave; nothing more reaches it.
  const json::object dropped = viewer.next("error");
  EXPECT_EQ(dropped.at("code"), "not_found");
  EXPECT_EQ(dropped.at("dataset"), json::value(dataset_));
  EXPECT_EQ(owner.next("presence").at("left").as_array().size(), 1u);
  ASSERT_EQ(owner_->post("/api/sync/patch", journal_put("o", 1, "k", 1, dataset_)).status, 200);
  owner.next("changes");
  EXPECT_FALSE(viewer.socket().receive(200ms).has_value());
  // Its connection goes on: its own dataset still answers.
  viewer.send({{"type", "subscribe"}});
  viewer.next("subscribed");
}

// A subscription that raced the removal (or a removal on another node) ends at the next check.
TEST_F(LiveTest, TheTokenCheckAlsoEndsSubscriptionsOfFormerMembers) {
  server::ServerOptions options = defaults();
  options.live.token_check_interval = 20ms;
  start(options);
  ApiClient owner = ApiClient::guest(port());
  ApiClient member = ApiClient::guest(port());
  const std::string dataset =
      text(owner.post("/api/datasets", json::object{{"name", "d"}}).at("datasetId"));
  ASSERT_EQ(owner
                .post("/api/datasets/" + dataset + "/members",
                      json::object{{"userId", member.user_id()}, {"role", "editor"}})
                .status,
            200);
  LiveClient live(port(), member.token());
  live.send({{"type", "subscribe"}, {"dataset", dataset}});
  live.next("subscribed");
  live.next("presence");
  // Removed behind the live channel's back (as another node would), in the database only.
  query_storage(storage_config(), "DELETE FROM members WHERE dataset_id = '" + dataset +
                                      "' AND user_id = '" + member.user_id() + "'");
  EXPECT_TRUE(query_storage(storage_config(), "SELECT user_id FROM members WHERE dataset_id = '" +
                                                  dataset + "' AND user_id = '" + member.user_id() +
                                                  "'")
                  .empty());
  EXPECT_EQ(live.next("error").at("code"), "not_found");
}

TEST_F(LiveDatasetTest, PeersSeeWhoIsPresentWhatTheyDoAndWhenTheyLeave) {
  LiveClient owner(port(), owner_->token());
  owner.send({{"type", "subscribe"}, {"dataset", dataset_}});
  const std::string owner_connection = text(owner.next("subscribed").at("connection"));
  EXPECT_TRUE(owner.next("presence").at("peers").as_array().empty());  // alone
  owner.send({{"type", "presence"},
              {"dataset", dataset_},
              {"state", {{"device", "laptop"}, {"editing", "journal/k"}}}});

  std::optional<LiveClient> viewer(std::in_place, port(), viewer_->token());
  viewer->send({{"type", "subscribe"}, {"dataset", dataset_}});
  const std::string viewer_connection = text(viewer->next("subscribed").at("connection"));
  // The newcomer sees everyone present; the others see it once it sets a state.
  json::object present = next_presence_with_peers(*viewer);
  ASSERT_EQ(present.at("peers").as_array().size(), 1u);
  EXPECT_EQ(present.at("peers").at(0).at("connection"), json::value(owner_connection));
  EXPECT_EQ(present.at("peers").at(0).at("userId"), json::value(owner_->user_id()));
  EXPECT_EQ(present.at("peers").at(0).at("state").at("editing"), "journal/k");
  EXPECT_FALSE(owner.socket().receive(100ms).has_value());  // a silent subscriber is not shown

  viewer->send({{"type", "presence"}, {"dataset", dataset_}, {"state", {{"device", "phone"}}}});
  json::object joined = owner.next("presence");
  EXPECT_EQ(joined.at("peers").at(0).at("connection"), json::value(viewer_connection));
  EXPECT_EQ(joined.at("peers").at(0).at("state").at("device"), "phone");

  // A state over 4 KiB is refused; the connection goes on.
  viewer->send(
      {{"type", "presence"}, {"dataset", dataset_}, {"state", {{"note", std::string(5000, 'x')}}}});
  EXPECT_EQ(viewer->next("error").at("code"), "invalid_request");

  viewer.reset();  // the connection closes: presence ends
  json::object left = owner.next("presence");
  ASSERT_EQ(left.at("left").as_array().size(), 1u);
  EXPECT_EQ(left.at("left").at(0), json::value(viewer_connection));
}

TEST_F(LiveTest, UnsubscribingStopsThePushes) {
  start();
  ApiClient guest = ApiClient::guest(port());
  LiveClient live(port(), guest.token());
  live.send({{"type", "subscribe"}});
  live.next("subscribed");
  live.next("presence");  // who is there: nobody
  live.send({{"type", "unsubscribe"}});
  live.send({{"type", "unsubscribe"}});  // no longer subscribed
  EXPECT_EQ(live.next("error").at("code"), "invalid_request");
  ASSERT_EQ(guest.post("/api/sync/patch", journal_put("laptop", 1, "a", 1)).status, 200);
  const auto pushed = live.socket().receive(200ms);
  EXPECT_FALSE(pushed.has_value()) << *pushed;
}

TEST_F(LiveTest, LoggingOutClosesTheTokensConnectionsAtOnce) {
  start();
  ApiClient guest = ApiClient::guest(port());
  LiveClient live(port(), guest.token());
  live.send({{"type", "subscribe"}});
  live.next("subscribed");
  ASSERT_EQ(guest.post_text("/api/auth/logout", "").status, 204);
  EXPECT_EQ(live.close_code(), protocol::kCloseUnauthorized);
}

TEST_F(LiveTest, AnExpiredTokenEndsItsConnectionsAtTheNextCheck) {
  server::ServerOptions options = defaults();
  options.token_lifetime = std::chrono::hours(1);
  options.live.token_check_interval = 20ms;
  start(options);
  ApiClient guest = ApiClient::guest(port());
  LiveClient live(port(), guest.token());
  live.send({{"type", "subscribe"}});
  live.next("subscribed");
  live.next("presence");
  EXPECT_FALSE(live.socket().receive(100ms).has_value());  // several checks: still valid
  clock_->advance(3'600'000);
  EXPECT_EQ(live.close_code(), protocol::kCloseUnauthorized);
}

TEST_F(LiveTest, BadMessagesGetAnErrorAndTheConnectionGoesOn) {
  start();
  ApiClient guest = ApiClient::guest(port());
  LiveClient live(port(), guest.token());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "malformed_json"},
      {"[1,2]", "malformed_json"},
      {R"({"type":"gossip"})", "invalid_request"},
      {R"({"type":"subscribe","cursor":7})", "invalid_request"},
      {R"({"type":"subscribe","dataset":"d","colour":"red"})", "invalid_request"},
      {R"({"type":"patch","id":-1,"body":{}})", "invalid_request"},
      {R"({"type":"patch","id":1,"body":{"changes":"all"}})", "invalid_request"},
      {std::string(100, '[') + std::string(100, ']'), "malformed_json"},
  };
  for (const auto& [message, code] : cases) {
    live.socket().send(message);
    EXPECT_EQ(live.next("error").at("code"), json::value(code)) << message;
  }
  live.send({{"type", "subscribe"}});
  EXPECT_EQ(live.next("subscribed").at("dataset"), json::value(guest.dataset_id()));
}

TEST_F(LiveTest, FramesTheChannelDoesNotSpeakCloseTheConnectionWithACode) {
  server::ServerOptions options = defaults();
  options.http.websocket.max_message_bytes = 64 * 1024;
  options.http.websocket.messages_per_second = 50;
  options.http.websocket.message_burst = 50;
  start(options);
  ApiClient guest = ApiClient::guest(port());
  LiveClient bystander(port(), guest.token());
  bystander.send({{"type", "subscribe"}});
  bystander.next("subscribed");

  {
    LiveClient binary(port(), guest.token());
    binary.socket().send_binary("\x01\x02");
    EXPECT_EQ(binary.close_code(), 1003);  // unsupported data
  }
  {
    LiveClient utf8(port(), guest.token());
    utf8.socket().send(R"({"type":"subscribe","dataset":")" + std::string("\xff\xfe") + "\"}");
    EXPECT_EQ(utf8.close_code(), 1007);  // invalid frame payload data
  }
  {
    LiveClient huge(port(), guest.token());
    huge.socket().send(std::string(65 * 1024, ' '));
    EXPECT_EQ(huge.close_code(), 1009);  // message too big
  }
  {
    LiveClient flood(port(), guest.token());
    std::uint16_t code = 0;
    try {
      for (int i = 0; i < 200; ++i)
        flood.socket().ping();
      code = flood.close_code();
    } catch (const net::WebSocketClosed& closed) {
      code = closed.code();
    }
    EXPECT_EQ(code, 1008);  // policy violation: too many frames
  }
  {
    LiveClient chatter(port(), guest.token());
    std::uint16_t code = 0;
    try {
      for (int i = 0; i < 200; ++i)
        chatter.socket().send("{}");
      code = chatter.close_code();
    } catch (const net::WebSocketClosed& closed) {
      code = closed.code();
    }
    EXPECT_EQ(code, 1008);
  }
  // Meanwhile the bystander is served.
  ASSERT_EQ(guest.post("/api/sync/patch", journal_put("laptop", 1, "a", 1)).status, 200);
  EXPECT_EQ(bystander.next("changes").at("changes").at(0).at("key"), "a");
}

TEST_F(LiveTest, AConnectionThatNeverFinishesTheHandshakeIsDropped) {
  server::ServerOptions options = defaults();
  options.http.idle_timeout = 300ms;
  start(options);
  ApiClient guest = ApiClient::guest(port());
  net::HttpClient stalled("127.0.0.1", port(), 5s);
  // Half an upgrade request, never finished: the server hangs up after its idle timeout.
  const net::HttpResult result = stalled.send_raw(
      "GET /api/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
  EXPECT_EQ(result.status, 0);
  LiveClient live(port(), guest.token());  // others are served meanwhile
  live.send({{"type", "subscribe"}});
  live.next("subscribed");
}

TEST_F(LiveTest, LimitsOnSubscriptionsAndConnectionsAreEnforced) {
  server::ServerOptions options = defaults();
  options.live.max_subscriptions_per_connection = 1;
  options.live.max_connections_per_user = 2;
  start(options);
  ApiClient guest = ApiClient::guest(port());
  const std::string shared =
      text(guest.post("/api/datasets", json::object{{"name", "s"}}).at("datasetId"));
  LiveClient first(port(), guest.token());
  first.send({{"type", "subscribe"}});
  first.next("subscribed");
  first.send({{"type", "subscribe"}, {"dataset", shared}});
  EXPECT_EQ(first.next("error").at("code"), "invalid_request");
  LiveClient second(port(), guest.token());
  try {
    LiveClient third(port(), guest.token());
    FAIL() << "a third connection was accepted";
  } catch (const net::WebSocketRefused& e) {
    EXPECT_EQ(e.status(), 429);
  }
}

// A subscriber that stops reading while writers go on is closed with a reason to resume; the
// others get their pushes all along; the slow one resumes from its cursor and misses nothing.
TEST_F(LiveTest, ASlowConsumerIsDroppedAndResumesFromItsCursorWithoutLoss) {
  server::ServerOptions options = defaults();
  options.http.websocket.send_queue_bytes = 64 * 1024;
  start(options);
  ApiClient guest = ApiClient::guest(port());
  LiveClient slow(port(), guest.token());
  slow.send({{"type", "subscribe"}});
  const std::string slow_cursor = text(slow.next("subscribed").at("cursor"));
  LiveClient fast(port(), guest.token());
  fast.send({{"type", "subscribe"}});
  fast.next("subscribed");

  const std::string big(16 * 1024, 'x');
  int written = 0;
  std::map<std::string, std::string> fast_seen;
  bool dropped = false;
  // The slow one reads nothing; writes go on until the server gives up on it (the kernel's
  // socket buffers take several MB first).
  while (!dropped && written < 5000) {
    ++written;
    ASSERT_EQ(guest
                  .post("/api/sync/patch", journal_put("w", written, "k" + std::to_string(written),
                                                       json::string(big + std::to_string(written))))
                  .status,
              200);
    const json::object pushed = fast.next("changes");  // on time, every one
    for (const auto& item : pushed.at("changes").as_array())
      fast_seen[text(item.at("key"))] = text(item.at("value"));
    if (written % 50 == 0) {
      net::HttpClient http("127.0.0.1", port());
      dropped = http.request("GET", "/metrics").body.find("cairnd_live_slow_consumers_total 1") !=
                std::string::npos;
    }
  }
  ASSERT_TRUE(dropped) << "the slow consumer was not dropped after " << written << " writes";
  EXPECT_EQ(fast_seen.size(), static_cast<std::size_t>(written));

  // What the slow one had before the close is kept; then it resumes from its last cursor.
  std::map<std::string, std::string> slow_seen;
  std::string cursor = slow_cursor;
  try {
    for (;;) {
      const json::object message = slow.next(5s);
      if (message.at("type") != "changes") continue;
      for (const auto& item : message.at("changes").as_array())
        slow_seen[text(item.at("key"))] = text(item.at("value"));
      cursor = text(message.at("cursor"));
    }
  } catch (const net::WebSocketClosed& closed) {
    EXPECT_EQ(closed.code(), protocol::kCloseSlowConsumer);
    EXPECT_NE(std::string(closed.what()).find("cursor"), std::string::npos) << closed.what();
  }
  LiveClient resumed(port(), guest.token());
  resumed.send({{"type", "subscribe"}, {"cursor", cursor}});
  resumed.next("subscribed");
  while (slow_seen.size() < static_cast<std::size_t>(written)) {
    const json::object message = resumed.next("changes");
    for (const auto& item : message.at("changes").as_array())
      slow_seen[text(item.at("key"))] = text(item.at("value"));
  }
  EXPECT_EQ(slow_seen, fast_seen);
}

// The ordering property: writers over HTTP and over the socket, subscribers that connect,
// disconnect and resubscribe from their last cursor at random; each subscriber's changes, in the
// order received, are the feed after its first cursor — no gap, no duplicate, in feed order.
TEST_F(LiveTest, EverySubscriberReceivesTheFeedInOrderWithoutGapOrDuplicate) {
  start();
  const std::uint64_t seed = env_or("CAIRN_LIVE_SEED", 20261202);
  const std::uint64_t rounds = env_or("CAIRN_LIVE_ROUNDS", 300);
  std::printf("CAIRN_LIVE_SEED=%llu CAIRN_LIVE_ROUNDS=%llu\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(rounds));
  std::mt19937_64 random(seed);
  ApiClient http_writer = ApiClient::guest(port());
  const std::string token = http_writer.token();

  struct Subscriber {
    std::optional<LiveClient> live;
    std::string cursor;
    std::uint64_t last_seq = 0;                 // of the last change received
    std::map<std::string, std::uint64_t> seen;  // key -> seq, from what was received
    bool ordered = true;
  };
  std::vector<Subscriber> subscribers(4);
  const auto drain = [&](Subscriber& s, std::chrono::milliseconds wait) {
    while (const std::optional<std::string> text_message = s.live->socket().receive(wait)) {
      const json::object message = json::parse(*text_message).as_object();
      if (message.at("type") != "changes") continue;
      for (const auto& item : message.at("changes").as_array()) {
        const std::uint64_t seq = item.at("seq").to_number<std::uint64_t>();
        if (seq <= s.last_seq) s.ordered = false;  // a duplicate or out of order
        s.last_seq = seq;
        s.seen[text(item.at("key"))] = seq;
      }
      s.cursor = text(message.at("cursor"));
      wait = 0ms;
    }
  };
  const auto connect = [&](Subscriber& s) {
    s.live.emplace(port(), token);
    s.live->send({{"type", "subscribe"}, {"cursor", s.cursor}});
    s.live->next("subscribed");
  };
  for (auto& s : subscribers) {
    s.cursor = "0";
    connect(s);
  }
  LiveClient socket_writer(port(), token);
  // A writer on its own thread all along, so that commits race subscribes and backlogs.
  std::atomic<bool> writing{true};
  std::thread background([&, port = port()] {
    ApiClient writer(port, token);
    std::mt19937_64 keys(seed + 1);
    for (std::uint64_t seq = 1; writing; ++seq) {
      const ApiResult result = writer.post(
          "/api/sync/patch", journal_put("background", seq, "b" + std::to_string(keys() % 20), 0));
      if (result.status != 200)
        ADD_FAILURE() << "background write " << seq << ": " << result.status;
    }
  });
  std::uint64_t http_seq = 0, socket_seq = 0, patch_id = 0;
  for (std::uint64_t round = 0; round < rounds; ++round) {
    const std::string key = "k" + std::to_string(random() % 40);  // keys get overwritten
    switch (random() % 4) {
      case 0:
      case 1:
        ASSERT_EQ(
            http_writer.post("/api/sync/patch", journal_put("http", ++http_seq, key, round)).status,
            200);
        break;
      case 2:
        socket_writer.send({{"type", "patch"},
                            {"id", ++patch_id},
                            {"body", journal_put("socket", ++socket_seq, key, round)}});
        break;
      default: {
        Subscriber& s = subscribers[random() % subscribers.size()];
        if (random() % 2 == 0) {
          drain(s, 0ms);
          s.live.reset();  // gone: resubscribes from its cursor later
          connect(s);
        } else {
          drain(s, 0ms);
        }
      }
    }
  }
  writing = false;
  background.join();
  // Every socket patch acknowledged.
  std::uint64_t acked = 0;
  while (acked < patch_id) {
    if (socket_writer.next("ack").at("id").to_number<std::uint64_t>() > 0) ++acked;
  }
  // The feed as HTTP gives it, and each subscriber's view of it once its pushes are in.
  std::map<std::string, std::uint64_t> feed;
  std::string cursor = "0";
  for (;;) {
    const ApiResult page = http_writer.get("/api/sync/changes?since=" + cursor);
    for (const auto& item : page.at("changes").as_array())
      feed[text(item.at("key"))] = item.at("seq").to_number<std::uint64_t>();
    cursor = text(page.at("cursor"));
    if (!page.at("hasMore").as_bool()) break;
  }
  for (std::size_t i = 0; i < subscribers.size(); ++i) {
    Subscriber& s = subscribers[i];
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (s.cursor != cursor && std::chrono::steady_clock::now() < deadline)
      drain(s, 100ms);
    EXPECT_TRUE(s.ordered) << "subscriber " << i << " got a change twice or out of order";
    EXPECT_EQ(s.seen, feed) << "subscriber " << i;
  }
}

TEST_F(LiveTest, TheLiveChannelIsMeasured) {
  start();
  ApiClient guest = ApiClient::guest(port());
  LiveClient live(port(), guest.token());
  live.send({{"type", "subscribe"}});
  live.next("subscribed");
  net::HttpClient http("127.0.0.1", port());
  // A subscription turns live once its first frames have been written; a commit before that
  // reaches it through its catch-up, which is not a push. And a push is counted once its write
  // completes on the server, which may be just after the client has read it. So: commit and
  // read the metrics until a push shows (each a real request), for a few seconds at most.
  std::string metrics;
  std::uint64_t seq = 0;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  do {
    ++seq;
    ASSERT_EQ(guest.post("/api/sync/patch", journal_put("laptop", seq, "a", seq)).status, 200);
    live.next("changes");
    metrics = http.request("GET", "/metrics").body;
  } while (metrics.find("cairnd_live_push_latency_seconds_count 0") != std::string::npos &&
           std::chrono::steady_clock::now() < deadline);
  for (const char* line : {"cairnd_live_connections 1", "cairnd_live_subscriptions 1",
                           "cairnd_live_slow_consumers_total 0"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << "\n" << metrics;
  }
  EXPECT_NE(metrics.find("cairnd_live_push_latency_seconds_count "), std::string::npos);
  EXPECT_EQ(metrics.find("cairnd_live_push_latency_seconds_count 0"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("cairnd_live_messages_sent_total 0"), std::string::npos);
}

}  // namespace
}  // namespace cairn::test
