// A dataset's schema over HTTP (docs/migrations.md, "Old and new apps at once"): published by an
// owner, read by every member, only forward, never stranding a stored entry; every denial; and
// the feed served at the versions a reader names.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/api_client.hpp"
#include "support/cairnd.hpp"

namespace cairn::test {
namespace {
namespace json = boost::json;

// journal v1 -> v2 renames text to body; v2 -> v3 adds a mood.
json::value journal_schema(int version) {
  json::array steps;
  if (version >= 2) {
    steps.push_back(json::parse(R"({"from": 1, "ops": [{"op": "rename", "from": "text",
                                                          "to": "body"}]})"));
  }
  if (version >= 3) {
    steps.push_back(
        json::parse(R"({"from": 2, "ops": [{"op": "add", "path": "mood", "value": 3}]})"));
  }
  json::object journal{{"version", version}, {"policy", json::object{{"merge", "field-lww"}}}};
  if (!steps.empty()) journal["migrations"] = std::move(steps);
  return json::object{{"stores", json::object{{"journal", std::move(journal)}}}};
}

class DatasetSchemaTest : public ::testing::Test {
 protected:
  DatasetSchemaTest() : cairnd_(dir_ / "data") {
    owner_ = std::make_unique<ApiClient>(ApiClient::guest(cairnd_.port()));
    editor_ = std::make_unique<ApiClient>(ApiClient::guest(cairnd_.port()));
    viewer_ = std::make_unique<ApiClient>(ApiClient::guest(cairnd_.port()));
    stranger_ = std::make_unique<ApiClient>(ApiClient::guest(cairnd_.port()));
    const ApiResult created = owner_->post("/api/datasets", json::object{{"name", "family"}});
    EXPECT_EQ(created.status, 201);
    dataset_ = std::string(created.at("datasetId").as_string());
    for (const auto& [client, role] :
         {std::pair{editor_.get(), "editor"}, std::pair{viewer_.get(), "viewer"}}) {
      EXPECT_EQ(owner_
                    ->post("/api/datasets/" + dataset_ + "/members",
                           json::object{{"userId", client->user_id()}, {"role", role}})
                    .status,
                200);
    }
  }
  std::string path() const { return "/api/datasets/" + dataset_ + "/schema"; }
  ApiResult put(ApiClient& client, const json::value& schema) {
    return client.call("PUT", path(), json::serialize(schema));
  }
  // A journal entry written at `version` by the editor.
  void write(const std::string& key, int version) {
    const ApiResult written = editor_->post(
        "/api/sync/patch",
        json::object{{"dataset", dataset_},
                     {"journal",
                      json::object{{"added", json::object{{key, {{"text", key}}}}},
                                   {"meta", json::object{{key, {{"schemaVersion", version}}}}}}}});
    ASSERT_EQ(written.status, 200) << written.body;
  }

  TempDir dir_;
  Cairnd cairnd_;
  std::unique_ptr<ApiClient> owner_, editor_, viewer_, stranger_;
  std::string dataset_;
};

TEST_F(DatasetSchemaTest, AnOwnerPublishesRevisionsThatEveryMemberReads) {
  const ApiResult none = viewer_->get(path());
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(none.at("revision"), 0);
  EXPECT_EQ(none.at("schema"), json::parse(R"({"stores": {}})"));  // the server has no default
  EXPECT_FALSE(none.body.as_object().contains("updatedBy"));

  const ApiResult first = put(*owner_, journal_schema(1));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.at("revision"), 1);
  const ApiResult again = put(*owner_, journal_schema(1));  // nothing new: the same revision
  EXPECT_EQ(again.at("revision"), 1);
  const ApiResult second = put(*owner_, journal_schema(3));
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.at("revision"), 2);

  for (ApiClient* member : {owner_.get(), editor_.get(), viewer_.get()}) {
    const ApiResult read = member->get(path());
    ASSERT_EQ(read.status, 200) << read.body;
    EXPECT_EQ(read.at("datasetId"), json::value(dataset_));
    EXPECT_EQ(read.at("revision"), 2);
    EXPECT_EQ(read.at("updatedBy"), json::value(owner_->user_id()));
    EXPECT_GT(read.at("updatedTime").to_number<std::int64_t>(), 0);
    const json::value& journal = read.at("schema").at("stores").at("journal");
    EXPECT_EQ(journal.at("version"), 3);
    EXPECT_EQ(journal.at("migrations").as_array().size(), 2u);
  }
}

