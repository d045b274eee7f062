// Table — aligned columns for the CLI's readable output.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace cairn::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : rows_{std::move(headers)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "12.3 KiB" and friends.
std::string human_bytes(std::size_t bytes);

}  // namespace cairn::cli
