// Chains of steps: entry-level migration both ways, validation, and the schema file form.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/schema.hpp>

namespace cairn {
namespace {
namespace json = boost::json;

json::value j(std::string_view text) {
  return json::parse(text);
}

// The roadmap's userInformation store: v2 adds createdAt, v3 adds preferences.theme.
StoreSchema user_information() {
  return StoreSchema("userInformation", 3, MergePolicy::per_field(),
                     {{1, {MigrationOp::add_field("info.createdAt", "1970-01-01T00:00:00Z")}},
                      {2, {MigrationOp::add_field("info.preferences", j(R"({"theme":"dark"})"))}}});
}

TEST(MigrationChain, RunsEveryStepFromTheStoredVersionUp) {
  // The roadmap's sample code returns after its first step and would lose the second.
  EXPECT_EQ(migrate_entry(user_information(), j(R"({"info":{"name":"Ada"}})"), 1, 3),
            j(R"({"info":{"name":"Ada","createdAt":"1970-01-01T00:00:00Z",
                 "preferences":{"theme":"dark"}}})"));
  EXPECT_EQ(
      migrate_entry(user_information(), j(R"({"info":{"name":"Ada","createdAt":"2026-01-15"}})"), 2,
                    3),
      j(R"({"info":{"name":"Ada","createdAt":"2026-01-15","preferences":{"theme":"dark"}}})"));
}

TEST(MigrationChain, InvertibleStepsTranslateNewerEntriesDown) {
  const json::value v3 =
      j(R"({"info":{"name":"Ada","createdAt":"x","preferences":{"theme":"dark"}}})");
  EXPECT_EQ(migrate_entry(user_information(), v3, 3, 1), j(R"({"info":{"name":"Ada"}})"));
  EXPECT_TRUE(can_migrate_entry(user_information(), 3, 1));
}

TEST(MigrationChain, ANonInvertibleStepSaysSo) {
  StoreSchema schema("s", 2, {}, {{1, {MigrationOp::remove_field("legacy")}}});
  EXPECT_FALSE(can_migrate_entry(schema, 2, 1));
  try {
    migrate_entry(schema, j(R"({"a":1})"), 2, 1, "k");
    FAIL();
  } catch (const MigrationError& e) {
    EXPECT_EQ(e.store(), "s");
    EXPECT_EQ(e.from_version(), 2u);
    EXPECT_EQ(e.to_version(), 1u);
    EXPECT_EQ(e.key(), "k");
    EXPECT_NE(e.cause().find("not invertible"), std::string::npos) << e.cause();
  }
}

TEST(MigrationChain, AWholeStoreStepCannotMigrateOneEntry) {
  StoreSchema schema("s", 2, {},
                     {{1, {MigrationOp::transform_store("rekey", [](EntryMap m) { return m; })}}});
  EXPECT_FALSE(can_migrate_entry(schema, 1, 2));
  EXPECT_THROW(migrate_entry(schema, j("{}"), 1, 2), MigrationError);
}

TEST(MigrationChain, AFailingStepNamesStoreVersionsKeyAndCause) {
  try {
    migrate_entry(user_information(), j(R"({"info":"not an object"})"), 1, 3, "profile");
    FAIL();
  } catch (const MigrationError& e) {
    EXPECT_EQ(e.code(), ErrorCode::migration_failed);
    EXPECT_EQ(e.from_version(), 1u);
    EXPECT_EQ(e.to_version(), 2u);
    EXPECT_EQ(e.key(), "profile");
    EXPECT_NE(std::string(e.what()).find("userInformation"), std::string::npos);
    EXPECT_NE(e.cause().find("'info' is not an object"), std::string::npos) << e.cause();
  }
}

TEST(MigrationChain, StepsMustBeContiguousUpToTheVersion) {
  StoreSchema gap("s", 3, {}, {{1, {}}});  // 1 -> 2 but nothing to 3
  EXPECT_THROW(validate_store_schema(gap), Error);
  StoreSchema late("s", 3, {}, {{2, {}}});  // data at 1 cannot migrate, but the chain is valid
  EXPECT_NO_THROW(validate_store_schema(late));
  EXPECT_FALSE(can_migrate_entry(late, 1, 3));
  StoreSchema unordered("s", 3, {}, {{2, {}}, {1, {}}});
  EXPECT_THROW(validate_store_schema(unordered), Error);
}

TEST(SchemaFile, RoundTripsThroughJson) {
  const json::value file = j(R"({"stores":{
    "userInformation":{"version":3,"policy":{"merge":"field-lww"},"migrations":[
      {"from":1,"ops":[{"op":"add","path":"info.createdAt","value":"1970-01-01T00:00:00Z"}]},
      {"from":2,"ops":[{"op":"add","path":"info.preferences","value":{"theme":"dark"}}]}]},
    "playerStatistics":{"version":1,"policy":{"merge":"field-lww","counters":["xp"]}}}})");
  const auto schemas = schema_from_json(file);
  ASSERT_EQ(schemas.size(), 2u);
  EXPECT_EQ(schemas[0].name, "userInformation");
  EXPECT_EQ(schemas[0].migrations.size(), 2u);
  EXPECT_EQ(migrate_entry(schemas[0], j(R"({"info":{}})"), 1, 3),
            migrate_entry(user_information(), j(R"({"info":{}})"), 1, 3));
  EXPECT_EQ(schema_to_json(schemas), file);
}

TEST(SchemaFile, MistakesAreReportedClearly) {
  for (const char* bad : {
           R"([])",
           R"({"stores":{"s":{"version":0}}})",
           R"({"stores":{"s":{"version":2,"migrations":[{"from":3,"ops":[]}]}}})",
           R"({"stores":{"s":{"version":1,"polciy":{}}}})",
           R"({"stores":{"s":{"policy":{"merge":"newest"}}}})",
           R"({"stores":{"bad name":{}}})",
       }) {
    try {
      schema_from_json(j(bad));
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_argument) << bad;
    }
  }
}

}  // namespace
}  // namespace cairn
