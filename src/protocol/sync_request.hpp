// Sync requests (POST /api/sync/full and /api/sync/patch). Decoding takes untrusted JSON into
// changes, with every check that needs no storage: shapes, store names, keys, clocks' syntax,
// sequence numbering; it throws Refusal (invalid_request, invalid_store, invalid_key) and never
// anything else. Fuzzed by fuzz/sync_request_fuzzer.cpp. The sync client encodes its patch
// requests here too.
#pragma once

#include <boost/json/object.hpp>
#include <cairn/limits.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocol/wire.hpp"

namespace cairn::protocol {

// The schema version a client runs of each store (a request's "versions": {"journal": 2}): the
// server serves each entry translated to it (docs/migrations.md, "Old and new apps at once").
// Stores it does not name are served as stored.
using StoreVersions = std::map<std::string, std::uint32_t, std::less<>>;
boost::json::object versions_to_json(const StoreVersions& versions);
// Refusal(invalid_request) unless an object of valid store names to integers >= 1.
StoreVersions versions_from_json(const boost::json::value& json);
// The query parameter's form: "journal:2,notes:1".
StoreVersions versions_from_query(std::string_view text);

// Stores a client hydrates by manifest (docs/sync.md, "Large stores: manifests"), named in a
// request's "manifestStores": ["graph"]: the feed the answer carries leaves their entries out.
using StoreNames = std::set<std::string, std::less<>>;

struct SyncRequest {
  std::string dataset;    // empty: the caller's personal dataset
  std::string client_id;  // empty when the client sent none
  std::optional<std::uint64_t> cursor;
  std::vector<WireChange> changes;  // in order
  bool numbered = false;            // the changes carry consecutive sequence numbers (exactly-once)
  StoreVersions versions;           // empty: every entry as stored
  StoreNames manifest_stores;       // left out of the answer's feed
};

// Top-level members that are Cairn's or the roadmap's, never store names.
bool is_reserved_member(std::string_view name);
// Whether a request body writes anything (and so needs the editor role), before it is decoded.
bool request_writes(const boost::json::object& body);
// The dataset a request body names (empty: the caller's personal one), before it is decoded;
// Refusal(invalid_request) when "dataset" is not a string.
std::string request_dataset(const boost::json::object& body);

// `replica_for_anonymous` stamps changes when the request has no clientId.
// Both take the entries' values out of `body` rather than copy them.
SyncRequest decode_full_request(boost::json::object& body, const Limits& limits,
                                ReplicaInterner& replicas,
                                const std::string& replica_for_anonymous);
SyncRequest decode_patch_request(boost::json::object& body, const Limits& limits,
                                 ReplicaInterner& replicas,
                                 const std::string& replica_for_anonymous);

// The patch request the sync client sends (Cairn's form: its outbox, numbered):
//   {"clientId", "dataset", "cursor", "changes": [change, ...]}
struct PatchRequest {
  std::string client_id;
  std::string dataset;
  std::string cursor;  // "0": the feed from its beginning
  std::vector<WireChange> changes;
  StoreVersions versions;
  StoreNames manifest_stores;
};
// Without "cursor" when it is empty (the live channel's "patch" messages have none).
std::string encode_patch_request(const PatchRequest& request);

// A patch request's text built a change at a time, each change encoded once, so that the sync
// client can bound a batch by its size as it reads the outbox. encode_patch_request uses it.
class PatchRequestWriter {
 public:
  PatchRequestWriter(std::string_view client_id, std::string_view dataset, std::string_view cursor,
                     const StoreVersions& versions = {}, const StoreNames& manifest_stores = {});
  // Adds `change` unless the changes would then take more than `max_bytes` (the first change
  // is always added); returns whether it was.
  bool add(const StoredChange& change, std::size_t max_bytes = SIZE_MAX);
  std::size_t changes() const { return changes_; }
  // The request's JSON text; the writer is spent.
  std::string finish() &&;

 private:
  std::string text_;
  std::size_t changes_start_ = 0;  // where the first change begins
  std::size_t changes_ = 0;
};

// "123" or 123 -> 123; Refusal(invalid_request) otherwise.
std::uint64_t parse_cursor(const boost::json::value& value);
std::uint64_t parse_cursor(std::string_view text);

}  // namespace cairn::protocol
