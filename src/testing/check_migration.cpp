#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/database.hpp>
#include <cairn/testing.hpp>
#include <cairn/transaction.hpp>
#include <cstdlib>

#include "foundation/json_text.hpp"

namespace cairn::testing {
namespace json = boost::json;

namespace {

class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "cairn-migration-check-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw Error(ErrorCode::io_error, "cannot create a scratch directory");
    }
    path_ = pattern;
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

MigrationCheck check_migration(const StoreSchema& schema, std::uint32_t from_version,
                               const json::object& fixture, const json::object& expected) {
  ScratchDirectory dir;
  const auto path = dir.path() / "check.db";
  {
    DatabaseOptions old;
    old.stores = {StoreSchema(schema.name, from_version, schema.policy)};
    Database db = Database::open(path, old);
    Transaction txn = db.transaction();
    for (const auto& [key, value] : fixture)
      txn.put(schema.name, key, value);
    txn.commit();
  }
  DatabaseOptions current;
  current.stores = {schema};
  Database db = Database::open(path, current);

  MigrationCheck check;
  db.for_each(schema.name, [&](std::string_view key, const json::value& value) {
    check.actual[key] = value;
    return true;
  });
  for (const auto& [key, want] : expected) {
    const json::value* got = check.actual.if_contains(key);
    if (got == nullptr) {
      check.diff +=
          fmt::format("- {}: missing, expected {}\n", std::string_view(key), json_text(want));
    } else if (*got != want) {
      check.diff += fmt::format("~ {}: got {}, expected {}\n", std::string_view(key),
                                json_text(*got), json_text(want));
    }
  }
  for (const auto& [key, got] : check.actual) {
    if (!expected.contains(key)) {
      check.diff += fmt::format("+ {}: unexpected {}\n", std::string_view(key), json_text(got));
    }
  }
  check.ok = check.diff.empty();
  return check;
}

}  // namespace cairn::testing
