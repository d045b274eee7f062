// Fixed vectors: updates the real Yjs produced (tests/crdt/vectors, written by
// tests/js/make_vectors.cjs) with every content kind Yjs still writes. Cairn decodes them to
// exactly the content Yjs shows, encodes the same bytes again, and merges, diffs and reads state
// vectors from them as Yjs did. Needs no Node: the vectors are committed.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "crdt/doc.hpp"
#include "crdt/show.hpp"

namespace cairn::crdt {
namespace {
namespace json = boost::json;

Bytes vector_file(const std::string& name) {
  std::ifstream in(std::string(CAIRN_TEST_VECTORS_DIR) + "/" + name, std::ios::binary);
  if (!in) throw std::runtime_error("missing vector " + name);
  std::ostringstream text;
  text << in.rdbuf();
  const std::string bytes = text.str();
  return Bytes(bytes.begin(), bytes.end());
}

json::object expected(const std::string& which) {
  const Bytes text = vector_file("expected.json");
  json::object object = json::parse(std::string(text.begin(), text.end())).as_object();
  return object.at(which).as_object();
}

// Yjs's toJSON gives a subdocument as its Doc object; Cairn shows its guid.
json::value shown(Doc& doc, bool delta) {
  json::value value = json::parse(to_json(show_document(doc, {.kinds = {}, .delta = delta})));
  EXPECT_EQ(value.at("meta").at("sub"), json::parse(R"({"guid":"sub-1"})"));
  value.at("meta").as_object().erase("sub");
  return value;
}

TEST(YjsVectors, AYjsDocumentDecodesToTheContentYjsShowsAndEncodesToTheSameBytes) {
  Doc doc(7);
  doc.apply_update_v1(vector_file("base.update"));
  doc.apply_update_v1(vector_file("edit.update"));
  EXPECT_FALSE(doc.has_pending());
  EXPECT_EQ(shown(doc, false), expected("show"));
  EXPECT_EQ(shown(doc, true), expected("delta"));
  EXPECT_EQ(doc.encode_state_as_update_v1(), vector_file("state.update"));
  EXPECT_EQ(doc.encode_state_as_update_v1(Doc::decode_state_vector(vector_file("base.sv"))),
            vector_file("edit.update"));
  // Roots were inferred from their content.
  EXPECT_EQ(doc.get("title").kind, TypeKind::text);
  EXPECT_EQ(doc.get("meta").kind, TypeKind::map);
  EXPECT_EQ(doc.get("body").kind, TypeKind::xml_fragment);
  EXPECT_EQ(doc.get("list").kind, TypeKind::array);
}

TEST(YjsVectors, MergeDiffAndStateVectorsWithoutADocumentGiveYjssBytes) {
  const Bytes base = vector_file("base.update"), edit = vector_file("edit.update");
  const Bytes merged = merge_updates_v1({base, edit});
  EXPECT_EQ(merged, vector_file("merged.update"));
  EXPECT_EQ(encode_state_vector_from_update_v1(merged), vector_file("merged.sv"));
  EXPECT_EQ(diff_update_v1(merged, Doc::decode_state_vector(vector_file("base.sv"))),
            vector_file("diff.update"));
}

TEST(YjsVectors, FormatV2DecodesEncodesMergesDiffsAndConvertsAsYjsDoes) {
  Doc doc(7);
  doc.apply_update_v2(vector_file("base.update2"));
  doc.apply_update_v2(vector_file("edit.update2"));
  EXPECT_FALSE(doc.has_pending());
  EXPECT_EQ(shown(doc, true), expected("delta"));
  EXPECT_EQ(doc.encode_state_as_update_v2(), vector_file("state.update2"));
  EXPECT_EQ(doc.encode_state_as_update_v1(), vector_file("state.update"));
  EXPECT_EQ(doc.encode_state_as_update_v2(Doc::decode_state_vector(vector_file("base.sv"))),
            vector_file("edit.update2"));

  const Bytes base = vector_file("base.update2"), edit = vector_file("edit.update2");
  const Bytes merged = merge_updates_v2({base, edit});
  EXPECT_EQ(merged, vector_file("merged.update2"));
  EXPECT_EQ(encode_state_vector_from_update_v2(merged), vector_file("merged.sv"));
  EXPECT_EQ(diff_update_v2(merged, Doc::decode_state_vector(vector_file("base.sv"))),
            vector_file("diff.update2"));
  EXPECT_EQ(convert_update_v1_to_v2(vector_file("merged.update")),
            vector_file("converted.update2"));
  EXPECT_EQ(convert_update_v2_to_v1(merged), vector_file("converted.update"));

  // A v1 document read from v2 bytes and the reverse hold the same.
  Doc v1(8);
  v1.apply_update_v1(convert_update_v2_to_v1(vector_file("state.update2")));
  EXPECT_EQ(v1.encode_state_as_update_v2(), vector_file("state.update2"));
}

// Every prefix of a real update, and the update with a byte after it, is refused in either format,
// and the document stays as it was.
TEST(YjsVectors, TruncatedOrExtendedUpdatesAreRefusedAndChangeNothing) {
  for (const bool v2 : {false, true}) {
    SCOPED_TRACE(v2 ? "v2" : "v1");
    const Bytes update = vector_file(v2 ? "state.update2" : "state.update");
    const auto apply = [&](Doc& doc, const Bytes& bytes) {
      v2 ? doc.apply_update_v2(bytes) : doc.apply_update_v1(bytes);
    };
    Doc doc(7);
    doc.text_insert(doc.get("title", TypeKind::text), 0, "mine");
    const Bytes before = doc.encode_state_as_update_v1();
    for (std::size_t size = 0; size < update.size(); ++size) {
      EXPECT_THROW(apply(doc, Bytes(update.begin(), update.begin() + size)), DecodeError) << size;
    }
    Bytes extended = update;
    extended.push_back(0);
    EXPECT_THROW(apply(doc, extended), DecodeError);
    EXPECT_EQ(doc.encode_state_as_update_v1(), before);
    // And one format is not taken for the other.
    EXPECT_THROW(v2 ? doc.apply_update_v1(update) : doc.apply_update_v2(update), DecodeError);
    EXPECT_EQ(doc.encode_state_as_update_v1(), before);
  }
}

TEST(YjsVectors, ARootNamedAsAnotherKindShowsAsThatKind) {
  Doc doc(7);
  doc.apply_update_v1(vector_file("state.update"));
  const Any shown = show_document(
      doc, {.kinds = {{"list", TypeKind::map}, {"new", TypeKind::text}}, .delta = false});
  const json::value value = json::parse(to_json(shown));
  EXPECT_EQ(value.at("list"), json::object());  // an array's items have no keys
  EXPECT_EQ(value.at("new"), "");               // named but never written: empty
  EXPECT_THROW(show_document(doc, {.kinds = {{"title", TypeKind::map}}, .delta = false}),
               std::invalid_argument);  // already shown as a Text
}

}  // namespace
}  // namespace cairn::crdt
