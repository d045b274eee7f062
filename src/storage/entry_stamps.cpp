#include "storage/entry_stamps.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "foundation/json_text.hpp"

namespace cairn {
namespace json = boost::json;

std::string encode_entry_stamps(const EntryStamps& stamps) {
  if (stamps.empty()) return {};
  json::object object;
  if (!stamps.fields.empty()) {
    json::array fields;
    fields.reserve(stamps.fields.size());
    for (const auto& field : stamps.fields) {
      fields.push_back(json::array{json::string(field.name), field.stamp.hlc,
                                   field.stamp.replica_ref, field.deleted ? 1 : 0});
    }
    object["fields"] = std::move(fields);
  }
  if (stamps.floor) object["floor"] = json::array{stamps.floor->hlc, stamps.floor->replica_ref};
  return json_text(object);
}

EntryStamps decode_entry_stamps(std::string_view text, std::string_view store,
                                std::string_view key) {
  const auto damaged = [&] {
    return Error(ErrorCode::corrupt,
                 fmt::format("store '{}', key '{}': damaged field stamps", store, key));
  };
  std::error_code error;
  const json::value parsed = json::parse(text, error);
  const json::object* object = parsed.if_object();
  if (error || object == nullptr) throw damaged();
  const auto stamp = [&](const json::value& hlc, const json::value& ref) {
    if (!hlc.is_number() || !ref.is_number()) throw damaged();
    StoredStamp result{hlc.to_number<std::uint64_t>(error), ref.to_number<std::uint32_t>(error)};
    if (error) throw damaged();
    return result;
  };
  EntryStamps stamps;
  if (const json::value* fields = object->if_contains("fields")) {
    if (!fields->is_array()) throw damaged();
    for (const auto& item : fields->get_array()) {
      const json::array* parts = item.if_array();
      if (!parts || parts->size() != 4 || !(*parts)[0].is_string() || !(*parts)[3].is_number()) {
        throw damaged();
      }
      stamps.fields.push_back({std::string((*parts)[0].get_string()),
                               stamp((*parts)[1], (*parts)[2]),
                               (*parts)[3].to_number<int>(error) != 0});
      if (error) throw damaged();
    }
  }
  if (const json::value* floor = object->if_contains("floor")) {
    const json::array* parts = floor->if_array();
    if (!parts || parts->size() != 2) throw damaged();
    stamps.floor = stamp((*parts)[0], (*parts)[1]);
  }
  return stamps;
}

}  // namespace cairn
