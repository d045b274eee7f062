// What every `cairn` command shares: how it opens databases, reads its input, and reports a
// missing entry. The commands themselves live in cli.cpp and migrate_command.cpp.
#pragma once

#include <boost/json/value.hpp>
#include <cairn/database.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::cli {

// Thrown by a command when the entry it was asked for does not exist (exit code 3).
struct NotFound {
  std::string message;
};

// Tools never create a database by accident, and read without taking the writer lock.
DatabaseOptions read_only_options();
DatabaseOptions writable_options();
// Whether `path` holds a database (an empty file holds none, as Database::open sees it), and
// the stores it declares (none when there is none).
bool database_exists(const std::string& path);
std::vector<StoreSchema> existing_stores(const std::string& path);
// Options for a command's `--create`: the database made when missing, declaring the stores it
// has and `store` when it is not among them.
DatabaseOptions creating_options(const std::string& path, StoreSchema store);

// "field-lww counters=xp"
std::string policy_name(const MergePolicy& policy);

// Throws Error(invalid_argument) naming `what` when `text` is not JSON.
boost::json::value parse_json_argument(const std::string& text, std::string_view what);
// The contents of `file`, or of stdin for "-"; Error(not_found) when it cannot be read.
std::string read_input(const std::string& file);

}  // namespace cairn::cli
