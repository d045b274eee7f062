// Accounts and access, black-box: guests, tokens, Google sign-in, datasets and every denial.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>

#include "server/auth/tokens.hpp"
#include "support/api_client.hpp"
#include "support/cairnd.hpp"
#include "support/in_process_cairnd.hpp"
#include "support/jwt_signer.hpp"
#include "support/manual_clock.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;

constexpr const char* kClientId = "cairn-test.apps.googleusercontent.com";

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json::object claims(std::string sub = "google-user-1") {
  const std::int64_t now = now_seconds();
  return {{"iss", "https://accounts.google.com"}, {"aud", kClientId}, {"sub", sub},
          {"email", "ada@example.com"},           {"iat", now - 10},  {"exp", now + 3600}};
}

class AuthTest : public ::testing::Test {
 protected:
  AuthTest() { std::ofstream(dir_ / "jwks.json") << json::serialize(signer_.jwks()); }
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--jwks", (dir_ / "jwks.json").string(), "--google-client-id",
                                     kClientId};
    args.insert(args.end(), extra.begin(), extra.end());
    cairnd_ = std::make_unique<Cairnd>(dir_ / "data", args);
  }
  std::uint16_t port() const { return cairnd_->port(); }
  ApiResult google(const std::string& id_token, const std::string& bearer = "") {
    ApiClient client(port(), bearer);
    return client.post("/api/auth/google", json::object{{"idToken", id_token}});
  }
  // The API shows no user count, so it is read from the server's database.
  std::size_t users() {
    return std::stoul(
        query_storage(test_storage_config(dir_ / "data"), "SELECT count(*) FROM users")
            .at(0)
            .at(0));
  }

  TempDir dir_;
  JwtSigner signer_;
  std::unique_ptr<Cairnd> cairnd_;
};

}  // namespace
}  // namespace cairn::test

