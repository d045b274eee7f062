// The CRDT layer on its own: lib0's encoding, the update format on fixed vectors, local edits,
// and bad input refused without touching the document.
#include <gtest/gtest.h>

#include <cmath>

#include "crdt/comments.hpp"
#include "crdt/doc.hpp"
#include "crdt/position.hpp"
#include "crdt/undo.hpp"

namespace cairn::crdt {
namespace {

Bytes bytes(std::initializer_list<int> values) {
  Bytes out;
  for (int v : values)
    out.push_back(static_cast<std::uint8_t>(v));
  return out;
}

TEST(Lib0, IntegersAndAnyValuesRoundTripAsYjsWritesThem) {
  Encoder encoder;
  encoder.write_var_uint(0);
  encoder.write_var_uint(127);
  encoder.write_var_uint(128);
  encoder.write_var_uint((std::uint64_t{1} << 53) - 1);
  encoder.write_var_int(-0.0);
  encoder.write_var_int(-65);
  EXPECT_EQ(Bytes(encoder.bytes().begin(), encoder.bytes().begin() + 4), bytes({0, 127, 128, 1}));
  Decoder decoder(encoder.bytes());
  EXPECT_EQ(decoder.read_var_uint(), 0u);
  EXPECT_EQ(decoder.read_var_uint(), 127u);
  EXPECT_EQ(decoder.read_var_uint(), 128u);
  EXPECT_EQ(decoder.read_var_uint(), (std::uint64_t{1} << 53) - 1);
  const double zero = decoder.read_var_int();
  EXPECT_TRUE(zero == 0 && std::signbit(zero));  // -0 survives, as in lib0
  EXPECT_EQ(decoder.read_var_int(), -65);
  EXPECT_TRUE(decoder.done());

  // Numbers: integers up to 2^31-1 as varInt (125), float32 when exact (124), else float64 (123).
  const auto tag = [](const Any& any) {
    Encoder e;
    e.write_any(any);
    return static_cast<int>(e.bytes()[0]);
  };
  EXPECT_EQ(tag(Any(2147483647.0)), 125);
  EXPECT_EQ(tag(Any(2147483648.0)), 124);
  EXPECT_EQ(tag(Any(0.5)), 124);
  EXPECT_EQ(tag(Any(1.1)), 123);
  // Object keys as JavaScript orders them: integer-like keys first, ascending.
  Encoder e;
  e.write_any(Any(Any::Object{{"b", 1}, {"2", 2}, {"a", 3}, {"1", 4}}));
  Decoder d(e.bytes());
  const Any back = d.read_any();
  const auto& object = std::get<Any::Object>(back.value);
  ASSERT_EQ(object.size(), 4u);
  EXPECT_EQ(object[0].first, "1");
  EXPECT_EQ(object[1].first, "2");
  EXPECT_EQ(object[2].first, "b");
  EXPECT_EQ(to_json(back), R"({"1":4,"2":2,"b":1,"a":3})");
  EXPECT_EQ(to_json(Any(Any::Array{1e21, 1.5e-7, 123456789012.0, -0.001, Any()})),
            "[1e+21,1.5e-7,123456789012,-0.001,null]");
}

TEST(Update, TheYjsVectorForAbcDecodesAndEncodesAgainByteForByte) {
  // Client 1 inserts "abc" into the Text "t" (docs: ../shared/notes/yjs-wire.md).
  const Bytes update =
      bytes({0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x03, 0x61, 0x62, 0x63, 0x00});
  Doc doc(99);
  doc.apply_update_v1(update);
  EXPECT_EQ(doc.get("t", TypeKind::text).to_string(), "abc");
  EXPECT_EQ(doc.encode_state_as_update_v1(), update);
  EXPECT_EQ(Doc::encode_state_vector(doc.state_vector()), bytes({0x01, 0x01, 0x03}));

  // The same edit made locally encodes the same bytes.
  Doc local(1);
  local.text_insert(local.get("t", TypeKind::text), 0, "abc");
  EXPECT_EQ(local.encode_state_as_update_v1(), update);
}

TEST(Update, TextCountsUtf16UnitsAndASplitSurrogatePairBecomesReplacementCharacters) {
  Doc doc(7);
  Type& text = doc.get("t", TypeKind::text);
  doc.text_insert(text, 0, "a😀b");
  EXPECT_EQ(text.length, 4u);     // the emoji is two UTF-16 units
  doc.text_insert(text, 2, "X");  // between the halves, as Yjs allows
  EXPECT_EQ(text.to_string(),
            "a\xEF\xBF\xBDX\xEF\xBF\xBD"
            "b");
  Doc other(8);
  other.apply_update_v1(doc.encode_state_as_update_v1());
  EXPECT_EQ(other.get("t", TypeKind::text).to_string(), text.to_string());
}

// Two updates of one writer, the second depending on the first: "hello", then " world" added
// and the "h" deleted ("ello world").
struct TwoUpdates {
  Doc writer{1};
  Bytes first;
  StateVector after_first;
  Bytes second;

