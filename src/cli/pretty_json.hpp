// Indented JSON for people (json_text writes one line, which is right for machines).
#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace cairn::cli {

std::string pretty_json(const boost::json::value& value, int indent = 2);

}  // namespace cairn::cli
