// A structural diff of two JSON values, by field path, for `cairn migrate --dry-run`.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <vector>

namespace cairn::cli {

// One line per difference: "+ path: value" (added), "- path: value" (removed),
// "~ path: before -> after" (changed). Objects are compared member by member; anything else whole.
std::vector<std::string> json_diff(const boost::json::value& before,
                                   const boost::json::value& after);

}  // namespace cairn::cli
