#include "protocol/datasets.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "foundation/json_text.hpp"
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
