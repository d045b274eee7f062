// Datasets, their members, their schemas, and the history of an entry: the messages of
// /api/datasets, /api/datasets/:id/members, /api/datasets/:id/schema and /api/history
// (docs/protocol.md), and the small request bodies of the account routes. The server encodes the
// answers; the requests are decoded here, throwing Refusal(invalid_request) for a missing or
// mistyped member.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cairn/clock.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cairn::protocol {

// {"datasetId", "name", "owner", "personal", "role"}
struct DatasetMessage {
  std::string id;
  std::string name;
  std::string owner;
  bool personal = false;
  std::string role;  // the caller's: viewer, editor or owner
};
std::string encode_dataset(const DatasetMessage& dataset);
// {"datasets": [dataset, ...]}
std::string encode_dataset_list(const std::vector<DatasetMessage>& datasets);

// {"datasetId", "members": [{"userId", "role"}, ...]}
struct MembersMessage {
  std::string dataset_id;
  std::vector<std::pair<std::string, std::string>> members;  // user id, role
};
std::string encode_members(const MembersMessage& members);

// GET and PUT /api/datasets/:id/schema answer {"datasetId", "revision", "schema", "updatedBy",
// "updatedTime"}: the schema in the form `cairn migrate --schema` reads ({"stores": {...}}), and
// who published that revision when (ms since the epoch). Revision 0: the dataset has no schema of
// its own; `schema` is the server's default and there is no updatedBy or updatedTime.
struct DatasetSchemaMessage {
  std::string dataset_id;
  std::uint64_t revision = 0;
  boost::json::value schema;
  std::string updated_by;
  std::int64_t updated_ms = 0;
};
std::string encode_dataset_schema(const DatasetSchemaMessage& message);
// The CLI reads it back; Error(invalid_value) for anything else.
DatasetSchemaMessage decode_dataset_schema(std::string_view body);

// POST /api/datasets: {"name"}
std::string decode_dataset_name(const boost::json::object& body);
// POST /api/datasets/:id/members: {"userId", "role"}
struct MemberRequest {
  std::string user_id;
  std::string role;
};
MemberRequest decode_member_request(const boost::json::object& body);
// POST /api/auth/google: {"idToken"}
std::string decode_id_token(const boost::json::object& body);

// One version of an entry, as GET /api/history lists them, oldest first.
struct HistoryVersion {
  std::int64_t id = 0;
  std::string op;       // put, patch, delete
  std::string payload;  // JSON text of the change
  Timestamp hlc;
  std::string replica;
  std::string user_id;
  std::int64_t server_ms = 0;
  std::string outcome;    // applied, rejected, partial
  std::uint64_t seq = 0;  // feed position of the result; 0 when it changed nothing
  std::string client_id;  // empty when none
  std::uint64_t client_seq = 0;
  std::string resolution;  // client-won, server-won, or empty
};
// {"store", "key", "versions": [...]}, or for a collaborative document {"document", "versions"}
// (its updates: op "update", payload {"bytes": N}).
struct HistoryMessage {
  std::string store;  // empty for a document's
  std::string key;    // the document's name, for a document's
  std::vector<HistoryVersion> versions;
};
std::string encode_history(const HistoryMessage& history);

}  // namespace cairn::protocol
