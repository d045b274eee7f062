// cairn/testing.hpp — helpers for testing an application's use of Cairn.
//
// check_migration proves a migration chain on real data: it writes a fixture into a scratch
// database as the store at an old version, opens it with the current declaration (which migrates
// it, exactly as on a user's device), and compares the result with what is expected.
//
//   auto result = cairn::testing::check_migration(user_information_schema(), 1,
//       {{"profile", {{"info", {{"name", "Ada"}}}}}},
//       {{"profile", {{"info", {{"name", "Ada"}, {"createdAt", "..."}, ...}}}}});
//   EXPECT_TRUE(result.ok) << result.diff;
#pragma once

#include <boost/json/object.hpp>
#include <cairn/schema.hpp>
#include <cstdint>
#include <string>

namespace cairn::testing {

struct MigrationCheck {
  bool ok = false;
  std::string diff;            // one line per differing key: missing, unexpected, or both values
  boost::json::object actual;  // the store after migrating, key -> value
};

// `fixture` and `expected` map keys to values. Throws whatever the migration throws (for
// instance MigrationError) so that tests can assert failures too.
MigrationCheck check_migration(const StoreSchema& schema, std::uint32_t from_version,
                               const boost::json::object& fixture,
                               const boost::json::object& expected);

}  // namespace cairn::testing
