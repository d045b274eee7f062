// Collaborative documents on a real cairnd (GET /api/collab/<dataset>/<doc>), over real
// WebSockets on loopback, with peers written with Cairn's CRDT (support/y_client.hpp) speaking
// y-websocket's protocol: convergence, durability, authorisation, awareness, bad input, the HTTP
// form, bounds and compaction. Node's y-websocket itself is in collab_interop_test.cpp.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <optional>
#include <thread>

#include "support/api_client.hpp"
#include "support/in_process_cairnd.hpp"
#include "support/live_client.hpp"
#include "support/manual_clock.hpp"
#include "support/temp_dir.hpp"
#include "support/y_client.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

class CollabTest : public ::testing::Test {
 protected:
  CollabTest() { start(); }
  server::ServerOptions defaults() {
    server::ServerOptions options;
    options.storage.data_dir = dir_ / "data";
    options.storage.durability = Durability::normal;
    options.clock = clock_;
    options.rate_limit = 0;
    return options;
  }
  void start(server::ServerOptions options) {
    cairnd_.reset();
    cairnd_.emplace(std::move(options));
    owner_.emplace(ApiClient::guest(port()));
    viewer_.emplace(ApiClient::guest(port()));
    stranger_.emplace(ApiClient::guest(port()));
    dataset_ = std::string(
        owner_->post("/api/datasets", json::object{{"name", "team"}}).at("datasetId").as_string());
    EXPECT_EQ(owner_
                  ->post("/api/datasets/" + dataset_ + "/members",
                         json::object{{"userId", viewer_->user_id()}, {"role", "viewer"}})
                  .status,
              200);
  }
  void start() { start(defaults()); }
  // The same storage, a new server (a restart).
  void restart() {
    cairnd_.reset();
    cairnd_.emplace(defaults());
  }
  std::uint16_t port() { return cairnd_->port(); }
  YClient peer(const ApiClient& who, std::uint64_t client_id, const std::string& name = "notes") {
    return YClient(port(), dataset_, name, who.token(), client_id);
  }
  // The raw update a GET ?format=update gives.
  std::string stored_update(const std::string& name = "notes") {
    net::HttpClient http("127.0.0.1", port());
    const auto answer =
        http.request("GET", "/api/collab/" + dataset_ + "/" + name + "?format=update", "",
                     {{"Authorization", "Bearer " + owner_->token()}});
    EXPECT_EQ(answer.status, 200) << answer.body;
    return answer.body;
  }

  TempDir dir_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::optional<InProcessCairnd> cairnd_;
  std::optional<ApiClient> owner_, viewer_, stranger_;
  std::string dataset_;
};

TEST_F(CollabTest, PeersConvergeAndALateJoinerGetsTheWholeDocument) {
  YClient a = peer(*owner_, 1);
  YClient b = peer(*owner_, 2);
  ASSERT_TRUE(a.pump_until([&] { return a.synced(); }));
  ASSERT_TRUE(b.pump_until([&] { return b.synced(); }));
  a.insert(0, "hello");
  ASSERT_TRUE(b.pump_until([&] { return b.text() == "hello"; })) << b.text();
  b.insert(5, " world");
  ASSERT_TRUE(a.pump_until([&] { return a.text() == "hello world"; })) << a.text();
  YClient late = peer(*owner_, 3);
  ASSERT_TRUE(late.pump_until([&] { return late.text() == "hello world"; })) << late.text();
}

