// What cairnd answers to sync: feed items and pages (GET /api/sync/changes), the answer to a patch
// (acknowledgement, the feed after the client's cursor, conflict decisions) and to a full sync
// (the roadmap's shape: stores as top-level members). The server encodes them, the sync client
// decodes them; docs/protocol.md shows each.
//
// Decoders read a server's answer: a malformed one throws Error(invalid_value) naming what is
// wrong.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "merge/entry.hpp"
#include "protocol/wire.hpp"

namespace cairn::protocol {

// One entry as the feed describes it: {"store", "key", "seq", "value"? (absent for a tombstone),
// "meta": entry metadata}.
struct FeedItem {
  std::string store;
  std::string key;
  std::uint64_t seq = 0;  // its position in the dataset's feed
  merge::Entry entry;
};
boost::json::object feed_item_to_json(const FeedItem& item);
FeedItem feed_item_from_json(const boost::json::value& json, ReplicaInterner& replicas);

// An entry the server keeps from a client (docs/migrations.md, "Old and new apps at once"): it is
// written at a version of its store that the client's version cannot read (no invertible way
// down). {"store", "key", "schemaVersion"}; it arrives once the client runs that version.
struct HeldBack {
  std::string store;
  std::string key;
  std::uint32_t version = 0;
};

// The "heldBack" member of an answer or a live "changes" message: added only when there are
// some; read (absent: none) with Error(invalid_value) when malformed.
void add_held_back(boost::json::object& object, const std::vector<HeldBack>& held_back);
std::vector<HeldBack> held_back_from_json(const boost::json::object& object);

// A page of the feed: the items after a cursor, whether more wait, and where to go on from.
struct FeedPage {
  ReplicaInterner replicas;  // the replica ids the items' stamps point to
  std::vector<FeedItem> changes;
  std::vector<HeldBack> held_back;  // items of the page kept from the client ("heldBack")
  bool has_more = false;
  std::uint64_t cursor = 0;
};

// {"store", "path", "resolution": "server-won" | "client-won"}: what the server decided about a
// change the client sent.
struct ConflictResolution {
  std::string store;
  std::string path;
  std::string resolution;
};

// The answer to POST /api/sync/patch.
struct PatchResponse {
  std::optional<std::uint64_t> ack;  // the client's last change applied (when it sent clientId)
  std::int64_t server_time = 0;
  std::optional<FeedPage> page;  // when the request carried a cursor
  std::uint64_t cursor = 0;      // without a page: the feed's position
  std::vector<ConflictResolution> conflicts;
};
std::string encode_patch_response(const PatchResponse& response);
PatchResponse decode_patch_response(std::string_view body);
// The same as JSON objects, for messages that carry a patch response inside (the live channel's
// "ack").
boost::json::object patch_response_to_json(const PatchResponse& response);
PatchResponse patch_response_from_json(const boost::json::object& object);

// The answer to GET /api/sync/changes: a page and the server's time.
std::string encode_changes_response(const FeedPage& page, std::int64_t server_time);

// The answer to POST /api/sync/full: every entry of the dataset (values under their store's
// top-level member, metadata under "meta"), the feed's position, the server's time, conflicts.
struct FullResponse {
  ReplicaInterner replicas;       // the replica ids the entries' stamps point to
  std::vector<FeedItem> entries;  // by store and key, tombstones included
  std::vector<HeldBack> held_back;
  std::uint64_t cursor = 0;
  std::int64_t server_time = 0;
  std::vector<ConflictResolution> conflicts;
  std::string client_id;  // echoed when the request had one
};
std::string encode_full_response(const FullResponse& response);

}  // namespace cairn::protocol
