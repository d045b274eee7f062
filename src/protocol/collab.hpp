// Collaborative documents' messages: the y-websocket protocol that GET /api/collab/<dataset>/<doc>
// speaks (docs/protocol.md, "Collaborative documents"), as the y-protocols package defines it.
// Each binary WebSocket message holds one message, a lib0 varUint type first:
//
//   0 sync       a varUint step, then a varUint8Array:
//                  0 step 1 — the sender's state vector (answered by a step 2)
//                  1 step 2 — an update (format v1): what the other side's step 1 lacked
//                  2 update — an update (format v1) made since
//   1 awareness  a varUint8Array holding an awareness update: a varUint count, then for each
//                client a varUint client id, a varUint clock and a varString of JSON (its state,
//                or null when it left)
//   2 auth       a varUint 0 (permission denied), then a varString reason
//   3 query awareness   nothing more: asks for every peer's awareness state
//
// Transport-free. Decoders take untrusted input: anything malformed — an unknown type or step,
// a truncated message, bytes after the message, an awareness state that is not JSON or larger
// than kMaxAwarenessStateBytes — throws Refusal(invalid_request). Updates inside are carried as
// bytes; the crdt layer decodes them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crdt/lib0.hpp"
#include "protocol/errors.hpp"

namespace cairn::protocol {

// y-websocket's close codes for decisions reconnecting cannot change (its clients stop retrying
// on 4400-4499): no valid token, a role too low for the connection, no such document for you.
constexpr std::uint16_t kCloseCollabUnauthorized = 4401;
constexpr std::uint16_t kCloseCollabForbidden = 4403;
constexpr std::uint16_t kCloseCollabNotFound = 4404;
// An awareness state, as JSON text.
constexpr std::size_t kMaxAwarenessStateBytes = 64 * 1024;

enum class SyncStep : std::uint8_t { step1 = 0, step2 = 1, update = 2 };
struct SyncMessage {
  SyncStep step = SyncStep::step1;
  crdt::Bytes payload;  // step 1: an encoded state vector; else an update (v1)
};
struct AwarenessMessage {
  crdt::Bytes update;  // an awareness update (decode_awareness_update)
};
struct PermissionDeniedMessage {
  std::string reason;
};
struct QueryAwarenessMessage {};
using CollabMessage =
    std::variant<SyncMessage, AwarenessMessage, PermissionDeniedMessage, QueryAwarenessMessage>;

CollabMessage decode_collab_message(std::span<const std::uint8_t> bytes);
crdt::Bytes encode_collab_message(const CollabMessage& message);

// One client's entry in an awareness update.
struct AwarenessEntry {
  std::uint64_t client = 0;
  std::uint64_t clock = 0;
  std::string state;  // JSON text as sent; "null" when the client left
  bool left() const { return state == "null"; }
};
std::vector<AwarenessEntry> decode_awareness_update(std::span<const std::uint8_t> bytes);
crdt::Bytes encode_awareness_update(const std::vector<AwarenessEntry>& entries);

}  // namespace cairn::protocol
