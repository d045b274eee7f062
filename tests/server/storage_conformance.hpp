// The storage conformance suite: what every implementation of the server's Storage must do, so
// that the sync service behaves the same on each. A backend runs it by instantiating it with a
// factory (see sqlite_storage_test.cpp):
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StorageConformance,
//                            ::testing::Values(StorageBackend{"sqlite", make_sqlite}));
//
// Each test gets fresh, empty storage from the factory.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "server/storage/storage.hpp"
#include "support/temp_dir.hpp"

namespace cairn::test {

struct StorageBackend {
  std::string name;
  // Fresh storage under `dir` (a new, empty directory); opened again with the same `dir`, the same
  // storage. Null when the backend is not available here (the test is skipped).
  std::function<std::unique_ptr<server::Storage>(const std::filesystem::path& dir)> open;
};

class StorageConformance : public ::testing::TestWithParam<StorageBackend> {
 protected:
  void SetUp() override {
    storage_ = GetParam().open(dir_.path());
    if (!storage_) GTEST_SKIP() << GetParam().name << " is not available to this test run";
  }

  server::Storage& storage() { return *storage_; }

  TempDir dir_;
  std::unique_ptr<server::Storage> storage_;
};

}  // namespace cairn::test
