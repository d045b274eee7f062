// The live channel's messages: GET /api/live upgrades to a WebSocket whose text frames each hold
// one JSON object with a "type" (docs/protocol.md, "Live channel"). Transport-free, like every
// protocol message: cairnd encodes the server's messages and decodes the client's, the sync
// client the other way round.
//
// Client -> server
//   {"type":"subscribe","dataset"?,"cursor"?,"echo"?,"versions"?}
//                                                  dataset: the caller's personal one when absent;
//                                                  cursor: "0" = from the beginning, absent = now;
//                                                  versions: as in a sync request
//   {"type":"unsubscribe","dataset"?}
//   {"type":"presence","dataset"?,"state":{...}}   at most kMaxPresenceBytes of JSON
//   {"type":"patch","id":N,"body":{...}}           the body of POST /api/sync/patch
// Server -> client
//   {"type":"subscribed","dataset","cursor","connection"}
//   {"type":"changes","dataset","changes":[...],"cursor","heldBack"?}
//                                                  items as GET /api/sync/changes
//   {"type":"presence","dataset","peers":[{"connection","userId","state"}],"left":[...]}
//   {"type":"ack","id":N,"body":{...}}             the patch response
//   {"type":"error","code","message","dataset"?,"id"?}   the HTTP API's codes; id: a patch's
//
// Decoders take untrusted input. The client's messages: a frame that is not a JSON object throws
// Refusal(malformed_json), an unknown type or bad members Refusal(invalid_request) — the
// connection goes on. The server's messages: anything malformed throws Error(invalid_value).
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/errors.hpp"
#include "protocol/sync_request.hpp"
#include "protocol/sync_response.hpp"

namespace cairn::protocol {

constexpr std::size_t kMaxPresenceBytes = 4096;  // a presence state, as JSON text

// The channel's own close codes. Besides them, RFC 6455's: 1001 the server is shutting down,
// 1003 a binary frame, 1007 invalid UTF-8, 1008 too many frames, 1009 a frame over the size limit.
constexpr std::uint16_t kCloseUnauthorized = 4001;  // the token was revoked or expired
constexpr std::uint16_t kCloseSlowConsumer = 4002;  // fell behind: reconnect, resume from cursor

struct SubscribeMessage {
  std::string dataset;                  // empty: the caller's personal dataset
  std::optional<std::uint64_t> cursor;  // empty: from now on
  // false: entries whose state only this connection's own patches made are not pushed back to it
  // (docs/protocol.md, "Your own writes")
  bool echo = true;
  StoreVersions versions;  // the client's versions of its stores: changes come translated
};
struct UnsubscribeMessage {
  std::string dataset;
};
struct PresenceMessage {
  std::string dataset;
  boost::json::object state;
};
struct PatchMessage {
  std::uint64_t id = 0;  // the client's, echoed in the ack
  boost::json::object body;
};
using ClientMessage =
    std::variant<SubscribeMessage, UnsubscribeMessage, PresenceMessage, PatchMessage>;

std::string encode_client_message(const ClientMessage& message);
// A "patch" message around a body that is already JSON text (PatchRequestWriter's): the sync
// client's form, which encodes each change once. encode_client_message writes patches with it.
std::string encode_patch_message(std::uint64_t id, std::string_view body);
ClientMessage decode_client_message(std::string_view text, std::size_t max_depth = 64);

struct SubscribedMessage {
  std::string dataset;
  std::uint64_t cursor = 0;
  std::string connection;  // this connection's id, as its peers see it in presence
};
struct ChangesMessage {
  std::string dataset;
  FeedPage page;  // has_more is not sent: pushes follow
};
struct PresencePeer {
  std::string connection;
  std::string user_id;
  boost::json::object state;
};
struct PresenceUpdate {
  std::string dataset;
  std::vector<PresencePeer> peers;  // joined or changed (everyone present, right after subscribe)
  std::vector<std::string> left;    // connection ids
};
struct AckMessage {
  std::uint64_t id = 0;
  PatchResponse body;
};
struct LiveError {
  Code code = Code::invalid_request;
  std::string message;
  std::string dataset;              // empty when the error concerns no dataset
  std::optional<std::uint64_t> id;  // the patch it answers, when it answers one
};
using ServerMessage =
    std::variant<SubscribedMessage, ChangesMessage, PresenceUpdate, AckMessage, LiveError>;

std::string encode_server_message(const ServerMessage& message);
// The same for each message alone (pages and acks move but do not copy into a ServerMessage).
std::string encode_server_message(const SubscribedMessage& message);
std::string encode_server_message(const ChangesMessage& message);
std::string encode_server_message(const PresenceUpdate& message);
std::string encode_server_message(const AckMessage& message);
std::string encode_server_message(const LiveError& message);
ServerMessage decode_server_message(std::string_view text);

}  // namespace cairn::protocol
