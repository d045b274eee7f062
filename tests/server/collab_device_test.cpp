// Documents in libcairn, against a real cairnd: a device whose store holds documents
// (MergePolicy::document()) edits offline, syncs its Yjs updates exactly once, and takes in what
// y-websocket editors wrote, by HTTP sync and by push on the live channel.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <optional>

#include "foundation/base64.hpp"
#include "support/announced.hpp"
#include "support/api_client.hpp"
#include "support/in_process_cairnd.hpp"
#include "support/manual_clock.hpp"
#include "support/temp_dir.hpp"
#include "support/y_client.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

class CollabDeviceTest : public ::testing::Test {
 protected:
  CollabDeviceTest() {
    server::ServerOptions options;
    options.storage.data_dir = dir_ / "data";
    options.storage.durability = Durability::normal;
    options.rate_limit = 0;
    cairnd_.emplace(std::move(options));
    owner_.emplace(ApiClient::guest(port()));
    dataset_ = std::string(
        owner_->post("/api/datasets", json::object{{"name", "team"}}).at("datasetId").as_string());
  }
  std::uint16_t port() { return cairnd_->port(); }
  Database open(const std::string& name) {
    DatabaseOptions options;
    options.stores = {{"notes", 1, MergePolicy::document()}, {"journal", 1, MergePolicy{}}};
    return Database::open(dir_ / (name + ".db"), std::move(options));
  }
  SyncOptions sync_options() {
    SyncOptions options;
    options.server = "http://127.0.0.1:" + std::to_string(port());
    options.token = owner_->token();
    options.dataset = dataset_;
    options.request_timeout = 5s;
    return options;
  }
  // An editor in a browser, on the device's document notes/<key>: its text is root "content".
  YClient editor(const std::string& key, std::uint64_t client_id) {
    return YClient(port(), dataset_, "notes/" + key, owner_->token(), client_id);
  }
  std::string server_text(const std::string& key) {
    const ApiResult document = owner_->get("/api/collab/" + dataset_ + "/notes/" + key);
    EXPECT_EQ(document.status, 200) << document.body;
    const json::value* text = document.body.at("json").as_object().if_contains("content");
    return text ? std::string(text->as_string()) : std::string();
  }

  TempDir dir_;
  std::optional<InProcessCairnd> cairnd_;
  std::optional<ApiClient> owner_;
  std::string dataset_;
};

TEST_F(CollabDeviceTest, OfflineEditsAndEditorsEditsMergeAndEveryoneConverges) {
  Database device = open("device");
  YClient browser = editor("plan", 101);
  ASSERT_TRUE(browser.pump_until([&] { return browser.synced(); }));
  browser.insert(0, "Agenda: ", "content");
  // Once another editor has it, the log has it (durable before relayed).
  YClient witness = editor("plan", 102);
  ASSERT_TRUE(witness.pump_until([&] { return witness.text("content") == "Agenda: "; }));

  // Offline, the device writes the document in several transactions, one with another store.
  for (const std::string word : {"budget", " hiring", " launch"}) {
    auto tx = device.transaction();
    tx.edit_text("notes", "plan", device.document_text("notes", "plan").size(), 0, word);
    tx.put("journal", "last", json::value(word));
    tx.commit();
  }
  ASSERT_EQ(device.pending_count(), 6u);

  const SyncReport report = SyncClient::sync_once(device, sync_options());
  EXPECT_EQ(report.acknowledged, 6u);
  EXPECT_EQ(report.documents, 1u);  // it took in the editor's words
  EXPECT_EQ(device.pending_count(), 0u);
  const std::string merged = device.document_text("notes", "plan");
  EXPECT_EQ(merged.size(), std::string("Agenda: budget hiring launch").size()) << merged;
  EXPECT_NE(merged.find("Agenda: "), std::string::npos) << merged;
  EXPECT_NE(merged.find("budget hiring launch"), std::string::npos) << merged;
  // The editor sees the device's edits live, and the server holds what both hold.
  ASSERT_TRUE(browser.pump_until([&] { return browser.text("content") == merged; }))
      << browser.text("content");
  EXPECT_EQ(server_text("plan"), merged);

  // A sync with nothing new sends nothing and changes nothing.
  const SyncReport again = SyncClient::sync_once(device, sync_options());
  EXPECT_EQ(again.sent, 0u);
  EXPECT_EQ(again.documents, 0u);
  EXPECT_EQ(device.document_text("notes", "plan"), merged);
}

