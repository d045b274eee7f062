// The demo editor (/demo/editor) in a real browser: headless Chromium (Debian's chromium) opens
// two pages of it on a real cairnd and a Cairn device joins the same document; all three type,
// one page comments, and everything converges — in both pages, on the device and in the stored
// document — while each page shows who is here and the comment; a screenshot of the page is
// taken and checked. Skips unless CAIRN_TEST_NODE_MODULES and CAIRN_TEST_DEMO_DIR (the built
// demo: scripts/build-demo.sh) are set and chromium is installed (scripts/test.sh sees to all).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>

#include "crdt/comments.hpp"
#include "support/api_client.hpp"
#include "support/in_process_cairnd.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/y_client.hpp"

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
  const std::string token(session.at("token").as_string());
  const std::string dataset(session.at("dataset").as_string());
  YClient device(cairnd.port(), dataset, "demo", token, 4242);
  ASSERT_TRUE(device.pump_until([&] { return device.synced(); }));
  device.set_awareness(1, R"({"user":{"name":"device","color":"#8acb88"}})");
  device.insert(0, "device says hi.");
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
  ASSERT_TRUE(device.pump_until([&] {
    return device.text() == text && crdt::comments(device.doc()).size() == 1;
  })) << device.text();
  const std::vector<crdt::Comment> comments = crdt::comments(device.doc());
  EXPECT_EQ(text.substr(comments[0].start, comments[0].end - comments[0].start), "alice");
  EXPECT_EQ(
      ApiClient(cairnd.port(), token).get("/api/collab/" + dataset + "/demo").at("json").at("t"),
      json::value(text));
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
