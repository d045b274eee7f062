// Typed entries through Boost.JSON's value_from / value_to, with the roadmap's journal entry.
#include <boost/json.hpp>

#include "store/fixture.hpp"

namespace journal {

struct JournalEntry {
  std::string text;
  int mood = 0;
  std::vector<std::string> tags;
};

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& json,
                const JournalEntry& entry) {
  json = {
      {"text", entry.text}, {"mood", entry.mood}, {"tags", boost::json::value_from(entry.tags)}};
}

JournalEntry tag_invoke(const boost::json::value_to_tag<JournalEntry>&,
                        const boost::json::value& json) {
  const auto& object = json.as_object();
  return {boost::json::value_to<std::string>(object.at("text")),
          boost::json::value_to<int>(object.at("mood")),
          boost::json::value_to<std::vector<std::string>>(object.at("tags"))};
}

}  // namespace journal

namespace cairn::test {
namespace {

using TypedTest = StoreTest;

TEST_F(TypedTest, AnAppStructRoundTripsThroughTheStore) {
  const journal::JournalEntry written{"Ran 5 km by the river", 4, {"running", "outdoors"}};
  {
    Database db = open();
    Transaction txn = db.transaction();
    txn.put_as("journal", "2026/02/01/10:00", written);
    txn.commit();
  }
  Database db = open();
  auto read = db.get_as<journal::JournalEntry>("journal", "2026/02/01/10:00");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->text, written.text);
  EXPECT_EQ(read->mood, written.mood);
  EXPECT_EQ(read->tags, written.tags);
  EXPECT_FALSE(db.get_as<journal::JournalEntry>("journal", "2026/02/01/11:00"));
}

TEST_F(TypedTest, AValueOfTheWrongShapeIsATypedError) {
  Database db = open();
  db.put("journal", "k", json(R"({"text":"no mood"})"));
  EXPECT_EQ(error_code_of([&] { db.get_as<journal::JournalEntry>("journal", "k"); }),
            ErrorCode::invalid_value);
}

}  // namespace
}  // namespace cairn::test
