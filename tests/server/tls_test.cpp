// TLS end to end: a real cairnd serving HTTPS and WSS with a certificate from a throwaway CA made
// at test time; libcairn's clients verify it (with that CA trusted) and refuse it otherwise.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/cairn.hpp>
#include <condition_variable>
#include <mutex>

#include "net/http_client.hpp"
#include "net/websocket_client.hpp"
#include "support/api_client.hpp"
#include "support/cairnd.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

class TlsTest : public ::testing::Test {
 protected:
  TlsTest()
      : ca_(dir_.path(), "trusted"),
        other_(dir_.path(), "other"),
        cairnd_(dir_ / "server", {"--tls-cert", ca_.cert(), "--tls-key", ca_.key(), "--rate-limit",
                                  "0", "--log-level", "debug"}) {}

  net::TlsOptions trusting(const std::string& ca) const { return {true, ca}; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(cairnd_.port()); }
  // A guest's token, over HTTPS.
  std::string guest_token() {
    net::HttpClient https("127.0.0.1", cairnd_.port(), 10s, trusting(ca_.ca()));
    const net::HttpResult session = https.request("POST", "/api/auth/guest");
    EXPECT_EQ(session.status, 201) << session.error;
    return std::string(json::parse(session.body).at("token").as_string());
  }

  TempDir dir_;
  TestCa ca_;
  TestCa other_;  // a CA the server's certificate does not come from
  Cairnd cairnd_;
};

TEST_F(TlsTest, HttpsIsServedAndTheCertificateIsVerified) {
  net::HttpClient trusted("127.0.0.1", cairnd_.port(), 10s, trusting(ca_.ca()));
  EXPECT_EQ(trusted.request("GET", "/healthz").status, 200);
  net::HttpClient by_name("localhost", cairnd_.port(), 10s, trusting(ca_.ca()));
  EXPECT_EQ(by_name.request("GET", "/healthz").status, 200);

  // Another CA, or only the system's: refused, and said so.
  for (const std::string& ca : {other_.ca(), std::string()}) {
    net::HttpClient untrusting("127.0.0.1", cairnd_.port(), 10s, trusting(ca));
    const net::HttpResult refused = untrusting.request("GET", "/healthz");
    EXPECT_EQ(refused.status, 0);
    EXPECT_TRUE(refused.certificate_rejected);
    EXPECT_NE(refused.error.find("certificate could not be verified"), std::string::npos)
        << refused.error;
  }
  // Plain HTTP to the TLS port gets no answer.
  net::HttpClient plain("127.0.0.1", cairnd_.port(), 2s);
  EXPECT_EQ(plain.request("GET", "/healthz").status, 0);
}

TEST_F(TlsTest, TheLiveChannelRunsOverWssAndRefusesAnUnverifiedServer) {
  const std::string token = guest_token();
  net::WebSocketClient live("127.0.0.1", cairnd_.port(), "/api/live",
                            {{"Authorization", "Bearer " + token}}, 10s, trusting(ca_.ca()));
  live.send(R"({"type":"subscribe"})");
  const std::optional<std::string> subscribed = live.receive(10s);
  ASSERT_TRUE(subscribed.has_value());
  EXPECT_EQ(json::parse(*subscribed).at("type"), "subscribed");
  try {
    net::WebSocketClient untrusting("127.0.0.1", cairnd_.port(), "/api/live",
                                    {{"Authorization", "Bearer " + token}}, 10s,
                                    trusting(other_.ca()));
    FAIL() << "a certificate from an untrusted CA was accepted";
  } catch (const net::WebSocketRefused& refused) {
    EXPECT_NE(std::string(refused.what()).find("certificate could not be verified"),
              std::string::npos)
        << refused.what();
  }
}

TEST_F(TlsTest, TheSyncClientSyncsOverHttpsAndWss) {
  DatabaseOptions schema;
  schema.stores = {{"journal", 1, MergePolicy::whole_entry()}};
  SyncOptions options;
  options.server = url();
  options.ca_file = ca_.ca();
  options.interval = std::chrono::hours(1);  // what arrives, arrives by push
  Database laptop = Database::open(dir_ / "laptop.db", schema);
  SyncClient::sync_once(laptop, options);
  options.token = SyncClient::stored_token(laptop);
  Database phone = Database::open(dir_ / "phone.db", schema);
  std::mutex mutex;
  std::condition_variable heard;
  Subscription arrivals = phone.subscribe([&](const ChangeSet&) {
    std::lock_guard lock(mutex);
    heard.notify_all();
  });
  SyncClient phone_sync(phone, options);
  SyncClient laptop_sync(laptop, options);
  ASSERT_TRUE(phone_sync.wait_until_synced(10s));
  laptop.put("journal", "k", json::value("over TLS"));
  std::unique_lock lock(mutex);
  EXPECT_TRUE(heard.wait_for(lock, 10s, [&] {
    return phone.get("journal", "k") == json::value("over TLS") && phone_sync.status().live;
  }));

  // Without the CA: a clear error, not an outage to retry.
  Database stranger = Database::open(dir_ / "stranger.db", schema);
  SyncOptions untrusting = options;
  untrusting.ca_file.clear();
  try {
    SyncClient::sync_once(stranger, untrusting);
    FAIL() << "an unverified certificate was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::refused);
    EXPECT_NE(std::string(e.what()).find("certificate could not be verified"), std::string::npos)
        << e.what();
  }
}

TEST_F(TlsTest, ATokenInTheUrlNeverReachesTheLog) {
  const std::string token = guest_token();
  for (const std::string& sent : {token, std::string("not-a-token-but-secret")}) {
    try {
      net::WebSocketClient live("127.0.0.1", cairnd_.port(), "/api/live?token=" + sent, {}, 10s,
                                trusting(ca_.ca()));
      live.send(R"({"type":"subscribe"})");
      live.receive(10s);
    } catch (const net::WebSocketRefused&) {
      // the bad one is refused
    }
    net::HttpClient https("127.0.0.1", cairnd_.port(), 10s, trusting(ca_.ca()));
    https.request("GET", "/api/nowhere?token=" + sent);  // a 404, logged at debug
  }
  cairnd_.process().signal(SIGTERM);
  std::string log;
  while (const auto line = cairnd_.process().read_line(10s))
    log += *line + "\n";
  EXPECT_NE(log.find("cairnd stopped"), std::string::npos) << log;
  EXPECT_EQ(log.find(token), std::string::npos) << log;
  EXPECT_EQ(log.find("not-a-token-but-secret"), std::string::npos) << log;
}

}  // namespace
}  // namespace cairn::test
