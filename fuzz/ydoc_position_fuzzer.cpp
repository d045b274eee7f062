// libFuzzer target: Yjs relative positions and snapshots (crdt/position.hpp, crdt/doc.hpp). Any
// bytes must decode or throw DecodeError; what decodes encodes and decodes to the same, resolves
// against a document without crashing (or is refused with a typed error), and a decoded snapshot
// restores or is refused.
//
//   build/clang/fuzz/ydoc_position_fuzzer fuzz/corpus/ydoc_position -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>

#include "crdt/doc.hpp"
#include "crdt/position.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace crdt = cairn::crdt;
  const std::span<const std::uint8_t> bytes(data, size);
  crdt::Doc doc(5, false);
  crdt::Type& text = doc.get("text", crdt::TypeKind::text);
  doc.text_insert(text, 0, "hello world");
  doc.text_delete(text, 2, 3);
  doc.array_insert(doc.get("list", crdt::TypeKind::array), 0, {crdt::Any(1), crdt::Any("x")});
  try {
    const crdt::RelativePosition position = crdt::decode_relative_position(bytes);
    if (!(crdt::decode_relative_position(crdt::encode_relative_position(position)) == position)) {
      __builtin_trap();  // does not survive its own encoding
    }
    (void)crdt::absolute_position(doc, position);
  } catch (const crdt::DecodeError&) {
  } catch (const std::invalid_argument&) {  // names neither an item nor a type
  }
  try {
    const crdt::Snapshot snapshot = crdt::decode_snapshot(bytes);
    if (!(crdt::decode_snapshot(crdt::encode_snapshot(snapshot)) == snapshot)) __builtin_trap();
    (void)doc.restore(snapshot, 6);
  } catch (const crdt::DecodeError&) {
  } catch (const std::invalid_argument&) {  // a state this document has not reached
  }
  return 0;
}
