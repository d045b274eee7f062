// libFuzzer target: Yjs updates and state vectors (crdt/), in format v1 — or v2 when built as
// ydoc_update_v2_fuzzer (CAIRN_FUZZ_UPDATE_V2). Any bytes must end in an applied update or
// DecodeError — never a crash, hang or other exception — and a refused update leaves the
// document exactly as it was; what applies encodes again and loads into a fresh document, in both
// formats.
//
//   build/clang/fuzz/ydoc_update_fuzzer fuzz/corpus/ydoc_update -max_total_time=60
//   build/clang/fuzz/ydoc_update_v2_fuzzer fuzz/corpus/ydoc_update_v2 -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <span>

#include "crdt/doc.hpp"

namespace {
namespace crdt = cairn::crdt;

#ifdef CAIRN_FUZZ_UPDATE_V2
constexpr auto kApply = &crdt::Doc::apply_update_v2;
constexpr auto kEncode = &crdt::Doc::encode_state_as_update_v2;
constexpr auto kStateVector = &crdt::encode_state_vector_from_update_v2;
constexpr auto kMerge = &crdt::merge_updates_v2;
constexpr auto kDiff = &crdt::diff_update_v2;
constexpr auto kConvert = &crdt::convert_update_v2_to_v1;
#else
constexpr auto kApply = &crdt::Doc::apply_update_v1;
constexpr auto kEncode = &crdt::Doc::encode_state_as_update_v1;
constexpr auto kStateVector = &crdt::encode_state_vector_from_update_v1;
constexpr auto kMerge = &crdt::merge_updates_v1;
constexpr auto kDiff = &crdt::diff_update_v1;
constexpr auto kConvert = &crdt::convert_update_v1_to_v2;
#endif

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  crdt::Doc doc(7);
  doc.text_insert(doc.get("text", crdt::TypeKind::text), 0, "base text");
  doc.map_set(doc.get("map", crdt::TypeKind::map), "k", crdt::Any(1));
  const crdt::Bytes before = (doc.*kEncode)({});
  try {
    (doc.*kApply)(bytes, nullptr);
    crdt::Doc copy(8);
    copy.apply_update_v1(doc.encode_state_as_update_v1());
    crdt::Doc copy_v2(9);
    copy_v2.apply_update_v2(doc.encode_state_as_update_v2());
  } catch (const crdt::DecodeError&) {
    if ((doc.*kEncode)({}) != before) __builtin_trap();  // changed, yet refused
  }
  try {
    (void)crdt::Doc::encode_state_vector(crdt::Doc::decode_state_vector(bytes));
  } catch (const crdt::DecodeError&) {
  }
  try {
    (void)kStateVector(bytes);
  } catch (const crdt::DecodeError&) {
  }
  try {  // without a document: merged with the base state, diffed, converted
    const crdt::Bytes merged = kMerge({bytes, before});
    (void)kDiff(merged, {{7, 4}});
    (void)kConvert(bytes);
  } catch (const crdt::DecodeError&) {
  }
  return 0;
}