  TwoUpdates() {
    Type& text = writer.get("t", TypeKind::text);
    writer.text_insert(text, 0, "hello");
    first = writer.encode_state_as_update_v1();
    after_first = writer.state_vector();
    writer.text_insert(text, 5, " world");
    writer.text_delete(text, 0, 1);
    second = writer.encode_state_as_update_v1(after_first);
  }
};

TEST(Update, StructsWaitForTheirDependenciesAndDeletesForTheirStructs) {
  const TwoUpdates u;

  Doc b(2);
  b.apply_update_v1(u.second);  // depends on the first
  EXPECT_TRUE(b.has_pending());
  EXPECT_EQ(b.get("t", TypeKind::text).to_string(), "");
  b.apply_update_v1(u.first);
  EXPECT_FALSE(b.has_pending());
  EXPECT_EQ(b.get("t", TypeKind::text).to_string(), "ello world");
  EXPECT_EQ(b.encode_state_as_update_v1(), u.writer.encode_state_as_update_v1());
}

// What a relay asks of an update: whether it changes the document — and if so, applied.
TEST(Update, AnUpdateIsAppliedOnlyWhenItChangesTheDocument) {
  const TwoUpdates u;
  Doc b(2);
  EXPECT_TRUE(b.apply_changes_v1(u.second));  // it waits: that is a change too
  EXPECT_TRUE(b.has_pending());
  EXPECT_TRUE(b.apply_changes_v1(u.first));
  EXPECT_EQ(b.get("t", TypeKind::text).to_string(), "ello world");
  EXPECT_FALSE(b.apply_changes_v1(u.first));
  EXPECT_FALSE(b.apply_changes_v1(u.writer.encode_state_as_update_v1()));
  const Bytes before = b.encode_state_as_update_v1();
  EXPECT_THROW(b.apply_changes_v1(bytes({0x01, 0x01, 0x01})), DecodeError);
  EXPECT_EQ(b.encode_state_as_update_v1(), before);
}

TEST(Update, UpdatesMergeAndDiffWithoutADocument) {
  const TwoUpdates u;
  // In either order, the merge loads to the same document.
  for (const Bytes& merged :
       {merge_updates_v1({u.second, u.first}), merge_updates_v1({u.first, u.second})}) {
    Doc b(2);
    b.apply_update_v1(merged);
    EXPECT_FALSE(b.has_pending());
    EXPECT_EQ(b.get("t", TypeKind::text).to_string(), "ello world");
    EXPECT_EQ(encode_state_vector_from_update_v1(merged),
              Doc::encode_state_vector(u.writer.state_vector()));
    // The diff against the first state holds what the second update brought.
    Doc c(3);
    c.apply_update_v1(u.first);
    c.apply_update_v1(diff_update_v1(merged, u.after_first));
    EXPECT_EQ(c.get("t", TypeKind::text).to_string(), "ello world");
  }
}

TEST(Update, MalformedUpdatesAreRefusedAndLeaveTheDocumentAsItWas) {
  Doc doc(5);
  doc.text_insert(doc.get("t", TypeKind::text), 0, "keep");
  const Bytes before = doc.encode_state_as_update_v1();
  const Bytes good =
      bytes({0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x03, 0x61, 0x62, 0x63, 0x00});
  std::vector<Bytes> bad;
  for (std::size_t cut = 0; cut < good.size(); ++cut)
    bad.emplace_back(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
  bad.push_back(bytes({0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01, 0x00}));  // a huge struct count
  bad.push_back(bytes({0x01, 0x01, 0x01, 0x00, 0x0B, 0x00}));              // content ref 11
  bad.push_back(bytes({0x01, 0x01, 0x01, 0x00, 0x07, 0x01, 0x01, 0x74, 0x09, 0x00}));  // type 9
  bad.push_back(bytes({0x01, 0x01, 0x01, 0x00, 0x84, 0x01, 0x05, 0x01, 0x61, 0x00}));  // self
  bad.push_back(bytes({0x01, 0x01, 0x01, 0x00, 0x08, 0x01, 0x01, 0x74, 0x01, 0x80, 0x00}));
  bad.push_back(bytes({0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x7F, 0x61}));  // long
  // A format whose value is not JSON (Yjs's JSON.parse throws on it).
  bad.push_back(
      bytes({0x01, 0x01, 0x01, 0x00, 0x06, 0x01, 0x01, 0x74, 0x01, 0x62, 0x01, 0x7B, 0x00}));
  for (const Bytes& update : bad) {
    EXPECT_THROW(doc.apply_update_v1(update), DecodeError) << update.size();
    EXPECT_EQ(doc.encode_state_as_update_v1(), before);
  }
}

// A cursor kept as a relative position stays with its text while others insert before it and
// delete around it; what cannot be read or restored is refused with a typed error.
TEST(Positions, ACursorStaysWithItsTextAndBadInputIsRefused) {
  Doc doc(1, false);
  Type& text = doc.get("text", TypeKind::text);
  doc.text_insert(text, 0, "hello world");
  const RelativePosition cursor = relative_position(text, 6);  // before "world"
  const Bytes encoded = encode_relative_position(cursor);
  Doc other(2, false);
  other.apply_update_v1(doc.encode_state_as_update_v1());
  Type& text2 = other.get("text", TypeKind::text);
  other.text_insert(text2, 0, ">> ");
  other.text_delete(text2, 3, 2);  // "he"
  doc.apply_update_v1(other.encode_state_as_update_v1(doc.state_vector()));
  EXPECT_EQ(text.to_string(), ">> llo world");
  const auto now = absolute_position(doc, decode_relative_position(encoded));
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->index, 7u);
  EXPECT_EQ(now->type, &text);
  // Before the document has the item: unknown.
  Doc empty(3);
  EXPECT_FALSE(absolute_position(empty, cursor).has_value());

  EXPECT_THROW(decode_relative_position(bytes({3, 1})), DecodeError);        // unknown kind
  EXPECT_THROW(decode_relative_position(bytes({0, 1})), DecodeError);        // truncated
  EXPECT_THROW(decode_relative_position(bytes({1, 0, 0, 0})), DecodeError);  // bytes after

  // Snapshots: only from a document that keeps deleted content, and of a state it reached.
  const Snapshot then = doc.snapshot();
  doc.text_delete(text, 0, 3);
  const std::unique_ptr<Doc> restored = doc.restore(then, 4);
  EXPECT_EQ(restored->get("text", TypeKind::text).to_string(), ">> llo world");
  EXPECT_EQ(decode_snapshot(encode_snapshot(then)), then);
  Snapshot ahead = then;
  ahead.state[1] += 100;
  EXPECT_THROW(doc.restore(ahead, 4), std::invalid_argument);
  Doc collected(5);
  EXPECT_THROW(collected.restore(collected.snapshot(), 6), std::logic_error);
  EXPECT_THROW(decode_snapshot(bytes({0, 1})), DecodeError);
}

// The undo manager groups changes that come within its capture timeout (on an injected clock),
// undoes only tracked origins, and brings back content garbage collection would have dropped.
TEST(Undo, StepsFollowTheCaptureTimeoutAndOnlyTrackedOriginsAreUndone) {
  Doc doc(1);  // garbage collection on
  Type& text = doc.get("text", TypeKind::text);
  std::int64_t now = 1000;
  UndoOptions options;
  options.capture_timeout = std::chrono::milliseconds(500);
  options.now = [&] { return now; };
  UndoManager undo(doc, {&text}, options);
  doc.text_insert(text, 0, "a");
  now += 100;
  doc.text_insert(text, 1, "b");  // within 500 ms: the same step
  now += 600;
  doc.text_insert(text, 2, "c");  // a step of its own
  EXPECT_EQ(undo.undo_stack().size(), 2u);
  const int sync = 0;  // changes arriving with another origin are not the user's
  doc.transact([&](Transaction&) { doc.text_insert(text, 0, ">"); }, &sync);
  EXPECT_EQ(text.to_string(), ">abc");
  EXPECT_TRUE(undo.undo());
  EXPECT_EQ(text.to_string(), ">ab");
  EXPECT_TRUE(undo.undo());
  EXPECT_EQ(text.to_string(), ">");
  EXPECT_FALSE(undo.undo());
  EXPECT_TRUE(undo.redo());
  EXPECT_TRUE(undo.redo());
  EXPECT_EQ(text.to_string(), ">abc");

  // A deletion is undone even though its content was collected from the document: it was kept.
  now += 1000;
  doc.text_delete(text, 1, 3);
  EXPECT_EQ(text.to_string(), ">");
  EXPECT_TRUE(undo.undo());
  EXPECT_EQ(text.to_string(), ">abc");
  // A new change ends what could be redone.
  EXPECT_TRUE(undo.can_redo());
  now += 1000;
  doc.text_insert(text, 4, "!");
  EXPECT_FALSE(undo.can_redo());
}

// One transaction: one update event and one observer call, however many edits it holds; and an
// observer's own edits run as a transaction after it.
TEST(Transactions, EditsInOneTransactionMakeOneUpdateAndOneEvent) {
  Doc doc(1);
  Type& text = doc.get("text", TypeKind::text);
  std::vector<Bytes> updates;
  const int origin = 0;
  const void* seen_origin = nullptr;
  doc.on_update([&](std::span<const std::uint8_t> update, const void* from) {
    updates.emplace_back(update.begin(), update.end());
    seen_origin = from;
  });
  int calls = 0;
  text.observe([&](const Event& event, Transaction& t) {
    ++calls;
    if (calls == 1) {
      EXPECT_EQ(to_json(event.delta_json()), R"([{"insert":"abc"}])");
      EXPECT_EQ(t.origin, &origin);
      doc.text_insert(text, 0, ">");  // runs after this transaction, as its own
    }
  });
  doc.transact(
      [&](Transaction&) {
        doc.text_insert(text, 0, "ab");
        doc.text_insert(text, 2, "c");
      },
      &origin);
  EXPECT_EQ(calls, 2);
  ASSERT_EQ(updates.size(), 2u);
  // As in Yjs, an update is encoded once observers have run, so the first one already holds what
  // the observer's transaction inserted (and the second holds it again).
  Doc other(2);
  other.apply_update_v1(updates[0]);
  EXPECT_EQ(other.get("text", TypeKind::text).to_string(), ">abc");
  other.apply_update_v1(updates[1]);
  EXPECT_EQ(other.get("text", TypeKind::text).to_string(), ">abc");
  EXPECT_EQ(seen_origin, nullptr);  // the observer's transaction had none
}

// An update of maps nested `depth` deep under the root map "root" (client 1, one struct each).
Bytes nested_maps(std::uint64_t first, std::uint64_t count) {
  Encoder out;
  out.write_var_uint(1);      // one client
  out.write_var_uint(count);  // structs
  out.write_var_uint(1);      // client 1
  out.write_var_uint(first);  // from this clock
  for (std::uint64_t i = first; i < first + count; ++i) {
    out.write_u8(7 | 0x20);  // a type, in a map
    if (i == 0) {
      out.write_var_uint(1);
      out.write_var_string("root");
    } else {
      out.write_var_uint(0);
      out.write_var_uint(1);
      out.write_var_uint(i - 1);  // inside the previous map
    }
    out.write_var_string("k");
    out.write_var_uint(1);  // a Map
  }
  out.write_var_uint(0);  // no deletes
  return out.take();
}

// Types nested past kMaxTypeDepth are refused: a deep update with a typed error and no change, a
// deep local edit with invalid_argument; a chain sent in pieces cannot get past it either.
TEST(Nesting, TypesNestedTooDeeplyAreRefused) {
  Doc doc(2);
  doc.map_set(doc.get("root", TypeKind::map), "before", Any(1));
  const Bytes before = doc.encode_state_as_update_v1();
  EXPECT_THROW(doc.apply_update_v1(nested_maps(0, kMaxTypeDepth + 10)), DecodeError);
  EXPECT_EQ(doc.encode_state_as_update_v1(), before);
  doc.apply_update_v1(nested_maps(0, kMaxTypeDepth));  // as deep as allowed
  EXPECT_FALSE(doc.has_pending());
  Type* deepest = &doc.get("root", TypeKind::map);
  for (Item* item = deepest->map.at("k"); item != nullptr;) {
    deepest = std::get<ContentType>(item->content).type.get();
    const auto next = deepest->map.find("k");
    item = next == deepest->map.end() ? nullptr : next->second;
  }
  EXPECT_EQ(deepest->depth, kMaxTypeDepth);
  EXPECT_THROW(doc.map_set_type(*deepest, "k", TypeKind::map), std::invalid_argument);

  // Pieces, the deepest first: each waits, unknown alone; the last brings them all in, and what
  // is too deep is dropped rather than kept.
  Doc pieces(3);
  const std::uint64_t depth = kMaxTypeDepth + 3;
  for (std::uint64_t i = depth; i-- > 1;)
    pieces.apply_update_v1(nested_maps(i, 1));
  EXPECT_TRUE(pieces.has_pending());
  pieces.apply_update_v1(nested_maps(0, 1));
  EXPECT_FALSE(pieces.has_pending());
  pieces.map_set(pieces.get("other", TypeKind::map), "still", Any(true));  // still usable
  EXPECT_EQ(to_json(pieces.get("other", TypeKind::map).to_json()), R"({"still":true})");
}

}  // namespace
}  // namespace cairn::crdt