TEST_F(DatasetSchemaTest, OnlyAnOwnerPublishesAndStrangersCannotTellTheDatasetExists) {
  for (ApiClient* member : {editor_.get(), viewer_.get()}) {
    const ApiResult refused = put(*member, journal_schema(1));
    EXPECT_EQ(refused.status, 403);
    EXPECT_EQ(refused.error_code(), "forbidden");
  }
  const ApiResult foreign = stranger_->get(path());
  const ApiResult missing = stranger_->get("/api/datasets/d000000000000000000000000/schema");
  EXPECT_EQ(foreign.status, 404);
  EXPECT_EQ(foreign.error_code(), "not_found");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.error_code(), "not_found");
  EXPECT_EQ(put(*stranger_, journal_schema(1)).status, 404);
  ApiClient anonymous(cairnd_.port(), "");
  EXPECT_EQ(anonymous.get(path()).status, 401);
  EXPECT_EQ(anonymous.call("PUT", path(), json::serialize(journal_schema(1))).status, 401);
  EXPECT_EQ(owner_->post(path(), journal_schema(1)).status, 405);
  EXPECT_EQ(owner_->get(path()).at("revision"), 0);  // nothing was published
}

TEST_F(DatasetSchemaTest, ASchemaThatDoesNotLoadIsRefusedAndSaysWhy) {
  const ApiResult not_json = owner_->call("PUT", path(), "{\"stores\": ");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(not_json.error_code(), "malformed_json");
  for (
      const char* bad : {
          R"({})",
          R"({"stores": {"journal": {"version": 0}}})",
          R"({"stores": {"journal": {"version": 3, "migrations": [{"from": 1, "ops": []}]}}})",
          R"({"stores": {"journal": {"version": 2, "migrations": [{"from": 1, "ops": [{"op": "explode"}]}]}}})",
          R"({"stores": {"bad name!": {"version": 1}}})",
      }) {
    const ApiResult refused = owner_->call("PUT", path(), bad);
    EXPECT_EQ(refused.status, 422) << bad;
    EXPECT_EQ(refused.error_code(), "invalid_schema") << bad;
    EXPECT_FALSE(refused.at("error").at("message").as_string().empty());
  }
  EXPECT_EQ(owner_->get(path()).at("revision"), 0);
}

TEST_F(DatasetSchemaTest, ASchemaOnlyMovesForward) {
  ASSERT_EQ(put(*owner_, journal_schema(2)).status, 200);
  const auto refused = [&](const json::value& schema, const std::string& says) {
    const ApiResult result = put(*owner_, schema);
    EXPECT_EQ(result.status, 409) << result.body;
    EXPECT_EQ(result.error_code(), "schema_conflict");
    EXPECT_EQ(result.at("error").at("store"), "journal");
    EXPECT_NE(std::string(result.at("error").at("message").as_string()).find(says),
              std::string::npos)
        << result.body;
  };
  refused(journal_schema(1), "go back from version 2 to 1");
  refused(json::parse(R"({"stores": {"other": {"version": 1}}})"), "no longer declared");
  json::value lww = journal_schema(2);
  lww.at("stores").at("journal").as_object()["policy"] = json::object{{"merge", "lww"}};
  refused(lww, "merge policy");
  json::value changed = journal_schema(3);
  changed.at("stores").at("journal").at("migrations").as_array()[0] =
      json::parse(R"({"from": 1, "ops": [{"op": "rename", "from": "text", "to": "note"}]})");
  refused(changed, "step 1 -> 2");
  EXPECT_EQ(owner_->get(path()).at("revision"), 1);
  // Forward is fine: a new step on top, and a new store.
  json::value next = journal_schema(3);
  next.at("stores").as_object()["habits"] = json::object{{"version", 1}};
  EXPECT_EQ(put(*owner_, next).at("revision"), 2);
}

