// Opening files that are not healthy Cairn databases: a typed error, and the file untouched.
#include <sqlite3.h>

#include <fstream>

#include "store/fixture.hpp"

namespace cairn::test {
namespace {

using OpenErrorsTest = StoreTest;

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

TEST_F(OpenErrorsTest, AFileThatIsNotSqliteIsRefusedAndLeftUntouched) {
  const std::string text = "these are my notes, not a database\n" + std::string(5000, 'n');
  write_file(path(), text);
  EXPECT_EQ(error_code_of([&] { open(); }), ErrorCode::not_a_cairn_database);
  EXPECT_EQ(read_bytes(path()), text);
  EXPECT_FALSE(std::filesystem::exists(path().string() + "-wal"));
}

TEST_F(OpenErrorsTest, AnotherApplicationsSqliteFileIsRefusedAndLeftUntouched) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(other, "CREATE TABLE contacts(name TEXT); INSERT INTO contacts VALUES('Ada');",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(other);
  const std::string before = read_bytes(path());
  try {
    open();
    FAIL() << "expected not_a_cairn_database";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_a_cairn_database);
    EXPECT_NE(std::string(e.what()).find("not a Cairn database"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_bytes(path()), before);
}

TEST_F(OpenErrorsTest, AFileFromANewerFormatIsRefusedAndLeftUntouched) {
  { open().put("journal", "a", json("1")); }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  const std::string before = read_bytes(path());
  EXPECT_EQ(error_code_of([&] { open(); }), ErrorCode::format_too_new);
  EXPECT_EQ(read_bytes(path()), before);
}

TEST_F(OpenErrorsTest, ADamagedHeaderIsAClearError) {
  { open().put("journal", "a", json("1")); }
  std::string bytes = read_bytes(path());
  for (int i = 0; i < 16; ++i)
    bytes[i] = 'X';  // "SQLite format 3\0" overwritten
  write_file(path(), bytes);
  EXPECT_EQ(error_code_of([&] { open(); }), ErrorCode::not_a_cairn_database);
  EXPECT_EQ(read_bytes(path()), bytes);
}

TEST_F(OpenErrorsTest, DamagedPagesAreReportedAsCorrupt) {
  {
    Database db = open();
    Transaction txn = db.transaction();
    for (int i = 0; i < 2000; ++i) {
      txn.put("journal", "entry-" + std::to_string(i),
              json(R"({"text":"some words to fill pages"})"));
    }
    txn.commit();
  }
  std::string bytes = read_bytes(path());
  ASSERT_GT(bytes.size(), 8u * 4096);
  for (std::size_t i = 2 * 4096; i < bytes.size(); i += 7)
    bytes[i] = static_cast<char>(0xA5);
  write_file(path(), bytes);
  const ErrorCode code = error_code_of([&] { open(); });
  EXPECT_EQ(code, ErrorCode::corrupt) << error_code_name(code);
  EXPECT_EQ(read_bytes(path()), bytes);
}

TEST_F(OpenErrorsTest, AnEmptyFileBecomesANewDatabase) {
  write_file(path(), "");
  Database db = open();
  db.put("journal", "a", json("1"));
  EXPECT_TRUE(db.contains("journal", "a"));
}

}  // namespace
}  // namespace cairn::test
