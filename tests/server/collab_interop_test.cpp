// Browser editors on cairnd: the unmodified y-websocket provider under Node (tests/js/
// collab_peer.cjs, npm packages pinned in tests/js), a peer written with Cairn's CRDT and a
// libcairn device (a document store, syncing through its outbox and the live channel) edit one
// document at once through a real cairnd; all converge, and the server's stored document equals
// theirs. Skips unless CAIRN_TEST_NODE_MODULES is set (scripts/test.sh sets it, Release pass).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "support/api_client.hpp"
#include "support/fault_proxy.hpp"
#include "support/in_process_cairnd.hpp"
#include "support/process.hpp"
#include "support/seeds.hpp"
#include "support/temp_dir.hpp"
#include "support/y_client.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

class CollabInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* modules = std::getenv("CAIRN_TEST_NODE_MODULES");
    if (modules == nullptr)
      GTEST_SKIP() << "CAIRN_TEST_NODE_MODULES is not set (scripts/test.sh sets it)";
    setenv("NODE_PATH", modules, 1);
    server::ServerOptions options;
    options.storage.data_dir = dir_.path() / "data";
    options.storage.durability = Durability::normal;
    options.rate_limit = 0;
    options.collab.compact_after_updates = 64;  // compaction happens during the session
    cairnd_.emplace(std::move(options));
    owner_.emplace(ApiClient::guest(cairnd_->port()));
    dataset_ = std::string(
        owner_->post("/api/datasets", json::object{{"name", "team"}}).at("datasetId").as_string());
  }

  TempDir dir_;
  std::optional<InProcessCairnd> cairnd_;
  std::optional<ApiClient> owner_;
  std::string dataset_;
};

// One Node y-websocket peer.
class NodePeer {
 public:
  NodePeer(std::uint16_t port, const std::string& room, const std::string& token,
           std::uint32_t seed, int edits)
      : node_({"/usr/bin/node", CAIRN_TEST_JS_DIR "/collab_peer.cjs",
               "ws://127.0.0.1:" + std::to_string(port) + "/api/collab", room, token,
               std::to_string(seed), std::to_string(edits)},
              false, true) {}
  json::object next() {
    const std::optional<std::string> line = node_.read_line(20s);
    if (!line) throw std::runtime_error("the Node peer did not answer");
    return json::parse(*line).as_object();
  }
  json::object report() {
    node_.write("report\n");
    return next();
  }
  ~NodePeer() {
    try {
      node_.write("quit\n");
      node_.wait(5s);
    } catch (...) {
    }
  }

 private:
  Process node_;
};