TEST_F(DatasetSchemaTest, ASchemaThatWouldStrandStoredEntriesIsRefused) {
  write("old", 1);
  write("new", 3);
  // Version 2 cannot hold an entry written at version 3.
  ApiResult result = put(*owner_, journal_schema(2));
  EXPECT_EQ(result.status, 409) << result.body;
  EXPECT_EQ(result.error_code(), "schema_conflict");
  EXPECT_EQ(result.at("error").at("version"), 3);
  EXPECT_EQ(result.at("error").at("entries"), 1);
  // A chain that starts at version 2 cannot take the entry at version 1 up.
  json::value from_two = journal_schema(3);
  from_two.at("stores")
      .at("journal")
      .at("migrations")
      .as_array()
      .erase(from_two.at("stores").at("journal").at("migrations").as_array().begin());
  result = put(*owner_, from_two);
  EXPECT_EQ(result.status, 409) << result.body;
  EXPECT_EQ(result.at("error").at("version"), 1);
  EXPECT_NE(std::string(result.at("error").at("message").as_string()).find("cannot take"),
            std::string::npos);
  // The whole chain takes both.
  result = put(*owner_, journal_schema(3));
  EXPECT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(result.at("revision"), 1);
  // Once deleted, an entry strands nothing: the chain's first step may go.
  EXPECT_EQ(editor_
                ->post("/api/sync/patch",
                       json::object{{"dataset", dataset_},
                                    {"journal", json::object{{"deleted", json::array{"old"}}}}})
                .status,
            200);
  result = put(*owner_, from_two);
  EXPECT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(result.at("revision"), 2);
}

TEST_F(DatasetSchemaTest, TheFeedServesEachEntryAtTheVersionsTheReaderNames) {
  // journal v3 (text -> body, then mood added: both invertible); notes v2 drops "draft" (not).
  json::value schema = journal_schema(3);
  schema.at("stores").as_object()["notes"] = json::parse(R"({"version": 2,
      "policy": {"merge": "lww"},
      "migrations": [{"from": 1, "ops": [{"op": "remove", "path": "draft"}]}]})");
  ASSERT_EQ(put(*owner_, schema).status, 200);
  write("a", 1);
  const ApiResult written = editor_->post("/api/sync/patch", json::parse(R"({
      "journal": {"added": {"b": {"body": "b", "mood": 5}}, "meta": {"b": {"schemaVersion": 3}}},
      "notes": {"added": {"n": {"title": "plan"}}, "meta": {"n": {"schemaVersion": 2}}},
      "dataset": ")" + dataset_ + R"("})"));
  ASSERT_EQ(written.status, 200) << written.body;

  const auto feed = [&](const std::string& versions) {
    return viewer_->get("/api/sync/changes?dataset=" + dataset_ +
                        (versions.empty() ? "" : "&versions=" + versions));
  };
  const auto values = [](const ApiResult& page) {
    json::object by_key;
    for (const auto& item : page.at("changes").as_array())
      by_key[item.at("key").as_string()] = item.at("value");
    return json::value(by_key);
  };
  const ApiResult old = feed("journal:1,notes:1");
  ASSERT_EQ(old.status, 200) << old.body;
  EXPECT_EQ(values(old), json::parse(R"({"a": {"text": "a"}, "b": {"text": "b"}})"));
  EXPECT_EQ(old.at("heldBack"),
            json::parse(R"([{"store": "notes", "key": "n", "schemaVersion": 2}])"));
  const ApiResult current = feed("journal:3,notes:2");
  EXPECT_EQ(values(current),
            json::parse(R"({"a": {"body": "a", "mood": 3}, "b": {"body": "b", "mood": 5},
                           "n": {"title": "plan"}})"));
  EXPECT_FALSE(current.body.as_object().contains("heldBack"));
  // Without versions: every entry as it was written.
  EXPECT_EQ(values(feed("")), json::parse(R"({"a": {"text": "a"}, "b": {"body": "b", "mood": 5},
                                               "n": {"title": "plan"}})"));
  for (const char* bad : {"journal:0", "journal", "journal:x", "journal:1,"}) {
    const ApiResult refused = feed(bad);
    EXPECT_EQ(refused.status, 400) << bad;
    EXPECT_EQ(refused.at("error").at("code"), "invalid_request") << bad << refused.body;
  }
  const ApiResult bad_name = feed("bad%20name:1");
  EXPECT_EQ(bad_name.status, 422);
  EXPECT_EQ(bad_name.at("error").at("code"), "invalid_store");
}

}  // namespace
}  // namespace cairn::test
