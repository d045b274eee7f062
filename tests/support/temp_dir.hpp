// TempDir — a fresh directory for one test, removed afterwards.
#pragma once

#include <filesystem>

namespace cairn::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The file's bytes, for byte-for-byte comparisons.
std::string read_bytes(const std::filesystem::path& file);

}  // namespace cairn::test
