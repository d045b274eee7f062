// The demo editor (/demo/editor) in a real browser: headless Chromium (Debian's chromium) opens
// two pages of it on a real cairnd and a libcairn device joins the same document (syncing, and
// in the document's session); all three type,
// one page comments, and everything converges — in both pages, on the device and in the stored
// document — while each page shows who is here and the comment; a screenshot of the page is
// taken and checked. Skips unless CAIRN_TEST_NODE_MODULES and CAIRN_TEST_DEMO_DIR (the built
// demo: scripts/build-demo.sh) are set and chromium is installed (scripts/test.sh sees to all).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <cstdlib>
#include <filesystem>

#include "crdt/comments.hpp"
#include "support/announced.hpp"
#include "support/api_client.hpp"
#include "support/in_process_cairnd.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

TEST(DemoBrowser, TwoPagesAndADeviceEditTogetherAndThePageShowsThePeersAndTheComment) {
  const char* modules = std::getenv("CAIRN_TEST_NODE_MODULES");
  const char* demo = std::getenv("CAIRN_TEST_DEMO_DIR");
  if (modules == nullptr || demo == nullptr || !std::filesystem::exists("/usr/bin/chromium")) {
    GTEST_SKIP() << "needs CAIRN_TEST_NODE_MODULES, CAIRN_TEST_DEMO_DIR and chromium "
                    "(scripts/test.sh)";
  }
  setenv("NODE_PATH", modules, 1);
  TempDir dir;
  server::ServerOptions options;
  options.storage.data_dir = dir.path() / "data";
  options.storage.durability = Durability::normal;
  options.rate_limit = 0;
  options.demo_dir = demo;
  InProcessCairnd cairnd(std::move(options));
  // The page is served; without a built demo it would say how to build it.
  ApiClient anonymous(cairnd.port());
  const auto screenshot = dir.path() / "demo.png";
  Process browser({"/usr/bin/node", CAIRN_TEST_JS_DIR "/browser_demo.cjs",
                   std::to_string(cairnd.port()), screenshot.string()},
                  false, true);
  const auto next = [&] {
    const std::optional<std::string> line = browser.read_line(60s);
    if (!line) throw std::runtime_error("the browser driver did not answer");
    json::object message = json::parse(*line).as_object();
    if (message.contains("error")) throw std::runtime_error(json::serialize(message));
    return message;
  };
  const json::object session = next();
  // A libcairn device: the page's document is entry "demo" of its document store "notes"; it
  // syncs (its outbox, the live channel) and is in the document's session, shown as "device".
  DatabaseOptions stores;
  stores.stores = {{"notes", 1, MergePolicy::document()}};
  Database device = Database::open(dir.path() / "device.db", stores);
  SyncOptions sync_options;
  sync_options.server = "http://127.0.0.1:" + std::to_string(cairnd.port());
  sync_options.token = std::string(session.at("token").as_string());
  sync_options.dataset = std::string(session.at("dataset").as_string());
  SyncClient sync(device, sync_options);
  Announced heard;
  Subscription changes = device.subscribe("notes", [&](const ChangeSet&) { heard.announce(); });
  DocumentSession joined(device, "notes", "demo",
                         json::object{{"user", {{"name", "device"}, {"color", "#8acb88"}}}},
                         sync_options);
  Subscription news = joined.subscribe([&] { heard.announce(); });
  ASSERT_TRUE(heard.wait([&] { return joined.connected(); })) << joined.error();
  auto tx = device.transaction();
  tx.edit_text("notes", "demo", 0, 0, "device says hi.");
  tx.commit();
  browser.write("go\n");
  const json::object shown = next();
  EXPECT_EQ(shown.at("a"), shown.at("b"));
  const std::string text(shown.at("a").as_string());
  for (const char* words : {"alice was here. ", " bob too.", "device says hi."})
    EXPECT_NE(text.find(words), std::string::npos) << words << " in " << text;
  EXPECT_TRUE(shown.at("editor").as_bool());
  // Who is here, in the page: both pages and the device.
  std::string peers = json::serialize(shown.at("peers"));
  for (const char* who : {"alice", "bob", "device"})
    EXPECT_NE(peers.find(who), std::string::npos) << who << " in " << peers;
  // The comment alice made shows on bob's page, quoting its text; the device reads it too.
  ASSERT_EQ(shown.at("comments").as_array().size(), 1u);
  EXPECT_NE(std::string(shown.at("comments").at(0).as_string()).find("hello from alice"),
            std::string::npos);
  const auto comments_of_device = [&] {
    crdt::Doc doc(1);
    const std::string state = device.document("notes", "demo");
    doc.apply_update_v1({reinterpret_cast<const std::uint8_t*>(state.data()), state.size()});
    return crdt::comments(doc);
  };
  ASSERT_TRUE(heard.wait([&] {
    return device.document_text("notes", "demo") == text && comments_of_device().size() == 1;
  })) << device.document_text("notes", "demo");
  const std::vector<crdt::Comment> comments = comments_of_device();
  EXPECT_EQ(text.substr(comments[0].start, comments[0].end - comments[0].start), "alice");
  EXPECT_EQ(ApiClient(cairnd.port(), sync_options.token)
                .get("/api/collab/" + sync_options.dataset + "/notes/demo")
                .at("json")
                .at("content"),
            json::value(text));
  // The device's edit also went through its outbox, exactly once.
  EXPECT_TRUE(sync.wait_until_synced(10s));
  EXPECT_EQ(device.pending_count(), 0u);
  // The screenshot: a real PNG of the page at the window's size.
  const json::object shot = next();
  EXPECT_GT(shot.at("bytes").as_int64(), 10'000);
  EXPECT_EQ(shot.at("width"), 1200);
  EXPECT_EQ(shot.at("height"), 800);
  EXPECT_TRUE(std::filesystem::exists(screenshot));
  browser.write("quit\n");
  browser.wait(10s);
}

TEST(DemoBrowser, WithoutABuiltDemoThePageSaysHowToBuildIt) {
  TempDir dir;
  server::ServerOptions options;
  options.storage.data_dir = dir.path() / "data";
  options.storage.durability = Durability::normal;
  InProcessCairnd cairnd(std::move(options));
  const ApiResult page = ApiClient(cairnd.port()).get("/demo/editor");
  EXPECT_EQ(page.status, 404);
  EXPECT_NE(json::serialize(page.body).find("scripts/build-demo.sh"), std::string::npos);
}

}  // namespace
}  // namespace cairn::test
