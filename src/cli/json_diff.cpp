#include "cli/json_diff.hpp"

#include <boost/json.hpp>

#include "foundation/json_text.hpp"

namespace cairn::cli {
namespace json = boost::json;

namespace {

std::string join(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}

void diff(const json::value& before, const json::value& after, const std::string& path,
          std::vector<std::string>& lines) {
  if (before.is_object() && after.is_object()) {
    const json::object& a = before.get_object();
    const json::object& b = after.get_object();
    for (const auto& member : a) {
      const json::value* other = b.if_contains(member.key());
      if (other == nullptr) {
        lines.push_back("- " + join(path, member.key()) + ": " + json_text(member.value()));
      } else {
        diff(member.value(), *other, join(path, member.key()), lines);
      }
    }
    for (const auto& member : b) {
      if (!a.contains(member.key())) {
        lines.push_back("+ " + join(path, member.key()) + ": " + json_text(member.value()));
      }
    }
    return;
  }
  if (before != after) {
    lines.push_back("~ " + (path.empty() ? std::string("<value>") : path) + ": " +
                    json_text(before) + " -> " + json_text(after));
  }
}

}  // namespace

std::vector<std::string> json_diff(const json::value& before, const json::value& after) {
  std::vector<std::string> lines;
  diff(before, after, "", lines);
  return lines;
}

}  // namespace cairn::cli
