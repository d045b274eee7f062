// libFuzzer target: Yjs updates (format v1) and state vectors (crdt/). Any bytes must end in an
// applied update or DecodeError — never a crash, hang or other exception — and a refused update
// leaves the document exactly as it was; what applies encodes again and loads into a fresh
// document.
//
//   build/clang/fuzz/ydoc_update_fuzzer fuzz/corpus/ydoc_update -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <span>

#include "crdt/doc.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace crdt = cairn::crdt;
  const std::span<const std::uint8_t> bytes(data, size);
  crdt::Doc doc(7);
  doc.text_insert(doc.get("text", crdt::TypeKind::text), 0, "base text");
  doc.map_set(doc.get("map", crdt::TypeKind::map), "k", crdt::Any(1));
  const crdt::Bytes before = doc.encode_state_as_update_v1();
  try {
    doc.apply_update_v1(bytes);
    crdt::Doc copy(8);
    copy.apply_update_v1(doc.encode_state_as_update_v1());
  } catch (const crdt::DecodeError&) {
    if (doc.encode_state_as_update_v1() != before) __builtin_trap();  // changed, yet refused
  }
  try {
    (void)crdt::Doc::encode_state_vector(crdt::Doc::decode_state_vector(bytes));
  } catch (const crdt::DecodeError&) {
  }
  try {
    (void)crdt::encode_state_vector_from_update_v1(bytes);
  } catch (const crdt::DecodeError&) {
  }
  try {  // without a document: merged with the base state, and diffed
    const crdt::Bytes merged = crdt::merge_updates_v1({bytes, before});
    (void)crdt::diff_update_v1(merged, {{7, 4}});
  } catch (const crdt::DecodeError&) {
  }
  return 0;
}
