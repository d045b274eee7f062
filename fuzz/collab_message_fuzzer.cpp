// libFuzzer target: collaborative documents' y-websocket messages (protocol/collab) as cairnd
// handles them. Any message must end in a decoded message or protocol::Refusal — never a crash,
// hang or other exception; a decoded message encodes again to a message that decodes the same;
// an update inside is checked (would_change_v1) and applied to a document the way the server
// does, failing only with crdt::DecodeError and leaving the document as it was.
//
//   build/clang/fuzz/collab_message_fuzzer fuzz/corpus/collab_message -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "crdt/doc.hpp"
#include "crdt/lib0.hpp"
#include "protocol/collab.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace protocol = cairn::protocol;
  namespace crdt = cairn::crdt;
  protocol::CollabMessage message;
  try {
    message = protocol::decode_collab_message({data, size});
  } catch (const protocol::Refusal&) {
    return 0;
  }
  const crdt::Bytes again = protocol::encode_collab_message(message);
  if (protocol::encode_collab_message(protocol::decode_collab_message(again)) != again)
    std::abort();
  const auto* sync = std::get_if<protocol::SyncMessage>(&message);
  if (sync == nullptr) return 0;
  crdt::Doc doc(1);
  doc.text_insert(doc.get("t", crdt::TypeKind::text), 0, "seed");
  const crdt::Bytes before = doc.encode_state_as_update_v1();
  try {
    if (sync->step == protocol::SyncStep::step1) {
      (void)doc.encode_state_as_update_v1(crdt::Doc::decode_state_vector(sync->payload));
    } else if (doc.would_change_v1(sync->payload)) {
      doc.apply_update_v1(sync->payload);
    }
  } catch (const crdt::DecodeError&) {
    if (doc.encode_state_as_update_v1() != before) std::abort();
  }
  return 0;
}