namespace cairn::crdt {
namespace {

TEST(Assign, ATypeTakesAnotherDocumentsContentAsNewEditsThatEveryReplicaFollows) {
  Doc source(1);
  Type& xml = source.get("x", TypeKind::xml_fragment);
  Type& paragraph = source.array_insert_type(xml, 0, TypeKind::xml_element, "p");
  source.map_set(paragraph, "class", Any(std::string("lead")));
  Type& words = source.array_insert_type(paragraph, 0, TypeKind::xml_text);
  source.text_insert(words, 0, "hi ");
  source.text_insert(words, 3, "there", Any::Object{{"italic", Any(true)}});
  Doc target(2);
  Type& old = target.get("x", TypeKind::xml_fragment);
  Type& stale = target.array_insert_type(old, 0, TypeKind::xml_element, "h1");
  target.map_set(stale, "id", Any(std::string("gone")));
  Doc replica(3);
  replica.apply_update_v1(target.encode_state_as_update_v1());
  Bytes edits;
  target.on_update([&](std::span<const std::uint8_t> update, const void*) {
    edits.assign(update.begin(), update.end());
  });
  target.assign(old, xml);
  const std::string expected = R"(<p class="lead">hi <italic>there</italic></p>)";
  EXPECT_EQ(xml.to_string(), expected);
  EXPECT_EQ(old.to_string(), expected);
  replica.apply_update_v1(edits);  // one transaction: one update
  EXPECT_EQ(replica.get("x", TypeKind::xml_fragment).to_string(), expected);
}

}  // namespace
}  // namespace cairn::crdt