namespace cairn::test {
namespace {

TEST_F(AuthTest, AGuestGetsATokenAndASeededProfile) {
  start();
  ApiClient anonymous(port());
  const ApiResult session = anonymous.post_text("/api/auth/guest", "");
  ASSERT_EQ(session.status, 201);
  EXPECT_EQ(session.at("token").as_string().size(), 43u);  // 256 bits, base64url
  EXPECT_GT(session.at("expiresAt").as_int64(), now_seconds() * 1000);
  ApiClient guest(port(), std::string(session.at("token").as_string()));
  const ApiResult full = guest.post("/api/sync/full", json::object{});
  EXPECT_EQ(full.at("userInformation").at("profile"), json::parse(R"({"displayName":"Guest"})"));
  EXPECT_EQ(guest.get("/api/me").at("kind"), "guest");
}

TEST_F(AuthTest, AProfileTemplateFileSeedsNewUsers) {
  std::ofstream(dir_ / "profile.json")
      << R"({"stores": {"playerStatistics": {"running": {"xp": 0, "level": 1}}}})";
  start({"--profile-template", (dir_ / "profile.json").string()});
  ApiClient guest = ApiClient::guest(port());
  const ApiResult full = guest.post("/api/sync/full", json::object{});
  EXPECT_EQ(full.at("playerStatistics").at("running"), json::parse(R"({"xp":0,"level":1})"));
}

TEST_F(AuthTest, TokensAreStoredOnlyAsHashes) {
  start();
  ApiClient guest = ApiClient::guest(port());
  cairnd_->process().signal(SIGTERM);
  ASSERT_EQ(cairnd_->process().wait(), 0);
  std::string bytes;
  if (testing_postgres()) {
    // Every row of every table of cairnd's, as text.
    const server::StorageConfig storage = test_storage_config(dir_ / "data");
    for (const auto& table : query_storage(storage,
                                           "SELECT tablename FROM pg_tables "
                                           "WHERE schemaname = 'public'")) {
      for (const auto& row : query_storage(storage, "SELECT t::text FROM " + table[0] + " t"))
        bytes += row[0];
    }
    EXPECT_NE(bytes.find(server::token_hash(guest.token())), std::string::npos);  // it looked
  } else {
    bytes = read_bytes(dir_ / "data" / "cairnd.db") + read_bytes(dir_ / "data" / "cairnd.db-wal");
  }
  EXPECT_EQ(bytes.find(guest.token()), std::string::npos);
}

TEST_F(AuthTest, RequestsWithoutAValidTokenAreUnauthorized) {
  start();
  ApiClient none(port());
  EXPECT_EQ(none.post("/api/sync/full", json::object{}).status, 401);
  EXPECT_EQ(none.post("/api/sync/full", json::object{}).error_code(), "unauthorized");
  ApiClient wrong(port(), "not-a-token");
  EXPECT_EQ(wrong.get("/api/sync/changes").status, 401);
  ApiClient malformed(port());
  EXPECT_EQ(malformed.call("GET", "/api/me", "").status, 401);
}

TEST_F(AuthTest, LogoutRevokesTheToken) {
  start();
  ApiClient guest = ApiClient::guest(port());
  EXPECT_EQ(guest.get("/api/me").status, 200);
  EXPECT_EQ(guest.post_text("/api/auth/logout", "").status, 204);
  const ApiResult after = guest.get("/api/me");
  EXPECT_EQ(after.status, 401);
  EXPECT_NE(after.at("error").at("message").as_string().find("revoked"), std::string::npos);
}

TEST_F(AuthTest, ExpiredTokensAreRefused) {
  // The real server in this process, so that its clock can be driven by hand.
  auto clock = std::make_shared<ManualClock>(1'800'000'000'000);
  server::ServerOptions options;
  options.storage.data_dir = dir_ / "data";
  options.clock = clock;
  options.token_lifetime = std::chrono::seconds(60);
  InProcessCairnd cairnd(options);
  ApiClient guest = ApiClient::guest(cairnd.port());
  EXPECT_EQ(guest.get("/api/me").status, 200);
  clock->advance(59'999);
  EXPECT_EQ(guest.get("/api/me").status, 200);  // the last millisecond of its life
  clock->advance(1);
  const ApiResult after = guest.get("/api/me");
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(after.error_code(), "unauthorized");
  EXPECT_NE(after.at("error").at("message").as_string().find("expired"), std::string::npos);
}

TEST_F(AuthTest, GoogleSignInGivesTheSameUserEachTime) {
  start();
  const ApiResult first = google(signer_.sign(claims()));
  ASSERT_EQ(first.status, 201) << json::serialize(first.body);
  const ApiResult second = google(signer_.sign(claims()));
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(first.at("userId"), second.at("userId"));
  EXPECT_NE(first.at("token"), second.at("token"));
  ApiClient user(port(), std::string(second.at("token").as_string()));
  EXPECT_EQ(user.get("/api/me").at("email"), "ada@example.com");
}

TEST_F(AuthTest, AGuestIsUpgradedInPlaceAndKeepsItsData) {
  start();
  ApiClient guest = ApiClient::guest(port());
  guest.post("/api/sync/full", json::parse(R"({"journal": {"k": {"t": "before signing in"}}})"));
  const ApiResult upgraded = google(signer_.sign(claims("google-user-2")), guest.token());
  ASSERT_EQ(upgraded.status, 200) << json::serialize(upgraded.body);
  EXPECT_EQ(upgraded.at("userId"), json::value(guest.user_id()));
  EXPECT_EQ(upgraded.at("upgraded"), true);
  ApiClient user(port(), std::string(upgraded.at("token").as_string()));
  EXPECT_EQ(user.post("/api/sync/full", json::object{}).at("journal").at("k"),
            json::parse(R"({"t":"before signing in"})"));
  EXPECT_EQ(user.get("/api/me").at("kind"), "google");
  // Signing in again later, without the guest token, finds the same user.
  EXPECT_EQ(google(signer_.sign(claims("google-user-2"))).at("userId"),
            json::value(guest.user_id()));
}

TEST_F(AuthTest, EveryForgedOrStaleGoogleTokenIsRefusedAndCreatesNobody) {
  start();
  JwtSigner stranger("test-key");  // same kid, different key
  const std::int64_t now = now_seconds();
  struct Case {
    const char* name;
    std::string token;
  };
  json::object expired = claims(), early = claims(), wrong_aud = claims(), wrong_iss = claims();
  expired["exp"] = now - 3600;
  early["iat"] = now + 3600;
  early["nbf"] = now + 3600;
  wrong_aud["aud"] = "someone-else.apps.googleusercontent.com";
  wrong_iss["iss"] = "https://evil.example.com";
  std::string tampered = signer_.sign(claims());
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  const std::vector<Case> cases = {
      {"expired", signer_.sign(expired)},
      {"not yet valid", signer_.sign(early)},
      {"wrong audience", signer_.sign(wrong_aud)},
      {"wrong issuer", signer_.sign(wrong_iss)},
      {"unknown kid", signer_.sign(claims(), "another-key")},
      {"bad signature", stranger.sign(claims())},
      {"tampered", tampered},
      {"alg none", signer_.unsigned_token(claims())},
      {"HS256 with the public key", signer_.sign_hs256(claims(), signer_.public_pem())},
      {"malformed", "not.a.jwt.at.all"},
      {"garbage", "%%%"},
      {"empty", ""},
  };
  const std::size_t before = users();
  for (const auto& c : cases) {
    const ApiResult result = google(c.token);
    EXPECT_EQ(result.status, 401) << c.name << ": " << json::serialize(result.body);
    EXPECT_EQ(result.error_code(), "invalid_id_token") << c.name;
  }
  EXPECT_EQ(users(), before);
}

TEST_F(AuthTest, GoogleSignInWithoutConfigurationSaysSo) {
  cairnd_ = std::make_unique<Cairnd>(dir_ / "plain");
  const ApiResult result = google(signer_.sign(claims()));
  EXPECT_EQ(result.status, 501);
  EXPECT_EQ(result.error_code(), "not_configured");
}

class DatasetTest : public AuthTest {
 protected:
  DatasetTest() {
    start();
    owner_ = std::make_unique<ApiClient>(ApiClient::guest(port()));
    editor_ = std::make_unique<ApiClient>(ApiClient::guest(port()));
    viewer_ = std::make_unique<ApiClient>(ApiClient::guest(port()));
    stranger_ = std::make_unique<ApiClient>(ApiClient::guest(port()));
    const ApiResult created = owner_->post("/api/datasets", json::object{{"name", "family"}});
    EXPECT_EQ(created.status, 201);
    dataset_ = std::string(created.at("datasetId").as_string());
    EXPECT_EQ(add(editor_->user_id(), "editor").status, 200);
    EXPECT_EQ(add(viewer_->user_id(), "viewer").status, 200);
  }
  ApiResult add(const std::string& user, const std::string& role, ApiClient* as = nullptr) {
    return (as ? as : owner_.get())
        ->post("/api/datasets/" + dataset_ + "/members",
               json::object{{"userId", user}, {"role", role}});
  }
  ApiResult write(ApiClient& client, const std::string& dataset) {
    return client.post("/api/sync/patch",
                       json::object{{"dataset", dataset},
                                    {"journal", json::object{{"added", json::object{{"k", 1}}}}}});
  }
  ApiResult read(ApiClient& client, const std::string& dataset) {
    return client.get("/api/sync/changes?dataset=" + dataset);
  }

  std::unique_ptr<ApiClient> owner_, editor_, viewer_, stranger_;
  std::string dataset_;
};

TEST_F(DatasetTest, MembersReachTheSharedDatasetByRole) {
  EXPECT_EQ(write(*owner_, dataset_).status, 200);
  EXPECT_EQ(write(*editor_, dataset_).status, 200);
  EXPECT_EQ(read(*viewer_, dataset_).status, 200);
  const ApiResult list = viewer_->get("/api/datasets");
  ASSERT_EQ(list.status, 200);
  bool found = false;
  for (const auto& d : list.at("datasets").as_array()) {
    if (d.at("datasetId") == json::value(dataset_)) found = d.at("role") == "viewer";
  }
  EXPECT_TRUE(found);
}

TEST_F(DatasetTest, AViewerCannotWrite) {
  const ApiResult result = write(*viewer_, dataset_);
  EXPECT_EQ(result.status, 403);
  EXPECT_EQ(result.error_code(), "forbidden");
}

TEST_F(DatasetTest, AnotherUsersDatasetIsAnsweredLikeAMissingOne) {
  const ApiResult foreign = read(*stranger_, dataset_);
  const ApiResult missing = read(*stranger_, "d000000000000000000000000");
  EXPECT_EQ(foreign.status, 404);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(foreign.error_code(), missing.error_code());
  EXPECT_EQ(write(*stranger_, owner_->dataset_id()).status, 404);  // a personal dataset too
  EXPECT_EQ(stranger_->get("/api/history?store=journal&key=k&dataset=" + dataset_).status, 404);
}

TEST_F(DatasetTest, ARemovedMemberLosesAccess) {
  EXPECT_EQ(owner_->del("/api/datasets/" + dataset_ + "/members/" + editor_->user_id()).status,
            204);
  EXPECT_EQ(write(*editor_, dataset_).status, 404);
  EXPECT_EQ(read(*editor_, dataset_).status, 404);
}

TEST_F(DatasetTest, OnlyOwnersManageMembers) {
  EXPECT_EQ(add(stranger_->user_id(), "viewer", editor_.get()).status, 403);
  EXPECT_EQ(add(stranger_->user_id(), "viewer", stranger_.get()).status, 404);
  EXPECT_EQ(add("u-nobody", "viewer").status, 404);
  EXPECT_EQ(add(stranger_->user_id(), "emperor").status, 400);  // invalid_request
  // A member may leave by itself.
  EXPECT_EQ(viewer_->del("/api/datasets/" + dataset_ + "/members/" + viewer_->user_id()).status,
            204);
}

}  // namespace
}  // namespace cairn::test
