#include "migration/field_path.hpp"

#include <fmt/format.h>

#include <cairn/error.hpp>

namespace cairn {

FieldPath FieldPath::parse(std::string_view text) {
  FieldPath path;
  if (text.empty()) return path;
  const bool pointer = text.front() == '/';
  const char separator = pointer ? '/' : '.';
  std::string_view rest = pointer ? text.substr(1) : text;
  while (true) {
    const auto end = rest.find(separator);
    std::string_view raw = rest.substr(0, end);
    std::string segment;
    if (pointer) {
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '~') {
          segment += raw[i];
        } else if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
          segment += raw[++i] == '0' ? '~' : '/';
        } else {
          throw Error(ErrorCode::invalid_argument,
                      fmt::format("bad escape in JSON Pointer '{}'", text));
        }
      }
    } else {
      segment = std::string(raw);
    }
    if (segment.empty()) {
      throw Error(ErrorCode::invalid_argument, fmt::format("empty field name in path '{}'", text));
    }
    path.segments_.push_back(std::move(segment));
    if (end == std::string_view::npos) break;
    rest = rest.substr(end + 1);
  }
  return path;
}

FieldPath FieldPath::parent() const {
  FieldPath parent = *this;
  if (!parent.segments_.empty()) parent.segments_.pop_back();
  return parent;
}

bool FieldPath::is_prefix_of(const FieldPath& other) const {
  if (segments_.size() > other.segments_.size()) return false;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i] != other.segments_[i]) return false;
  }
  return true;
}

bool FieldPath::same_parent_as(const FieldPath& other) const {
  if (segments_.size() != other.segments_.size()) return false;
  for (std::size_t i = 0; i + 1 < segments_.size(); ++i) {
    if (segments_[i] != other.segments_[i]) return false;
  }
  return true;
}

std::string FieldPath::text() const {
  std::string text;
  for (const auto& segment : segments_) {
    if (!text.empty()) text += '.';
    text += segment;
  }
  return text;
}

namespace {

boost::json::value* walk(boost::json::value& root, const std::vector<std::string>& segments,
                         std::size_t count) {
  boost::json::value* current = &root;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string& segment = segments[i];

    boost::json::object* object = current->if_object();
    if (object == nullptr) return nullptr;
    current = object->if_contains(segment);
    if (current == nullptr) return nullptr;
  }
  return current;
}

}  // namespace

boost::json::value* find_value(boost::json::value& root, const FieldPath& path) {
  return walk(root, path.segments(), path.segments().size());
}

boost::json::value* find_parent(boost::json::value& root, const FieldPath& path) {
  return walk(root, path.segments(), path.segments().size() - 1);
}

}  // namespace cairn
