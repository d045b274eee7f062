// The real Server in this process, for what a separate process cannot show: requests run off the
// network threads, and the change feed hears each durable commit that came in over HTTP.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <future>
#include <thread>

#include "support/api_client.hpp"
#include "support/in_process_cairnd.hpp"
#include "support/sync_bodies.hpp"
#include "support/temp_dir.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;

json::object one_change() {
  return json::object{{"clientId", "phone"},
                      {"changes", json::array{change(1, "journal", "k", "put", {{"value", "v"}})}}};
}

TEST(ServerThreads, ARequestHeldInItsHandlerDoesNotHoldUpOtherConnections) {
  TempDir dir;
  server::ServerOptions options;
  options.storage.data_dir = dir / "data";
  options.http.threads = 1;  // one network thread serves every connection
  InProcessCairnd cairnd(options);
  ApiClient guest = ApiClient::guest(cairnd.port());

  // A change feed listener that holds the request that committed until the test lets it go.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> holding{false};
  std::string heard_dataset;
  std::uint64_t heard_position = 0;
  auto subscription = cairnd.server().change_feed().subscribe(
      [&](std::string_view dataset, std::uint64_t position) {
        heard_dataset = dataset;
        heard_position = position;
        holding = true;
        holding.notify_all();
        released.wait();
      });
  int status = 0;
  std::thread writer([&] { status = guest.post("/api/sync/patch", one_change()).status; });
  holding.wait(false);

  ApiClient other(cairnd.port());
  EXPECT_EQ(other.get("/healthz").status, 200);  // answered while the other request is held
  release.set_value();
  writer.join();
  EXPECT_EQ(status, 200);
  EXPECT_EQ(heard_dataset, guest.dataset_id());
  EXPECT_GT(heard_position, 0u);
}

}  // namespace
}  // namespace cairn::test
