// `cairn status`, `cairn sync`, `cairn watch` and `cairn schema`.
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

// `cairn schema pull`: the dataset's schema, as a schema file (with `as_json`, the revision and
// who published it too). `cairn schema push`: publishes `schema_file` as its next revision.
void pull_schema(const std::string& path, const SyncArguments& arguments, bool as_json,
                 std::ostream& out);
void push_schema(const std::string& path, const std::string& schema_file,
                 const SyncArguments& arguments, bool as_json, std::ostream& out);

struct WatchArguments {
  std::string presence;   // this device's presence state (a JSON object); empty: none
  std::size_t count = 0;  // stop after this many changes and presence updates; 0: at SIGINT/SIGTERM
};
// Syncs live and prints the changes that arrive from the server and the peers' presence, a line
// each, until SIGINT or SIGTERM (or `count` lines).
void watch(const std::string& path, const SyncArguments& arguments, const WatchArguments& watch,
           bool as_json, std::ostream& out);

}  // namespace cairn::cli
