#include "protocol/datasets.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "foundation/json_text.hpp"
#include "protocol/answer.hpp"
#include "protocol/errors.hpp"
#include "protocol/wire.hpp"

namespace cairn::protocol {
namespace json = boost::json;

namespace {

json::object dataset_json(const DatasetMessage& dataset) {
  return json::object{{"datasetId", dataset.id},
                      {"name", dataset.name},
                      {"owner", dataset.owner},
                      {"personal", dataset.personal},
                      {"role", dataset.role}};
}

std::string required_text(const json::object& body, std::string_view name) {
  const json::value* member = body.if_contains(name);
  if (member == nullptr || !member->is_string()) {
    throw Refusal(Code::invalid_request, fmt::format("the body needs a string \"{}\"", name));
  }
  return std::string(member->get_string());
}

}  // namespace

std::string encode_dataset(const DatasetMessage& dataset) {
  return json_text(dataset_json(dataset));
}

std::string encode_dataset_list(const std::vector<DatasetMessage>& datasets) {
  json::array list;
  for (const DatasetMessage& dataset : datasets)
    list.push_back(dataset_json(dataset));
  return json_text(json::object{{"datasets", std::move(list)}});
}

std::string encode_members(const MembersMessage& members) {
  json::array list;
  for (const auto& [user, role] : members.members)
    list.push_back(json::object{{"userId", user}, {"role", role}});
  return json_text(json::object{{"datasetId", members.dataset_id}, {"members", std::move(list)}});
}

std::string encode_dataset_schema(const DatasetSchemaMessage& message) {
  json::object out{{"datasetId", message.dataset_id},
                   {"revision", message.revision},
                   {"schema", message.schema}};
  if (message.revision > 0) {
    out["updatedBy"] = message.updated_by;
    out["updatedTime"] = message.updated_ms;
  }
  return json_text(out);
}

DatasetSchemaMessage decode_dataset_schema(std::string_view body) {
  constexpr std::string_view what = "a dataset's schema";
  const json::object object = parse_answer(body, what);
  DatasetSchemaMessage message;
  message.dataset_id = protocol::required_text(object, "datasetId", what);
  const json::value& revision = required_member(object, "revision", what);
  const json::value& schema = required_member(object, "schema", what);
  if (!revision.is_uint64() && !(revision.is_int64() && revision.get_int64() >= 0)) {
    invalid_answer("a dataset's schema has a \"revision\" that is not a count");
  }
  if (!schema.is_object()) invalid_answer("a dataset's schema has a \"schema\" that is no object");
  message.revision = revision.to_number<std::uint64_t>();
  message.schema = schema;
  message.updated_by = optional_text(object, "updatedBy", what);
  if (const json::value* time = object.if_contains("updatedTime"); time && time->is_int64()) {
    message.updated_ms = time->get_int64();
  }
  return message;
}

std::string decode_dataset_name(const json::object& body) {
  return required_text(body, "name");
}

MemberRequest decode_member_request(const json::object& body) {
  return {required_text(body, "userId"), required_text(body, "role")};
}

std::string decode_id_token(const json::object& body) {
  return required_text(body, "idToken");
}

std::string encode_history(const HistoryMessage& history) {
  json::array versions;
  for (const HistoryVersion& v : history.versions) {
    json::object version{{"id", v.id},
                         {"op", v.op},
                         {"payload", json::parse(v.payload)},
                         {"hlc", hlc_to_wire(v.hlc)},
                         {"replica", v.replica},
                         {"userId", v.user_id},
                         {"serverTime", v.server_ms},
                         {"outcome", v.outcome}};
    if (v.seq != 0) version["seq"] = v.seq;
    if (!v.client_id.empty()) version["clientId"] = v.client_id;
    if (v.client_seq != 0) version["clientSeq"] = v.client_seq;
    if (!v.resolution.empty()) version["resolution"] = v.resolution;
    versions.push_back(std::move(version));
  }
  if (history.store.empty()) {
    return json_text(json::object{{"document", history.key}, {"versions", std::move(versions)}});
  }
  return json_text(json::object{
      {"store", history.store}, {"key", history.key}, {"versions", std::move(versions)}});
}

}  // namespace cairn::protocol