TEST_F(CollabDeviceTest, ADocumentUpdateSentTwiceIsAppliedOnce) {
  // The same numbered change twice (a retry after a lost answer): acknowledged, appended once.
  crdt::Doc doc(5);
  crdt::Bytes update;
  doc.on_update([&](std::span<const std::uint8_t> bytes, const void*) {
    update.assign(bytes.begin(), bytes.end());
  });
  doc.text_insert(doc.get("content", crdt::TypeKind::text), 0, "once");
  const json::value body = {
      {"clientId", "retrying-device"},
      {"dataset", dataset_},
      {"changes", json::array{json::object{
                      {"seq", 1},
                      {"store", "notes"},
                      {"key", "retry"},
                      {"op", "update"},
                      {"update", base64_encode({reinterpret_cast<const char*>(update.data()),
                                                update.size()})}}}}};
  for (int attempt = 0; attempt < 2; ++attempt) {
    const ApiResult answer = owner_->post("/api/sync/patch", body);
    ASSERT_EQ(answer.status, 200) << answer.body;
    EXPECT_EQ(answer.at("ack"), 1);
  }
  const ApiResult audit = owner_->get("/api/history?dataset=" + dataset_ + "&document=notes/retry");
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_EQ(audit.at("versions").as_array().size(), 1u);
  EXPECT_EQ(server_text("retry"), "once");

  // The feed marks the document as an entry of its store.
  const ApiResult feed = owner_->get("/api/sync/changes?dataset=" + dataset_ + "&since=0");
  ASSERT_EQ(feed.status, 200) << feed.body;
  bool marked = false;
  for (const auto& change : feed.at("changes").as_array()) {
    if (change.at("store") == "notes" && change.at("key") == "retry") {
      marked = true;
      EXPECT_EQ(change.at("value").at("document"), "notes/retry");
    }
  }
  EXPECT_TRUE(marked) << feed.body;
}

TEST_F(CollabDeviceTest, BadDocumentUpdatesAreRefusedWithTheirReason) {
  const auto patch = [&](const std::string& key, const std::string& update) {
    return owner_->post("/api/sync/patch",
                        json::object{{"clientId", "bad-device"},
                                     {"dataset", dataset_},
                                     {"changes", json::array{json::object{{"seq", 1},
                                                                          {"store", "notes"},
                                                                          {"key", key},
                                                                          {"op", "update"},
                                                                          {"update", update}}}}});
  };
  EXPECT_EQ(patch("plan", "not base64!").status, 400);
  EXPECT_EQ(patch("plan", base64_encode("\x05garbage")).status, 400);
  EXPECT_EQ(patch("with space", base64_encode(std::string("\x00\x00", 2))).status, 422);
  // Nothing was appended: the document is still empty.
  EXPECT_EQ(server_text("plan"), "");
}

TEST_F(CollabDeviceTest, ALiveDeviceTakesInEditorsEditsAsTheyHappen) {
  Database device = open("device");
  Announced heard;
  Subscription changes = device.subscribe("notes", [&](const ChangeSet&) { heard.announce(); });
  SyncOptions options = sync_options();
  options.interval = std::chrono::hours(1);  // no polling: what arrives comes by push
  SyncClient sync(device, options);
  ASSERT_TRUE(sync.wait_until_synced(10s));
  Subscription status = sync.subscribe([&](const SyncStatus&) { heard.announce(); });
  ASSERT_TRUE(heard.wait([&] { return sync.status().live; }));

  YClient browser = editor("live", 202);
  ASSERT_TRUE(browser.pump_until([&] { return browser.synced(); }));
  browser.insert(0, "typed in a browser", "content");
  ASSERT_TRUE(browser.pump_until([&] { return server_text("live") == "typed in a browser"; }));
  EXPECT_TRUE(heard.wait([&] {
    return device.document_text("notes", "live") == "typed in a browser";
  })) << device.document_text("notes", "live");

  // And the device's edit reaches the browser.
  auto tx = device.transaction();
  tx.edit_text("notes", "live", 0, 0, "Device: ");
  tx.commit();
  sync.sync_now();
  EXPECT_TRUE(browser.pump_until([&] {
    return browser.text("content") == "Device: typed in a browser";
  })) << browser.text("content");
}

