#include "cli/command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace cairn::cli {
namespace json = boost::json;

DatabaseOptions read_only_options() {
  DatabaseOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  return options;
}

DatabaseOptions writable_options() {
  DatabaseOptions options;
  options.create_if_missing = false;
  return options;
}

bool database_exists(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error) && std::filesystem::file_size(path, error) > 0;
}

std::vector<StoreSchema> existing_stores(const std::string& path) {
  std::vector<StoreSchema> declared;
  if (database_exists(path)) {
    Database existing = Database::open(path, read_only_options());
    for (const auto& info : existing.stores())
      declared.push_back(info.schema);
  }
  return declared;
}

DatabaseOptions creating_options(const std::string& path, StoreSchema store) {
  DatabaseOptions options = writable_options();
  options.create_if_missing = true;
  options.stores = existing_stores(path);
  if (std::none_of(options.stores.begin(), options.stores.end(),
                   [&](const StoreSchema& s) { return s.name == store.name; })) {
    options.stores.push_back(std::move(store));
  }
  return options;
}

std::string policy_name(const MergePolicy& policy) {
  std::string name = policy.kind == MergePolicy::Kind::lww         ? "lww"
                     : policy.kind == MergePolicy::Kind::field_lww ? "field-lww"
                                                                   : "text";
  for (std::size_t i = 0; i < policy.counters.size(); ++i) {
    name += (i == 0 ? " counters=" : ",") + policy.counters[i];
  }
  return name;
}

json::value parse_json_argument(const std::string& text, std::string_view what) {
  std::error_code error;
  json::value value = json::parse(text, error);
  if (error) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("{} is not valid JSON ({}): {}", what, error.message(), text));
  }
  return value;
}

std::string read_input(const std::string& file) {
  std::ostringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ErrorCode::not_found, fmt::format("cannot read '{}'", file));
  text << in.rdbuf();
  return text.str();
}

}  // namespace cairn::cli
