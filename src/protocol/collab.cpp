#include "protocol/collab.hpp"

#include <fmt/format.h>

#include <boost/json/parse.hpp>

#include "foundation/overloaded.hpp"

namespace cairn::protocol {

namespace {

enum MessageType : std::uint64_t { kSync = 0, kAwareness = 1, kAuth = 2, kQueryAwareness = 3 };
constexpr std::uint64_t kPermissionDenied = 0;
constexpr std::size_t kMaxJsonDepth = 64;

[[noreturn]] void malformed(const std::string& what) {
  throw Refusal(Code::invalid_request, "malformed y-websocket message: " + what);
}

crdt::Bytes copy(std::span<const std::uint8_t> bytes) {
  return {bytes.begin(), bytes.end()};
}

// Whether `text` is one JSON value, as JSON.parse would take it.
bool is_json(std::string_view text) {
  boost::json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  boost::json::parse(text, ec, {}, options);
  return !ec;
}

}  // namespace

CollabMessage decode_collab_message(std::span<const std::uint8_t> bytes) {
  try {
    crdt::Decoder in(bytes);
    CollabMessage message;
    switch (const std::uint64_t type = in.read_var_uint()) {
      case kSync: {
        const std::uint64_t step = in.read_var_uint();
        if (step > static_cast<std::uint64_t>(SyncStep::update)) {
          malformed(fmt::format("unknown sync step {}", step));
        }
        message = SyncMessage{static_cast<SyncStep>(step), copy(in.read_var_bytes())};
        break;
      }
      case kAwareness: {
        AwarenessMessage awareness{copy(in.read_var_bytes())};
        decode_awareness_update(awareness.update);  // checked here, relayed as it came
        message = std::move(awareness);
        break;
      }
      case kAuth:
        if (in.read_var_uint() != kPermissionDenied) malformed("unknown auth message");
        message = PermissionDeniedMessage{in.read_var_string()};
        break;
      case kQueryAwareness:
        message = QueryAwarenessMessage{};
        break;
      default:
        malformed(fmt::format("unknown message type {}", type));
    }
    if (!in.done()) malformed(fmt::format("{} bytes after the message", in.remaining()));
    return message;
  } catch (const crdt::DecodeError& e) {
    malformed(e.what());
  }
}

crdt::Bytes encode_collab_message(const CollabMessage& message) {
  crdt::Encoder out;
  std::visit(Overloaded{
                 [&](const SyncMessage& sync) {
                   out.write_var_uint(kSync);
                   out.write_var_uint(static_cast<std::uint64_t>(sync.step));
                   out.write_var_bytes(sync.payload);
                 },
                 [&](const AwarenessMessage& awareness) {
                   out.write_var_uint(kAwareness);
                   out.write_var_bytes(awareness.update);
                 },
                 [&](const PermissionDeniedMessage& denied) {
                   out.write_var_uint(kAuth);
                   out.write_var_uint(kPermissionDenied);
                   out.write_var_string(denied.reason);
                 },
                 [&](const QueryAwarenessMessage&) { out.write_var_uint(kQueryAwareness); },
             },
             message);
  return out.bytes();
}

std::vector<AwarenessEntry> decode_awareness_update(std::span<const std::uint8_t> bytes) {
  try {
    crdt::Decoder in(bytes);
    const std::uint64_t count = in.read_var_uint();
    // Each entry takes at least three bytes: a count beyond that is a lie, refused before any
    // allocation it would ask for.
    if (count > in.remaining() / 3)
      malformed("an awareness update counts more clients than it holds");
    std::vector<AwarenessEntry> entries;
    entries.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
      AwarenessEntry& entry = entries.emplace_back();
      entry.client = in.read_var_uint();
      entry.clock = in.read_var_uint();
      entry.state = in.read_var_string();
      if (entry.state.size() > kMaxAwarenessStateBytes) {
        malformed(fmt::format("an awareness state of more than {} bytes", kMaxAwarenessStateBytes));
      }
      if (!is_json(entry.state)) malformed("an awareness state that is not JSON");
    }
    if (!in.done()) malformed(fmt::format("{} bytes after the awareness update", in.remaining()));
    return entries;
  } catch (const crdt::DecodeError& e) {
    malformed(e.what());
  }
}

crdt::Bytes encode_awareness_update(const std::vector<AwarenessEntry>& entries) {
  crdt::Encoder out;
  out.write_var_uint(entries.size());
  for (const AwarenessEntry& entry : entries) {
    out.write_var_uint(entry.client);
    out.write_var_uint(entry.clock);
    out.write_var_string(entry.state);
  }
  return out.bytes();
}

}  // namespace cairn::protocol
