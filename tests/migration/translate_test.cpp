// Translation between schema versions with the merge state: per-field stamps follow the fields,
// and an older client's change writes only what it touched (src/migration/translate.hpp).
#include "migration/translate.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace cairn {
namespace {
namespace json = boost::json;
using merge::Change;
using merge::Entry;
using merge::FieldStamp;
using merge::Stamp;

json::value j(std::string_view text) {
  return json::parse(text);
}

const std::string kPhone = "phone";
const std::string kLaptop = "laptop";

Stamp at(std::uint64_t ms, const std::string& replica = kPhone) {
  return {Timestamp(ms, 0), &replica};
}

// The roadmap's patterns: v2 renames name to title (B), v3 adds createdAt (A), v4 turns the
// links object into an array (C).
StoreSchema journal(MergePolicy policy = MergePolicy::per_field({"views"})) {
  return StoreSchema("journal", 4, std::move(policy),
                     {{1, {MigrationOp::rename_field("name", "title")}},
                      {2, {MigrationOp::add_field("createdAt", "1970-01-01")}},
                      {3, {MigrationOp::object_to_array("links")}}});
}

Entry entry(std::string_view value, std::uint32_t version, Stamp stamp,
            std::vector<FieldStamp> fields = {}) {
  Entry e;
  e.value = j(value);
  e.deleted = false;
  e.stamp = stamp;
  e.schema_version = version;
  e.fields = std::move(fields);
  return e;
}

Change patch(std::string_view set, std::uint32_t version, Stamp stamp) {
  Change change;
  change.op = Change::Op::patch;
  change.set = j(set).as_object();
  change.stamp = stamp;
  change.schema_version = version;
  return change;
}

TEST(Translate, StampsFollowTheirFieldsUpAndBackDown) {
  Entry e = entry(R"({"name":"a","note":"n","links":{}})", 1, at(20),
                  {{"links", at(20), false}, {"name", at(10), false}, {"note", at(20), false}});
  translate_entry(journal(), e, 4);
  EXPECT_EQ(e.value, j(R"({"title":"a","note":"n","links":[],"createdAt":"1970-01-01"})"));
  EXPECT_EQ(e.schema_version, 4u);
  // A default is stamped before any write (no floor here), so a v3 device's write wins over it.
  const std::vector<FieldStamp> up{{"createdAt", {Timestamp(1, 0), &kPhone}, false},
                                   {"links", at(20), false},
                                   {"note", at(20), false},
                                   {"title", at(10), false}};
  ASSERT_EQ(e.fields.size(), up.size());
  for (std::size_t i = 0; i < up.size(); ++i) {
    EXPECT_EQ(e.fields[i].name, up[i].name);
    EXPECT_EQ(e.fields[i].stamp, up[i].stamp) << up[i].name;
  }

  translate_entry(journal(), e, 1);
  EXPECT_EQ(e.value, j(R"({"name":"a","note":"n","links":{}})"));
  ASSERT_EQ(e.fields.size(), 3u);
  EXPECT_EQ(e.fields[1].name, "name");
  EXPECT_EQ(e.fields[1].stamp, at(10));
}

TEST(Translate, AFieldsTombstoneMovesWithARename) {
  Entry e = entry(R"({"note":"n"})", 1, at(30), {{"name", at(30), true}, {"note", at(5), false}});
  translate_entry(journal(), e, 2);
  ASSERT_EQ(e.fields.size(), 2u);
  EXPECT_EQ(e.fields[1].name, "title");
  EXPECT_TRUE(e.fields[1].deleted);
  EXPECT_EQ(e.fields[1].stamp, at(30));
}

TEST(Translate, UniformStampsStayImplicitAndLwwStoresCarryNone) {
  Entry e = entry(R"({"name":"a"})", 1, at(20));
  translate_entry(journal(MergePolicy::whole_entry()), e, 3);
  EXPECT_EQ(e.value, j(R"({"title":"a","createdAt":"1970-01-01"})"));
  EXPECT_TRUE(e.fields.empty());
  Entry renamed = entry(R"({"name":"a"})", 1, at(20));
  translate_entry(journal(), renamed, 2);
  EXPECT_TRUE(renamed.fields.empty());  // every field still at the entry's stamp
}

TEST(Translate, ANonInvertibleStepOrAMissingStepLeavesTheEntryAlone) {
  StoreSchema schema("journal", 2, MergePolicy::per_field(),
                     {{1, {MigrationOp::remove_field("draft")}}});
  Entry e = entry(R"({"text":"t"})", 2, at(20));
  EXPECT_THROW(translate_entry(schema, e, 1), MigrationError);
  EXPECT_EQ(e.value, j(R"({"text":"t"})"));
  EXPECT_EQ(e.schema_version, 2u);
  EXPECT_THROW(translate_entry(schema, e, 3), MigrationError);
}

TEST(Translate, AnOlderClientsPatchWritesOnlyTheFieldsItTouched) {
  const Entry current =
      entry(R"({"title":"a","createdAt":"2026-01-15","links":[{"id":"x","n":1}]})", 4, at(20));
  const Change translated =
      translate_change(journal(), current, patch(R"({"name":"b"})", 1, at(30)), 4);
  EXPECT_EQ(translated.op, Change::Op::patch);
  EXPECT_EQ(translated.schema_version, 4u);
  EXPECT_EQ(json::value(translated.set), j(R"({"title":"b"})"));
  EXPECT_TRUE(translated.unset.empty());

  // Merged, v4's fields keep their values.
  Entry merged = current;
  merge::apply_change(merged, translated, journal().policy);
  EXPECT_EQ(merged.value,
            j(R"({"title":"b","createdAt":"2026-01-15","links":[{"id":"x","n":1}]})"));

  // A v3 device's edit inside the restructured field.
  const Change nested = translate_change(
      journal(), current, patch(R"({"links":{"x":{"n":2},"y":{"n":3}}})", 3, at(31)), 4);
  EXPECT_EQ(json::value(nested.set), j(R"({"links":[{"id":"x","n":2},{"id":"y","n":3}]})"));
}

TEST(Translate, AnOlderClientsWholePutKeepsWhatItsVersionDoesNotKnow) {
  const Entry current = entry(R"({"title":"a","createdAt":"2026-01-15","links":[]})", 4, at(20));
  Change put;
  put.op = Change::Op::put;
  put.value = j(R"({"name":"c","links":{}})");
  put.stamp = at(30, kLaptop);
  put.schema_version = 1;
  const Change translated = translate_change(journal(), current, put, 4);
  EXPECT_EQ(translated.op, Change::Op::put);
  EXPECT_EQ(translated.value, j(R"({"title":"c","createdAt":"2026-01-15","links":[]})"));

  // On nothing, the put is the client's value translated up, defaults and all.
  const Change fresh = translate_change(journal(), Entry{}, put, 4);
  EXPECT_EQ(fresh.value, j(R"({"title":"c","createdAt":"1970-01-01","links":[]})"));
}

TEST(Translate, IncrementsStayIncrementsAndDeletesOnlyChangeVersion) {
  const Entry current = entry(R"({"title":"a","views":10,"links":[]})", 4, at(20));
  Change add;
  add.op = Change::Op::patch;
  add.add = j(R"({"views":5})").as_object();
  add.stamp = at(30);
  add.schema_version = 1;
  const Change translated = translate_change(journal(), current, add, 4);
  EXPECT_TRUE(translated.set.empty());
  EXPECT_EQ(json::value(translated.add), j(R"({"views":5})"));

  Change erase;
  erase.op = Change::Op::erase;
  erase.stamp = at(31);
  erase.schema_version = 2;
  EXPECT_EQ(translate_change(journal(), current, erase, 4).schema_version, 4u);
}

}  // namespace
}  // namespace cairn
