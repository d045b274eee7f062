#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cairn/error.hpp>
#include <cairn/merge_policy.hpp>

#include "foundation/json_text.hpp"

namespace cairn {
namespace json = boost::json;

bool MergePolicy::is_counter(std::string_view field) const {
  return std::find(counters.begin(), counters.end(), field) != counters.end();
}

json::value MergePolicy::to_json() const {
  json::object object;
  object["merge"] = kind == Kind::lww ? "lww" : kind == Kind::field_lww ? "field-lww" : "text";
  if (!counters.empty()) {
    json::array names;
    for (const auto& name : counters)
      names.emplace_back(name);
    object["counters"] = std::move(names);
  }
  return object;
}

MergePolicy MergePolicy::from_json(const json::value& value) {
  const json::object* object = value.if_object();
  const json::value* merge = object ? object->if_contains("merge") : nullptr;
  if (merge == nullptr || !merge->is_string()) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("a merge policy is an object with \"merge\": \"lww\", "
                            "\"field-lww\" or \"text\", not {}",
                            json_text(value)));
  }
  MergePolicy policy;
  if (merge->get_string() == "lww") {
    policy.kind = Kind::lww;
  } else if (merge->get_string() == "field-lww") {
    policy.kind = Kind::field_lww;
  } else if (merge->get_string() == "text") {
    policy.kind = Kind::text;
  } else {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("unknown merge policy \"{}\" (expected \"lww\", \"field-lww\" or "
                            "\"text\")",
                            std::string_view(merge->get_string())));
  }
  if (const json::value* counters = object->if_contains("counters")) {
    if (!counters->is_array()) {
      throw Error(ErrorCode::invalid_argument, "\"counters\" must be an array of field names");
    }
    for (const auto& name : counters->get_array()) {
      if (!name.is_string() || name.get_string().empty()) {
        throw Error(ErrorCode::invalid_argument, "\"counters\" must be an array of field names");
      }
      policy.counters.emplace_back(name.get_string());
    }
  }
  validate_policy(policy);
  return policy;
}

void validate_policy(MergePolicy& policy) {
  if (!policy.counters.empty() && policy.kind != MergePolicy::Kind::field_lww) {
    throw Error(ErrorCode::invalid_argument,
                "counter fields need the field-lww merge policy (MergePolicy::per_field)");
  }
  std::sort(policy.counters.begin(), policy.counters.end());
  policy.counters.erase(std::unique(policy.counters.begin(), policy.counters.end()),
                        policy.counters.end());
}

}  // namespace cairn
