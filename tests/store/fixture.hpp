// Shared declarations for the store tests: the roadmap's six stores.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cairn/cairn.hpp>

#include "support/manual_clock.hpp"
#include "support/temp_dir.hpp"

namespace cairn::test {

inline std::vector<StoreSchema> roadmap_stores() {
  return {
      {"journal", 1, MergePolicy::whole_entry()},
      {"cdagTopology", 1, MergePolicy::per_field()},
      {"playerStatistics", 1, MergePolicy::per_field({"xp"})},
      {"userInformation", 1, MergePolicy::per_field()},
      {"aiConfig", 1, MergePolicy::whole_entry()},
      {"integrations", 1, MergePolicy::per_field()},
  };
}

inline DatabaseOptions roadmap_options() {
  DatabaseOptions options;
  options.stores = roadmap_stores();
  return options;
}

class StoreTest : public ::testing::Test {
 protected:
  Database open(DatabaseOptions options = roadmap_options()) {
    return Database::open(path(), std::move(options));
  }
  std::filesystem::path path() const { return dir_ / "app.db"; }

  TempDir dir_;
};

inline boost::json::value json(std::string_view text) {
  return boost::json::parse(text);
}

template <class F>
ErrorCode error_code_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected a cairn::Error";
  return ErrorCode::invalid_argument;
}

}  // namespace cairn::test