namespace cairn::crdt {
namespace {

TEST(Comments, AnchorsFollowConcurrentEditsAndCommentsResolveAndGo) {
  Doc a(1);
  Type& text = a.get("t", TypeKind::text);
  a.text_insert(text, 0, "hello world");
  const std::string id = add_comment(a, "t", 6, 11, "who?", "ada", 1);  // "world"
  EXPECT_THROW(add_comment(a, "t", 3, 3, "empty", "ada", 1), std::out_of_range);
  EXPECT_THROW(add_comment(a, "t", 5, 12, "past the end", "ada", 1), std::out_of_range);
  Doc b(2);
  b.apply_update_v1(a.encode_state_as_update_v1());
  // Concurrently: b writes before the range, a inside it.
  b.text_insert(b.get("t", TypeKind::text), 0, ">> ");
  a.text_insert(text, 8, "!");
  b.apply_update_v1(a.encode_state_as_update_v1());
  a.apply_update_v1(b.encode_state_as_update_v1());
  for (Doc* doc : {&a, &b}) {
    const std::vector<Comment> all = comments(*doc);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].id, id);
    EXPECT_EQ(all[0].start, 9u);
    EXPECT_EQ(all[0].end, 15u);  // "wo!rld"
    EXPECT_EQ(all[0].body, "who?");
    EXPECT_FALSE(all[0].resolved);
  }
  set_comment_resolved(b, id, true);
  a.apply_update_v1(b.encode_state_as_update_v1());
  EXPECT_TRUE(comments(a).at(0).resolved);
  EXPECT_THROW(set_comment_resolved(a, "nope", true), std::invalid_argument);
  a.text_delete(text, 9, 6);  // all of its characters
  EXPECT_TRUE(comments(a).at(0).detached);
  delete_comment(a, id);
  EXPECT_TRUE(comments(a).empty());
}

}  // namespace
}  // namespace cairn::crdt