TEST_F(CollabTest, AnUpdateIsDurableBeforeAnyPeerSeesItAndSurvivesARestart) {
  {
    YClient a = peer(*owner_, 1);
    YClient b = peer(*owner_, 2);
    ASSERT_TRUE(a.pump_until([&] { return a.synced(); }));
    a.insert(0, "kept");
    // Once b has it, the log has it.
    ASSERT_TRUE(b.pump_until([&] { return b.text() == "kept"; }));
    crdt::Doc stored(9);
    const std::string bytes = stored_update();
    stored.apply_update_v1({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
    EXPECT_EQ(stored.get("t", crdt::TypeKind::text).to_string(), "kept");
  }
  restart();
  YClient again = peer(*owner_, 3);
  ASSERT_TRUE(again.pump_until([&] { return again.text() == "kept"; })) << again.text();
}

TEST_F(CollabTest, StrangersAndBadTokensAreClosedWithCodesThatStopReconnecting) {
  for (const std::string& token : {std::string(), std::string("nope")}) {
    YClient anonymous(port(), dataset_, "notes", token, 1);
    anonymous.pump_until([] { return false; }, 5s);
    EXPECT_EQ(anonymous.closed(), protocol::kCloseCollabUnauthorized) << token;
  }
  // Not a member: the same answer whether or not the dataset or the document exists.
  for (const std::string& dataset : {dataset_, std::string("dnope")}) {
    YClient stranger(port(), dataset, "notes", stranger_->token(), 1);
    stranger.pump_until([] { return false; }, 5s);
    EXPECT_EQ(stranger.closed(), protocol::kCloseCollabNotFound) << dataset;
  }
  // Over HTTP too.
  EXPECT_EQ(stranger_->get("/api/collab/" + dataset_ + "/notes").status, 404);
  EXPECT_EQ(stranger_->get("/api/collab/dnope/notes").status, 404);
  EXPECT_EQ(ApiClient(port()).get("/api/collab/" + dataset_ + "/notes").status, 401);
  EXPECT_EQ(owner_->get("/api/collab/" + dataset_ + "/bad%20name").status, 400);
}

TEST_F(CollabTest, AViewerReceivesButWhatItWouldChangeIsDenied) {
  YClient owner = peer(*owner_, 1);
  ASSERT_TRUE(owner.pump_until([&] { return owner.synced(); }));
  owner.insert(0, "read me");
  YClient viewer = peer(*viewer_, 2);
  ASSERT_TRUE(viewer.pump_until([&] { return viewer.text() == "read me" && viewer.synced(); }));
  EXPECT_FALSE(viewer.denied());  // its sync step 2 carried nothing new: accepted
  viewer.insert(0, "not ");
  ASSERT_TRUE(viewer.pump_until([&] { return viewer.denied().has_value(); }));
  EXPECT_FALSE(viewer.closed());  // still receiving
  owner.insert(7, "!");
  ASSERT_TRUE(viewer.pump_until([&] { return viewer.text() == "not read me!"; })) << viewer.text();
  owner.pump_until([] { return false; }, 200ms);
  EXPECT_EQ(owner.text(), "read me!");
  EXPECT_EQ(owner_->get("/api/collab/" + dataset_ + "/notes").at("json").at("t"), "read me!");
  // Nor over HTTP.
  ApiClient viewer_http(port(), viewer_->token());
  EXPECT_EQ(viewer_http.post_text("/api/collab/" + dataset_ + "/notes", "x").status, 403);
}

TEST_F(CollabTest, AwarenessIsRelayedAndRemovedWhenItsConnectionCloses) {
  YClient a = peer(*owner_, 11);
  YClient b = peer(*owner_, 12);
  ASSERT_TRUE(a.pump_until([&] { return a.synced(); }));
  ASSERT_TRUE(b.pump_until([&] { return b.synced(); }));
  a.set_awareness(1, R"({"user":{"name":"ada"}})");
  ASSERT_TRUE(b.pump_until([&] { return b.awareness().contains(11); }));
  EXPECT_EQ(b.awareness().at(11), R"({"user":{"name":"ada"}})");
  // A late joiner is told who is here; b may not speak for a's client.
  b.set_awareness(5, R"({"user":{"name":"impostor"}})");
  {
    YClient c = peer(*owner_, 13);
    ASSERT_TRUE(c.pump_until([&] { return c.awareness().contains(11); }));
    EXPECT_EQ(c.awareness().at(11), R"({"user":{"name":"ada"}})");
  }
  {
    YClient gone = peer(*owner_, 14);
    gone.set_awareness(1, R"({"user":{"name":"bea"}})");
    ASSERT_TRUE(b.pump_until([&] { return b.awareness().contains(14); }));
  }
  ASSERT_TRUE(b.pump_until([&] { return b.awareness().at(14) == "null"; }));
  EXPECT_EQ(b.awareness().at(11), R"({"user":{"name":"ada"}})");
}

TEST_F(CollabTest, TheLiveChannelShowsWhoIsInWhichDocument) {
  YClient before = peer(*owner_, 21, "plan");
  ASSERT_TRUE(before.pump_until([&] { return before.synced(); }));
  LiveClient live(port(), viewer_->token());
  live.send({{"type", "subscribe"}, {"dataset", dataset_}});
  live.next("subscribed");
  // Already there: the peer in "plan".
  const json::object present = live.next("presence");
  ASSERT_EQ(present.at("peers").as_array().size(), 1u);
  EXPECT_EQ(present.at("peers").at(0).at("userId"), json::value(owner_->user_id()));
  EXPECT_EQ(present.at("peers").at(0).at("state"), (json::object{{"document", "plan"}}));
  std::string connection;
  {
    YClient joining = peer(*owner_, 22, "notes");
    const json::object joined = live.next("presence");
    connection = std::string(joined.at("peers").at(0).at("connection").as_string());
    EXPECT_EQ(joined.at("peers").at(0).at("state"), (json::object{{"document", "notes"}}));
    // Its awareness "user" shows once it sets one.
    joining.set_awareness(1, R"({"user":{"name":"ada","color":"#f80"},"cursor":{"anchor":3}})");
    const json::object named = live.next("presence");
    EXPECT_EQ(
        named.at("peers").at(0).at("state"),
        (json::object{{"document", "notes"}, {"user", {{"name", "ada"}, {"color", "#f80"}}}}));
  }
  const json::object left = live.next("presence");
  EXPECT_EQ(left.at("left"), (json::array{json::value(connection)}));
}

TEST_F(CollabTest, MalformedMessagesCloseTheirConnectionAndOthersGoOn) {
  YClient good = peer(*owner_, 1);
  ASSERT_TRUE(good.pump_until([&] { return good.synced(); }));
  const std::vector<std::string> bad = {
      std::string("\x07", 1),                       // unknown message type
      std::string("\x00\x09\x00", 3),               // unknown sync step
      std::string("\x00\x02\x05\x01\x02", 5),       // a truncated update
      std::string("\x00\x02\x03\x01\x01\x01", 6),   // an update that does not decode
      std::string("\x01\x05\x01\x01\x01\x01{", 7),  // awareness state that is not JSON
      std::string("\x03\x00", 2),                   // bytes after the message
  };
  for (const std::string& bytes : bad) {
    YClient bad_peer = peer(*owner_, 2);
    bad_peer.send_raw(bytes);
    bad_peer.pump_until([] { return false; }, 5s);
    EXPECT_EQ(bad_peer.closed(), 4400) << testing::PrintToString(bytes);
  }
  good.insert(0, "still here");
  YClient other = peer(*owner_, 3);
  ASSERT_TRUE(other.pump_until([&] { return other.text() == "still here"; }));
}

TEST_F(CollabTest, TheDocumentOverHttpReadsAndWrites) {
  // A member reading a document never written gets an empty one.
  const ApiResult empty = owner_->get("/api/collab/" + dataset_ + "/fresh");
  ASSERT_EQ(empty.status, 200);
  EXPECT_EQ(empty.at("json"), json::object());
  EXPECT_EQ(empty.at("name"), "fresh");
  // POST an update made elsewhere; a peer sees it.
  YClient watcher = peer(*owner_, 1, "fresh");
  ASSERT_TRUE(watcher.pump_until([&] { return watcher.synced(); }));
  crdt::Doc source(42);
  source.map_set(source.get("m", crdt::TypeKind::map), "k", crdt::Any(std::string("v")));
  const crdt::Bytes update = source.encode_state_as_update_v1();
  const ApiResult posted = owner_->post_text("/api/collab/" + dataset_ + "/fresh",
                                             std::string(update.begin(), update.end()));
  ASSERT_EQ(posted.status, 200);
  EXPECT_TRUE(posted.at("changed").as_bool());
  ASSERT_TRUE(watcher.pump_until(
      [&] { return watcher.doc().get("m", crdt::TypeKind::map).map_get("k").has_value(); }));
  // The same again changes nothing.
  EXPECT_FALSE(owner_
                   ->post_text("/api/collab/" + dataset_ + "/fresh",
                               std::string(update.begin(), update.end()))
                   .at("changed")
                   .as_bool());
  const ApiResult read = owner_->get("/api/collab/" + dataset_ + "/fresh");
  EXPECT_EQ(read.at("json"), (json::object{{"m", json::object{{"k", "v"}}}}));
  // ?type= names a root's kind.
  EXPECT_EQ(owner_->get("/api/collab/" + dataset_ + "/fresh?type=m:tree").status, 400);
  EXPECT_EQ(owner_->post_text("/api/collab/" + dataset_ + "/fresh", "\x01").status, 400);
}

TEST_F(CollabTest, HistoryKeepsWhoSentEachUpdateAndSnapshotsShowThePast) {
  server::ServerOptions options = defaults();
  options.collab.snapshot_interval = std::chrono::minutes(10);
  options.collab.compact_after_updates = 4;  // the audit outlives compaction
  start(std::move(options));
  ApiClient editor_http(port(), owner_->token());
  const std::string path = "/api/collab/" + dataset_ + "/notes";
  {
    YClient a = peer(*owner_, 1);
    ASSERT_TRUE(a.pump_until([&] { return a.synced(); }));
    a.insert(0, "first");  // the first update: a snapshot on the schedule
    YClient b = peer(*owner_, 2);
    ASSERT_TRUE(b.pump_until([&] { return b.text() == "first"; }));
    // On request, with a label.
    const ApiResult taken = editor_http.post_text(path + "?snapshot=before%20more", "");
    ASSERT_EQ(taken.status, 201) << taken.body;
    EXPECT_EQ(taken.at("id"), 2);
    for (int i = 0; i < 5; ++i)
      a.insert(5, "!");
    ASSERT_TRUE(b.pump_until([&] { return b.text() == "first!!!!!"; }));
    clock_->advance(11 * 60 * 1000);
    a.insert(0, "> ");  // past the interval: another scheduled snapshot
    ASSERT_TRUE(b.pump_until([&] { return b.text() == "> first!!!!!"; }));
  }
  const ApiResult history = owner_->get(path + "?history");
  ASSERT_EQ(history.status, 200) << history.body;
  const json::array& snapshots = history.at("snapshots").as_array();
  ASSERT_EQ(snapshots.size(), 3u);
  EXPECT_FALSE(snapshots[0].as_object().contains("userId"));  // the schedule's
  EXPECT_EQ(snapshots[1].at("label"), "before more");
  EXPECT_EQ(snapshots[1].at("userId"), json::value(owner_->user_id()));
  const json::array& updates = history.at("updates").as_array();
  ASSERT_EQ(updates.size(), 7u);
  for (const json::value& update : updates) {
    EXPECT_EQ(update.at("userId"), json::value(owner_->user_id()));
    EXPECT_GT(update.at("bytes").as_int64(), 0);
  }
  // The document as each snapshot holds it.
  EXPECT_EQ(owner_->get(path + "?at=1").at("json").at("t"), "first");
  EXPECT_EQ(owner_->get(path + "?at=2").at("snapshot").at("id"), 2);
  EXPECT_EQ(owner_->get(path + "?at=3").at("json").at("t"), "> first!!!!!");
  EXPECT_EQ(owner_->get(path + "?at=9").status, 404);
  EXPECT_EQ(owner_->get(path + "?at=x").status, 400);
  // The audit log covers documents too; viewers read it, strangers do not.
  ApiClient viewer(port(), viewer_->token());
  const ApiResult audit =
      viewer.get("/api/history?dataset=" + dataset_ + "&document=notes&limit=3");
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_EQ(audit.at("document"), "notes");
  ASSERT_EQ(audit.at("versions").as_array().size(), 3u);
  EXPECT_EQ(audit.at("versions").at(0).at("op"), "update");
  EXPECT_EQ(stranger_->get(path + "?history").status, 404);
  // Viewers may read history but not take snapshots.
  EXPECT_EQ(viewer.post_text(path + "?snapshot", "").status, 403);
}

TEST_F(CollabTest, RestoringASnapshotBringsEveryPeerBackToIt) {
  ApiClient editor(port(), owner_->token());
  const std::string path = "/api/collab/" + dataset_ + "/notes";
  YClient a = peer(*owner_, 1);
  YClient b = peer(*owner_, 2);
  ASSERT_TRUE(a.pump_until([&] { return a.synced(); }));
  ASSERT_TRUE(b.pump_until([&] { return b.synced(); }));
  crdt::Doc& doc = a.doc();
  doc.transact([&](crdt::Transaction&) {
    crdt::Type& text = doc.get("t", crdt::TypeKind::text);
    doc.text_insert(text, 0, "plain ");
    doc.text_insert(text, 6, "bold", crdt::Any::Object{{"bold", crdt::Any(true)}});
    crdt::Type& map = doc.get("m", crdt::TypeKind::map);
    doc.map_set(map, "kept", crdt::Any(std::string("v1")));
    crdt::Type& nested = doc.map_set_type(map, "inner", crdt::TypeKind::array);
    doc.array_insert(nested, 0, {crdt::Any(1), crdt::Any(2)});
  });
  ASSERT_TRUE(b.pump_until([&] { return b.text() == "plain bold"; }));
  const ApiResult taken = editor.post_text(path + "?snapshot=good", "");
  ASSERT_EQ(taken.status, 201);
  const std::string id = std::to_string(taken.at("id").as_int64());
  const json::value before = owner_->get(path + "?at=" + id).at("json");
  // Edits after it, from both peers.
  doc.transact([&](crdt::Transaction&) {
    doc.text_delete(doc.get("t", crdt::TypeKind::text), 0, 6);
    crdt::Type& map = doc.get("m", crdt::TypeKind::map);
    doc.map_set(map, "kept", crdt::Any(std::string("v2")));
    doc.map_set(map, "added", crdt::Any(3));
  });
  b.insert(0, "> ");
  ASSERT_TRUE(a.pump_until([&] { return a.text() == "> bold"; })) << a.text();
  ASSERT_NE(owner_->get(path).at("json"), before);
  // Back to the snapshot: the server's document and both peers.
  const ApiResult restored = editor.post_text(path + "?restore=" + id, "");
  ASSERT_EQ(restored.status, 200) << restored.body;
  EXPECT_TRUE(restored.at("changed").as_bool());
  EXPECT_EQ(owner_->get(path).at("json"), before);
  ASSERT_TRUE(a.pump_until([&] { return a.text() == "plain bold"; })) << a.text();
  ASSERT_TRUE(b.pump_until([&] { return b.text() == "plain bold"; })) << b.text();
  EXPECT_EQ(crdt::to_json(a.doc().get("m", crdt::TypeKind::map).to_json()),
            R"({"kept":"v1","inner":[1,2]})");
  const std::vector<crdt::DeltaOp> delta = b.doc().get("t", crdt::TypeKind::text).to_delta();
  ASSERT_EQ(delta.size(), 2u);
  EXPECT_EQ(delta[1].attributes, (crdt::Any::Object{{"bold", crdt::Any(true)}}));
  // Restoring what is already there changes nothing; an unknown snapshot is 404.
  EXPECT_FALSE(editor.post_text(path + "?restore=" + id, "").at("changed").as_bool());
  EXPECT_EQ(editor.post_text(path + "?restore=99", "").status, 404);
  EXPECT_EQ(ApiClient(port(), viewer_->token()).post_text(path + "?restore=" + id, "").status, 403);
}

TEST_F(CollabTest, ALoggedOutTokenEndsItsSessions) {
  YClient a = peer(*owner_, 1);
  ASSERT_TRUE(a.pump_until([&] { return a.synced(); }));
  ASSERT_EQ(owner_->post_text("/api/auth/logout", "").status, 204);
  a.pump_until([] { return false; }, 5s);
  EXPECT_EQ(a.closed(), protocol::kCloseCollabUnauthorized);
}

TEST_F(CollabTest, OverTheRateLimitAConnectionIsClosedWithTryAgainLater) {
  server::ServerOptions options = defaults();
  options.rate_limit = 0.001;  // a token's burst, then next to nothing
  options.rate_burst = 3;      // creating the dataset and adding a member take two
  start(std::move(options));
  YClient first = peer(*owner_, 1);
  ASSERT_TRUE(first.pump_until([&] { return first.synced(); }));
  YClient second = peer(*owner_, 2);
  second.pump_until([] { return false; }, 5s);
  EXPECT_EQ(second.closed(), 1013);  // y-websocket comes back later
  EXPECT_EQ(owner_->get("/api/collab/" + dataset_ + "/notes").status, 429);
}

TEST_F(CollabTest, AServerShuttingDownClosesWithTryAgainLater) {
  YClient a = peer(*owner_, 1);
  ASSERT_TRUE(a.pump_until([&] { return a.synced(); }));
  std::thread stopping([&] { cairnd_.reset(); });  // waits for its connections to close
  a.pump_until([] { return false; }, 10s);
  stopping.join();
  EXPECT_EQ(a.closed(), 1013);  // y-websocket reconnects
}

TEST_F(CollabTest, AnExpiredTokenEndsTheSessionAtItsNextMessage) {
  YClient a = peer(*owner_, 1);
  ASSERT_TRUE(a.pump_until([&] { return a.synced(); }));
  clock_->advance(31LL * 24 * 3600 * 1000);  // past the token's 30 days
  a.insert(0, "too late");
  a.pump_until([] { return false; }, 5s);
  EXPECT_EQ(a.closed(), protocol::kCloseCollabUnauthorized);
  EXPECT_EQ(owner_->get("/api/collab/" + dataset_ + "/notes").status, 401);
}

TEST_F(CollabTest, ADocumentIsBoundedAndItsLogIsCompacted) {
  server::ServerOptions options = defaults();
  options.collab.max_document_bytes = 4096;
  options.collab.compact_after_updates = 8;
  start(std::move(options));
  {
    YClient a = peer(*owner_, 1);
    ASSERT_TRUE(a.pump_until([&] { return a.synced(); }));
    for (int i = 0; i < 40; ++i)
      a.insert(0, "ab");  // each its own update: the log is compacted as it goes
    YClient b = peer(*owner_, 2);
    ASSERT_TRUE(b.pump_until([&] { return b.text().size() == 80; }));
    // In the background, the log of 40 updates became a few.
    const auto log_size = [&] {
      return std::stoi(query_storage(test_storage_config(dir_.path() / "data"),
                                     "SELECT count(*) FROM document_updates")
                           .at(0)
                           .at(0));
    };
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (log_size() >= 8 && std::chrono::steady_clock::now() < deadline)
      b.pump_until([] { return false; }, 10ms);
    EXPECT_LT(log_size(), 8);
    a.insert(0, std::string(5000, 'x'));
    a.pump_until([] { return false; }, 5s);
    EXPECT_EQ(a.closed(), 4413);
    b.pump_until([] { return false; }, 300ms);
    EXPECT_EQ(b.text().size(), 80u);  // the refused update went nowhere
  }
  restart();
  YClient c = peer(*owner_, 3);
  ASSERT_TRUE(c.pump_until([&] { return c.synced(); }));
  EXPECT_EQ(c.text().size(), 80u);
}

}  // namespace
}  // namespace cairn::test