TEST_F(CollabDeviceTest, ADeviceInTheDocumentsSessionSeesEditorsAndIsSeenByThem) {
  Database device = open("device");
  Announced heard;
  Subscription changes = device.subscribe("notes", [&](const ChangeSet&) { heard.announce(); });
  std::optional<DocumentSession> session(std::in_place, device, "notes", "room",
                                         json::object{{"user", {{"name", "device"}}}},
                                         sync_options());
  Subscription news = session->subscribe([&] { heard.announce(); });
  ASSERT_TRUE(heard.wait([&] { return session->connected(); })) << session->error();

  YClient browser = editor("room", 303);
  ASSERT_TRUE(browser.pump_until([&] { return browser.synced(); }));
  browser.set_awareness(1, R"({"user":{"name":"browser"}})");
  browser.insert(0, "hello", "content");
  // The browser's edit and awareness reach the device through the session (no sync runs).
  ASSERT_TRUE(heard.wait([&] { return device.document_text("notes", "room") == "hello"; }))
      << device.document_text("notes", "room");
  ASSERT_TRUE(heard.wait([&] {
    for (const DocumentPeer& peer : session->peers()) {
      if (peer.state.as_object().contains("user") &&
          peer.state.at("user").at("name") == "browser") {
        return true;
      }
    }
    return false;
  }));
  // The browser sees the device, and the device's edit as it commits.
  ASSERT_TRUE(browser.pump_until([&] {
    for (const auto& [client, state] : browser.awareness())
      if (state.find("\"device\"") != std::string::npos) return true;
    return false;
  }));
  auto tx = device.transaction();
  tx.edit_text("notes", "room", 5, 0, " world");
  tx.commit();
  ASSERT_TRUE(browser.pump_until([&] { return browser.text("content") == "hello world"; }))
      << browser.text("content");

  // The outbox still delivers the edit exactly once; the server does not append it again.
  EXPECT_EQ(device.pending_count(), 1u);
  EXPECT_EQ(SyncClient::sync_once(device, sync_options()).acknowledged, 1u);
  const ApiResult audit = owner_->get("/api/history?dataset=" + dataset_ + "&document=notes/room");
  ASSERT_EQ(audit.status, 200) << audit.body;
  std::size_t applied = 0, unchanged = 0;
  for (const auto& version : audit.at("versions").as_array()) {
    applied += version.at("outcome") == "applied";
    unchanged += version.at("outcome") == "unchanged";
  }
  EXPECT_EQ(applied, 2u);  // the browser's and the device's, each once
  EXPECT_EQ(unchanged, 1u);
  EXPECT_EQ(server_text("room"), "hello world");

  // Leaving: the browser sees the device go.
  session.reset();
  EXPECT_TRUE(browser.pump_until([&] {
    for (const auto& [client, state] : browser.awareness())
      if (state.find("\"device\"") != std::string::npos) return false;
    return true;
  }));
}

TEST_F(CollabDeviceTest, ASessionTheServerRefusesForGoodEndsAndSaysWhy) {
  Database device = open("device");
  const ApiClient stranger = ApiClient::guest(port());
  SyncOptions options = sync_options();
  options.token = stranger.token();  // not a member of the dataset
  Announced heard;
  DocumentSession session(device, "notes", "secret", {}, options);
  Subscription news = session.subscribe([&] { heard.announce(); });
  ASSERT_TRUE(heard.wait([&] { return !session.error().empty(); }));
  EXPECT_NE(session.error().find("4404"), std::string::npos) << session.error();
  EXPECT_FALSE(session.connected());
  // A store that holds no documents cannot be joined.
  EXPECT_THROW(DocumentSession(device, "journal", "x", {}, options), Error);
}

}  // namespace
}  // namespace cairn::test
