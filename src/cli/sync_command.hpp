// `cairn status` and `cairn sync`.
#pragma once

#include <ostream>
#include <string>

namespace cairn::cli {

struct SyncArguments {
  std::string server;
  std::string token;
  std::string dataset;
  bool full = false;  // pull the whole dataset again
};

// With `show_token`, prints only the kept bearer token (for a second device to join).
void show_status(const std::string& path, bool show_token, bool as_json, std::ostream& out);
void sync(const std::string& path, const SyncArguments& arguments, bool as_json, std::ostream& out);

}  // namespace cairn::cli
