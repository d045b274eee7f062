// The declarative operations (roadmap patterns A-D), forwards and backwards.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/migration.hpp>

namespace cairn {
namespace {
namespace json = boost::json;

json::value j(std::string_view text) {
  return json::parse(text);
}

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected a cairn::Error";
  return ErrorCode::io_error;
}

TEST(PatternA, AddFieldSetsADefaultWhereMissing) {
  const auto op = MigrationOp::add_field("createdAt", "1970-01-01T00:00:00Z");
  EXPECT_EQ(op.apply(j(R"({"name":"Ada"})")),
            j(R"({"name":"Ada","createdAt":"1970-01-01T00:00:00Z"})"));
  EXPECT_EQ(op.apply(j(R"({"createdAt":"2026-01-01"})")), j(R"({"createdAt":"2026-01-01"})"));
}

TEST(PatternA, AddFieldReachesNestedFields) {
  const auto op = MigrationOp::add_field("info.preferences", j(R"({"theme":"dark"})"));
  EXPECT_EQ(op.apply(j(R"({"info":{"name":"Ada"}})")),
            j(R"({"info":{"name":"Ada","preferences":{"theme":"dark"}}})"));
  EXPECT_EQ(op.apply(j(R"({"info":{"name":"Ada","preferences":{"theme":"dark"}}})"), true),
            j(R"({"info":{"name":"Ada"}})"));
}

TEST(PatternA, AddFieldNeedsItsParentObject) {
  const auto op = MigrationOp::add_field("info.createdAt", "x");
  EXPECT_EQ(code_of([&] { op.apply(j(R"({"other":1})")); }), ErrorCode::invalid_value);
  EXPECT_EQ(code_of([&] { op.apply(j(R"({"info":[1]})")); }), ErrorCode::invalid_value);
  EXPECT_EQ(code_of([&] { op.apply(j("42")); }), ErrorCode::invalid_value);
}

TEST(PatternB, RenameFieldKeepsItsPositionAndValue) {
  const auto op = MigrationOp::rename_field("oldName", "newName");
  const json::value renamed = op.apply(j(R"({"a":1,"oldName":{"x":2},"z":3})"));
  EXPECT_EQ(json::serialize(renamed), R"({"a":1,"newName":{"x":2},"z":3})");
  EXPECT_EQ(json::serialize(op.apply(renamed, true)), R"({"a":1,"oldName":{"x":2},"z":3})");
}

TEST(PatternB, RenameAcrossObjects) {
  const auto op = MigrationOp::rename_field("info.name", "profile.displayName");
  EXPECT_EQ(op.apply(j(R"({"info":{"name":"Ada","age":3},"profile":{}})")),
            j(R"({"info":{"age":3},"profile":{"displayName":"Ada"}})"));
}

TEST(PatternB, RenameOfAMissingFieldDoesNothingAndNeverOverwrites) {
  const auto op = MigrationOp::rename_field("a", "b");
  EXPECT_EQ(op.apply(j(R"({"x":1})")), j(R"({"x":1})"));
  EXPECT_EQ(code_of([&] { op.apply(j(R"({"a":1,"b":2})")); }), ErrorCode::invalid_value);
  EXPECT_EQ(code_of([] { MigrationOp::rename_field("a", "a.b"); }), ErrorCode::invalid_argument);
}

TEST(PatternC, ObjectOfObjectsBecomesAnArrayWithIdsAndBack) {
  const auto op = MigrationOp::object_to_array("stats");
  const json::value before = j(R"({"stats":{"running":{"xp":10},"piano":{"xp":20}}})");
  const json::value after = op.apply(before);
  EXPECT_EQ(json::serialize(after),
            R"({"stats":[{"id":"running","xp":10},{"id":"piano","xp":20}]})");
  EXPECT_EQ(json::serialize(op.apply(after, true)), json::serialize(before));
  const auto inverse = MigrationOp::array_to_object("stats");
  EXPECT_EQ(json::serialize(inverse.apply(after)), json::serialize(before));
}

TEST(PatternC, TheWholeValueAndACustomIdField) {
  const auto op = MigrationOp::object_to_array("", "skill");
  EXPECT_EQ(op.apply(j(R"({"running":{"xp":1}})")), j(R"([{"skill":"running","xp":1}])"));
}

TEST(PatternC, ShapesThatCannotConvertAreErrors) {
  const auto to_array = MigrationOp::object_to_array("stats");
  EXPECT_EQ(code_of([&] { to_array.apply(j(R"({"stats":[1]})")); }), ErrorCode::invalid_value);
  EXPECT_EQ(code_of([&] { to_array.apply(j(R"({"stats":{"a":1}})")); }), ErrorCode::invalid_value);
  EXPECT_EQ(code_of([&] { to_array.apply(j(R"({"stats":{"a":{"id":"x"}}})")); }),
            ErrorCode::invalid_value);
  const auto to_object = MigrationOp::array_to_object("stats");
  EXPECT_EQ(code_of([&] { to_object.apply(j(R"({"stats":[{"id":"a"},{"id":"a"}]})")); }),
            ErrorCode::invalid_value);
  EXPECT_EQ(code_of([&] { to_object.apply(j(R"({"stats":[{"name":"a"}]})")); }),
            ErrorCode::invalid_value);
  EXPECT_EQ(to_array.apply(j(R"({"other":1})")), j(R"({"other":1})"));  // missing: nothing to do
}

TEST(PatternD, RemoveFieldIsInvertibleOnlyWithARestoreValue) {
  const auto lossy = MigrationOp::remove_field("deprecated");
  EXPECT_EQ(lossy.apply(j(R"({"a":1,"deprecated":true})")), j(R"({"a":1})"));
  EXPECT_FALSE(lossy.invertible());
  EXPECT_EQ(code_of([&] { lossy.apply(j(R"({"a":1})"), true); }), ErrorCode::invalid_value);
  const auto lens = MigrationOp::remove_field("deprecated", json::value(false));
  EXPECT_TRUE(lens.invertible());
  EXPECT_EQ(lens.apply(j(R"({"a":1})"), true), j(R"({"a":1,"deprecated":false})"));
}

TEST(FieldPaths, JsonPointersReachNamesWithDots) {
  const auto op = MigrationOp::rename_field("/odd.name", "/plain");
  EXPECT_EQ(op.apply(j(R"({"odd.name":1})")), j(R"({"plain":1})"));
  const auto escaped = MigrationOp::add_field("/a~1b", 1);
  EXPECT_EQ(escaped.apply(j("{}")), j(R"({"a/b":1})"));
  EXPECT_EQ(code_of([] { MigrationOp::add_field("a..b", 1); }), ErrorCode::invalid_argument);
  EXPECT_EQ(code_of([] { MigrationOp::add_field("", 1); }), ErrorCode::invalid_argument);
}

TEST(CustomSteps, EntryFunctionsRunBothWaysWhenGivenBoth) {
  const auto op = MigrationOp::transform_entry(
      "celsius to kelvin",
      [](json::value v) {
        v.as_object()["t"] = v.at("t").as_int64() + 273;
        return v;
      },
      [](json::value v) {
        v.as_object()["t"] = v.at("t").as_int64() - 273;
        return v;
      });
  EXPECT_EQ(op.apply(j(R"({"t":20})")), j(R"({"t":293})"));
  EXPECT_EQ(op.apply(j(R"({"t":293})"), true), j(R"({"t":20})"));
  const auto one_way = MigrationOp::transform_entry("lossy", [](json::value) { return j("0"); });
  EXPECT_FALSE(one_way.invertible());
}

TEST(CustomSteps, StoreFunctionsMayChangeKeys) {
  const auto op = MigrationOp::transform_store("split", [](EntryMap entries) {
    EntryMap out;
    for (auto& [key, value] : entries)
      out["v2/" + key] = std::move(value);
    return out;
  });
  EXPECT_FALSE(op.per_entry());
  EXPECT_EQ(op.apply_store({{"a", j("1")}}), (EntryMap{{"v2/a", j("1")}}));
  EXPECT_EQ(code_of([&] { op.apply(j("1")); }), ErrorCode::invalid_argument);
}

TEST(JsonForm, DeclarativeOperationsRoundTrip) {
  for (const auto& op :
       {MigrationOp::add_field("info.createdAt", "1970-01-01T00:00:00Z"),
        MigrationOp::rename_field("a", "b"), MigrationOp::remove_field("c"),
        MigrationOp::remove_field("c", json::value(0)), MigrationOp::object_to_array("s", "key"),
        MigrationOp::array_to_object("s")}) {
    const json::value form = op.to_json();
    EXPECT_EQ(MigrationOp::from_json(form).to_json(), form) << json::serialize(form);
  }
  EXPECT_EQ(code_of([] { MigrationOp::from_json(j(R"({"op":"explode"})")); }),
            ErrorCode::invalid_argument);
  EXPECT_EQ(code_of([] { MigrationOp::from_json(j(R"({"op":"add","path":"x"})")); }),
            ErrorCode::invalid_argument);
  EXPECT_EQ(
      code_of([] { MigrationOp::transform_entry("f", [](json::value v) { return v; }).to_json(); }),
      ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace cairn
