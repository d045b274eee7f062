#include "cli/pretty_json.hpp"

#include <boost/json.hpp>

#include "foundation/json_text.hpp"

namespace cairn::cli {
namespace {

void write(std::string& out, const boost::json::value& value, int indent, int depth) {
  const auto newline = [&](int level) {
    out += '\n';
    out.append(static_cast<std::size_t>(indent * level), ' ');
  };
  if (const auto* object = value.if_object(); object && !object->empty()) {
    out += '{';
    bool first = true;
    for (const auto& member : *object) {
      if (!first) out += ',';
      first = false;
      newline(depth + 1);
      out += json_text(boost::json::value(boost::json::string(member.key())));
      out += ": ";
      write(out, member.value(), indent, depth + 1);
    }
    newline(depth);
    out += '}';
  } else if (const auto* array = value.if_array(); array && !array->empty()) {
    out += '[';
    bool first = true;
    for (const auto& item : *array) {
      if (!first) out += ',';
      first = false;
      newline(depth + 1);
      write(out, item, indent, depth + 1);
    }
    newline(depth);
    out += ']';
  } else {
    append_json_text(out, value);
  }
}

}  // namespace

std::string pretty_json(const boost::json::value& value, int indent) {
  std::string out;
  write(out, value, indent, 0);
  return out;
}

}  // namespace cairn::cli
