// Decoding sync requests (POST /api/sync/full and /api/sync/patch) from untrusted JSON into
// changes, with every check that needs no storage: shapes, store names, keys, value sizes,
// clocks' syntax, sequence numbering. Throws ApiError (400 malformed, 422 over a limit or invalid
// name); never anything else. Fuzzed by fuzz/sync_request_fuzzer.cpp.
#pragma once

#include <boost/json/object.hpp>
#include <cairn/schema.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/wire.hpp"

namespace cairn::server {

struct SyncRequest {
  std::string dataset;    // empty: the caller's personal dataset
  std::string client_id;  // empty when the client sent none
  std::optional<std::uint64_t> cursor;
  std::vector<protocol::WireChange> changes;  // in order
  bool numbered = false;  // the changes carry consecutive sequence numbers (exactly-once)
};

// Top-level members that are Cairn's or the roadmap's, never store names.
bool is_reserved_member(std::string_view name);

// `replica_for_anonymous` stamps changes when the request has no clientId.
// Both take the entries' values out of `body` rather than copy them.
SyncRequest decode_full_request(boost::json::object& body, const Limits& limits,
                                protocol::ReplicaInterner& replicas,
                                const std::string& replica_for_anonymous);
SyncRequest decode_patch_request(boost::json::object& body, const Limits& limits,
                                 protocol::ReplicaInterner& replicas,
                                 const std::string& replica_for_anonymous);

// "123" or 123 -> 123; ApiError 400 otherwise.
std::uint64_t parse_cursor(const boost::json::value& value);
std::uint64_t parse_cursor(std::string_view text);

}  // namespace cairn::server
