// FieldPath — a path to a field inside a JSON value, as migration operations name them:
// "info.preferences.theme" (dot-separated) or a JSON Pointer ("/info/odd.name", with ~0 for '~'
// and ~1 for '/'). The empty path is the value itself.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace cairn {

class FieldPath {
 public:
  // Throws Error(invalid_argument) on an empty segment ("a..b") or a bad JSON Pointer escape.
  static FieldPath parse(std::string_view text);

  bool empty() const { return segments_.empty(); }
  const std::string& last() const { return segments_.back(); }
  FieldPath parent() const;
  bool is_prefix_of(const FieldPath& other) const;
  bool same_parent_as(const FieldPath& other) const;

  const std::vector<std::string>& segments() const { return segments_; }
  std::string text() const;  // dot form, for messages

  friend bool operator==(const FieldPath&, const FieldPath&) = default;

 private:
  std::vector<std::string> segments_;
};

// The value at `path`, or nullptr when a segment is missing or crosses a non-object.
boost::json::value* find_value(boost::json::value& root, const FieldPath& path);
// The value holding the last segment of a non-empty `path` (the root for a one-segment path), or
// nullptr as above.
boost::json::value* find_parent(boost::json::value& root, const FieldPath& path);

}  // namespace cairn