TEST_F(CollabInterop, NodeEditorsAndACairnPeerConvergeWithTheStoredDocument) {
  const std::uint64_t first_seed = env_or("CAIRN_COLLAB_SEED", 7);
  const std::uint64_t runs = env_or("CAIRN_COLLAB_RUNS", 3);
  for (auto seed = static_cast<std::uint32_t>(first_seed); seed < first_seed + runs; ++seed) {
    std::printf("seed %u (CAIRN_COLLAB_SEED=%u CAIRN_COLLAB_RUNS=1 replays it)\n", seed, seed);
    SCOPED_TRACE("seed " + std::to_string(seed));
    const std::string name = "doc-" + std::to_string(seed);
    const std::string room = dataset_ + "/" + name;
    NodePeer first(cairnd_->port(), room, owner_->token(), seed, 150);
    NodePeer second(cairnd_->port(), room, owner_->token(), seed + 1, 150);
    ASSERT_EQ(first.next().at("synced"), true);
    ASSERT_EQ(second.next().at("synced"), true);
    YClient cairn(cairnd_->port(), dataset_, name, owner_->token(), 1000 + seed);
    cairn.set_awareness(1, R"({"user":{"name":"cairn"}})");
    ASSERT_TRUE(cairn.pump_until([&] { return cairn.synced(); }));
    std::mt19937 random(seed);
    for (int i = 0; i < 150; ++i) {
      crdt::Type& text = cairn.doc().get("t", crdt::TypeKind::text);
      if (text.length > 0 && random() % 10 < 3) {
        const std::uint64_t at = random() % text.length;
        cairn.doc().text_delete(text, at,
                                std::min<std::uint64_t>(text.length - at, 1 + random() % 3));
      } else {
        cairn.insert(random() % (text.length + 1),
                     std::string(1 + random() % 3, 'A' + random() % 26));
      }
      cairn.pump_until([] { return false; }, std::chrono::milliseconds(random() % 3));
    }
    ASSERT_EQ(first.next().at("edited"), 150);
    ASSERT_EQ(second.next().at("edited"), 150);
    // Everyone ends at the same text, and the server's stored document is it.
    std::string a, b, c, stored;
    json::value peers;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    do {
      cairn.pump_until([] { return false; }, 50ms);
      const json::object first_report = first.report();
      a = std::string(first_report.at("text").as_string());
      peers = first_report.at("peers");
      b = std::string(second.report().at("text").as_string());
      c = cairn.text();
      stored = std::string(owner_->get("/api/collab/" + room).at("json").at("t").as_string());
    } while (!(a == b && b == c && c == stored) && std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(a, b);
    EXPECT_EQ(b, c);
    EXPECT_EQ(c, stored);
    EXPECT_FALSE(stored.empty());
    // Awareness reached the Node peers from each other and from Cairn's peer.
    std::vector<std::string> names = {"cairn", "node-" + std::to_string(seed),
                                      "node-" + std::to_string(seed + 1)};
    std::sort(names.begin(), names.end());  // as the peer sorts them
    EXPECT_EQ(peers, json::value_from(names));
  }
}

TEST_F(CollabInterop, NodeEditorsAndADeviceConvergeThroughDropsDelaysAndAServerRestart) {
  const std::uint64_t seed = env_or("CAIRN_COLLAB_SEED", 7);
  std::printf("seed %llu (CAIRN_COLLAB_SEED replays it)\n", static_cast<unsigned long long>(seed));
  FaultProxy proxy(cairnd_->port());
  // The document is entry "faults" of the device's document store "notes".
  const std::string room = dataset_ + "/notes/faults";
  NodePeer first(proxy.port(), room, owner_->token(), static_cast<std::uint32_t>(seed), 200);
  NodePeer second(proxy.port(), room, owner_->token(), static_cast<std::uint32_t>(seed) + 1, 200);
  ASSERT_EQ(first.next().at("synced"), true);
  ASSERT_EQ(second.next().at("synced"), true);
  // A libcairn device, live, through the same proxy. It starts offline: its first edits wait in
  // its outbox until it first syncs.
  DatabaseOptions stores;
  stores.stores = {{"notes", 1, MergePolicy::document()}};
  Database device = Database::open(dir_.path() / "device.db", stores);
  std::mt19937 random(static_cast<std::uint32_t>(seed) + 2);
  // Each edit is placed in the text as the device last read it. The live session may merge the
  // editors' deletes in between; an edit whose place no longer exists is placed again.
  const auto device_edits = [&](int count) {
    for (int i = 0; i < count; ++i) {
      for (bool placed = false; !placed;) {
        const std::uint64_t length =
            crdt::utf16(device.document_text("notes", "faults", "t")).size();
        auto tx = device.transaction();
        try {
          if (length > 0 && random() % 10 < 3) {
            const std::uint64_t at = random() % length;
            tx.edit_text("notes", "faults", at,
                         std::min<std::uint64_t>(length - at, 1 + random() % 3), "", "t");
          } else {
            tx.edit_text("notes", "faults", random() % (length + 1), 0,
                         std::string(1 + random() % 3, 'a' + random() % 26), "t");
          }
          tx.commit();
          placed = true;
        } catch (const std::out_of_range&) {
          // The text shrank since it was read.
        }
      }
    }
  };
  device_edits(50);
  SyncOptions sync_options;
  sync_options.server = "http://127.0.0.1:" + std::to_string(proxy.port());
  sync_options.token = owner_->token();
  sync_options.dataset = dataset_;
  sync_options.debounce = 5ms;
  sync_options.interval = 100ms;
  sync_options.backoff_base = 20ms;
  sync_options.backoff_cap = 200ms;
  sync_options.request_timeout = 2s;
  std::optional<SyncClient> sync(std::in_place, device, sync_options);
  // And it is in the document's live session, through the proxy too.
  std::optional<DocumentSession> session(std::in_place, device, "notes", "faults",
                                         json::object{{"user", {{"name", "device"}}}},
                                         sync_options);
  // While they edit: connections dropped (y-websocket reconnects and syncs again; the device
  // sends again what was not acknowledged), messages delayed, then the server restarts on the
  // same storage (a new port behind the proxy).
  FaultProxy::Weights weights;
  weights.pass = 80;
  weights.drop_before = 5;
  weights.drop_after = 5;
  weights.delay = 10;
  proxy.set_schedule(seed, weights);
  device_edits(150);
  ASSERT_EQ(first.next().at("edited"), 200);
  // The server goes down (every connection cut, new ones refused) and comes back.
  proxy.clear_schedule();
  proxy.set_mode(FaultProxy::Mode::refuse);
  proxy.cut();
  server::ServerOptions options;
  options.storage.data_dir = dir_.path() / "data";
  options.storage.durability = Durability::normal;
  options.rate_limit = 0;
  cairnd_.reset();
  cairnd_.emplace(std::move(options));
  proxy.set_target(cairnd_->port());
  proxy.set_mode(FaultProxy::Mode::pass);
  ASSERT_EQ(second.next().at("edited"), 200);
  ApiClient owner(cairnd_->port(), owner_->token());
  std::string a, b, c, stored;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  do {
    sync->sync_now();
    sync->wait_until_synced(1s);
    a = std::string(first.report().at("text").as_string());
    b = std::string(second.report().at("text").as_string());
    c = device.document_text("notes", "faults", "t");
    const ApiResult read = owner.get("/api/collab/" + room);
    stored = read.status == 200 && read.at("json").as_object().contains("t")
                 ? std::string(read.at("json").at("t").as_string())
                 : std::string();
  } while (!(a == b && b == c && c == stored && device.pending_count() == 0) &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(a, b);
  EXPECT_EQ(b, c);
  EXPECT_EQ(c, stored);
  EXPECT_EQ(device.pending_count(), 0u);
  EXPECT_FALSE(stored.empty());
  session.reset();
  sync.reset();
  // Exactly once: the audit log holds each of the device's 200 outbox updates once, whatever was
  // sent again after drops (appended, or "unchanged" when its session had brought it already).
  std::size_t from_device = 0;
  const ApiResult audit =
      owner.get("/api/history?dataset=" + dataset_ + "&document=notes/faults&limit=100000");
  ASSERT_EQ(audit.status, 200) << audit.body;
  for (const auto& version : audit.at("versions").as_array()) {
    if (version.at("clientId").as_string() == device.replica_id()) ++from_device;
  }
  EXPECT_EQ(from_device, 200u);
  std::printf("faults: %llu dropped before, %llu after\n",
              static_cast<unsigned long long>(proxy.dropped_before()),
              static_cast<unsigned long long>(proxy.dropped_after()));
  // A late joiner gets the whole document.
  YClient late(cairnd_->port(), dataset_, "notes/faults", owner_->token(), 99);
  ASSERT_TRUE(late.pump_until([&] { return late.text() == stored; }));
}

}  // namespace
}  // namespace cairn::test
