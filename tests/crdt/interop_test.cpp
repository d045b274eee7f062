// Cairn's documents against the real Yjs (npm `yjs`, pinned in tests/js/package.json), run by
// Node: seeded sessions in which several Yjs peers edit a Text, an Array and a Map concurrently;
// Cairn applies their updates in a shuffled order with repeats and must hold the same content and
// encode the same bytes as a Yjs document that applied the same order (its whole state, and its
// diffs against the peers' state vectors along the way); Cairn replays a Yjs peer's
// local edits and must encode what it encoded; and Yjs loads Cairn's encoding to the same content.
// Needs CAIRN_TEST_NODE_MODULES (scripts/test.sh installs them into build/js and sets it).
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <random>

#include "crdt/comments.hpp"
#include "crdt/doc.hpp"
#include "crdt/position.hpp"
#include "crdt/undo.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace cairn::crdt {
namespace {
namespace json = boost::json;

crdt::Bytes base64(std::string_view text) {
  Bytes out(text.size() / 4 * 3 + 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) throw std::runtime_error("bad base64");
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i)
    --size;
  out.resize(size);
  return out;
}

std::string to_base64(std::span<const std::uint8_t> bytes) {
  std::string out(((bytes.size() + 2) / 3) * 4, '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                  static_cast<int>(bytes.size()));
  return out;
}

class YjsInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* modules = std::getenv("CAIRN_TEST_NODE_MODULES");
    if (modules == nullptr)
      GTEST_SKIP() << "CAIRN_TEST_NODE_MODULES is not set (scripts/test.sh sets it)";
    setenv("NODE_PATH", modules, 1);
  }
  json::object yjs(const std::string& mode, const std::string& arg) {
    const test::RunResult result =
        test::run({"/usr/bin/node", CAIRN_TEST_JS_DIR "/yjs_peer.cjs", mode, arg});
    if (result.status != 0) throw std::runtime_error("node failed: " + result.err);
    return json::parse(result.out).as_object();
  }
};

// What the Yjs side prints for a document: {"text","array","map"} as JSON.stringify writes them.
std::string content_json(Doc& doc) {
  return to_json(Any(Any::Object{{"text", doc.get("text", TypeKind::text).to_json()},
                                 {"array", doc.get("array", TypeKind::array).to_json()},
                                 {"map", doc.get("map", TypeKind::map).to_json()}}));
}

// A printed operation's value, back as an Any ({"$binary": base64} is a Uint8Array).
Any value_of(const json::value& v) {
  if (v.is_null()) return Any(nullptr);
  if (v.is_bool()) return Any(v.as_bool());
  if (v.is_number()) return Any(v.to_number<double>());
  if (v.is_string()) return Any(std::string(v.as_string()));
  if (v.is_array()) {
    Any::Array array;
    for (const auto& e : v.as_array())
      array.push_back(value_of(e));
    return Any(std::move(array));
  }
  const json::object& o = v.as_object();
  if (o.size() == 1 && o.contains("$binary")) return Any(base64(o.at("$binary").as_string()));
  Any::Object object;
  for (const auto& [key, e] : o)
    object.emplace_back(std::string(key), value_of(e));
  return Any(std::move(object));
}

// The same, from what Node printed (its numbers written as JavaScript writes them).
std::string content_json(const json::object& out) {
  return to_json(value_of(
      json::object{{"text", out.at("text")}, {"array", out.at("array")}, {"map", out.at("map")}}));
}

TEST_F(YjsInterop, CairnConvergesWithYjsPeersAndEncodesTheSameBytes) {
  for (int seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const json::object session = yjs("session", std::to_string(seed));
    std::vector<Bytes> updates;
    for (const auto& u : session.at("updates").as_array())
      updates.push_back(base64(u.as_string()));
    // The state vector each update brings, read without a document.
    const json::array& vectors = session.at("updateVectors").as_array();
    for (std::size_t i = 0; i < updates.size(); ++i) {
      EXPECT_EQ(encode_state_vector_from_update_v1(updates[i]), base64(vectors.at(i).as_string()))
          << "update " << i;
    }
    Doc doc(1);
    const json::array& order = session.at("order").as_array();
    const json::array& partial = session.at("partial").as_array();
    // Part way, with structs that wait (as in Yjs at the same points), the encoded state carries
    // them too: a document loaded from it and given the rest ends as Yjs's did.
    std::vector<std::pair<std::size_t, std::unique_ptr<Doc>>> relays;
    std::size_t checkpoint = 0;
    for (std::size_t n = 0; n < order.size(); ++n) {
      if (checkpoint < partial.size() && partial[checkpoint].at("applied") == n) {
        EXPECT_EQ(doc.has_pending(), partial[checkpoint++].at("pending").as_bool()) << n;
        relays.emplace_back(n, std::make_unique<Doc>(9));
        relays.back().second->apply_update_v1(doc.encode_state_as_update_v1());
      }
      doc.apply_update_v1(updates.at(order[n].to_number<std::size_t>()));
    }
    EXPECT_FALSE(doc.has_pending());
    for (auto& [from, relay] : relays) {
      for (std::size_t n = from; n < order.size(); ++n)
        relay->apply_update_v1(updates.at(order[n].to_number<std::size_t>()));
      EXPECT_EQ(relay->encode_state_as_update_v1(), base64(session.at("state").as_string()))
          << "loaded after " << from;
    }
    EXPECT_EQ(content_json(doc), content_json(session));
    EXPECT_EQ(doc.encode_state_as_update_v1(), base64(session.at("state").as_string()));
    EXPECT_EQ(Doc::encode_state_vector(doc.state_vector()),
              base64(session.at("stateVector").as_string()));
    // Without a document: all the updates merged, as emitted and in the shuffled order with
    // repeats; and the merge's diff against each state vector.
    const auto merge = [&](const json::array& indices) {
      std::vector<std::span<const std::uint8_t>> parts;
      for (const auto& index : indices)
        parts.emplace_back(updates.at(index.to_number<std::size_t>()));
      return merge_updates_v1(parts);
    };
    json::array all;
    for (std::size_t i = 0; i < updates.size(); ++i)
      all.push_back(i);
    const Bytes merged = merge(all);
    EXPECT_EQ(merged, base64(session.at("merged").as_string()));
    EXPECT_EQ(merge(session.at("order").as_array()),
              base64(session.at("mergedInOrder").as_string()));
    // What a peer lacks, given its state vector: the same bytes as Yjs's diff, from the document
    // and from the merged update.
    for (const auto& diff : session.at("diffs").as_array()) {
      const StateVector since = Doc::decode_state_vector(base64(diff.at("vector").as_string()));
      EXPECT_EQ(doc.encode_state_as_update_v1(since), base64(diff.at("update").as_string()));
      EXPECT_EQ(diff_update_v1(merged, since), base64(diff.at("mergedDiff").as_string()));
    }
    // The merged update loads to the same document.
    Doc from_merged(2);
    from_merged.apply_update_v1(merged);
    // (A map's keys come in the order they were integrated: compared as JSON values.)
    EXPECT_EQ(json::parse(content_json(from_merged)), json::parse(content_json(session)));

    // Format v2: the same transactions as Yjs encoded them in v2, applied in the same order, give
    // the same document and the same bytes in both formats; merging and diffing as Yjs does.
    std::vector<Bytes> updates_v2;
    for (const auto& u : session.at("updatesV2").as_array())
      updates_v2.push_back(base64(u.as_string()));
    ASSERT_EQ(updates_v2.size(), updates.size());
    Doc doc_v2(1);
    for (const auto& index : session.at("order").as_array())
      doc_v2.apply_update_v2(updates_v2.at(index.to_number<std::size_t>()));
    EXPECT_EQ(doc_v2.encode_state_as_update_v1(), base64(session.at("state").as_string()));
    EXPECT_EQ(doc_v2.encode_state_as_update_v2(), base64(session.at("stateV2").as_string()));
    EXPECT_EQ(doc.encode_state_as_update_v2(), base64(session.at("stateV2").as_string()));
    for (std::size_t i = 0; i < updates.size(); ++i) {
      EXPECT_EQ(encode_state_vector_from_update_v2(updates_v2[i]),
                base64(vectors.at(i).as_string()));
      EXPECT_EQ(convert_update_v2_to_v1(updates_v2[i]),
                base64(session.at("convertedToV1").as_array().at(i).as_string()))
          << "update " << i;
      EXPECT_EQ(convert_update_v1_to_v2(updates[i]),
                base64(session.at("convertedToV2").as_array().at(i).as_string()))
          << "update " << i;
    }
    std::vector<std::span<const std::uint8_t>> parts_v2(updates_v2.begin(), updates_v2.end());
    const Bytes merged_v2 = merge_updates_v2(parts_v2);
    EXPECT_EQ(merged_v2, base64(session.at("mergedV2").as_string()));
    for (const auto& diff : session.at("diffs").as_array()) {
      const StateVector since = Doc::decode_state_vector(base64(diff.at("vector").as_string()));
      EXPECT_EQ(doc.encode_state_as_update_v2(since), base64(diff.at("updateV2").as_string()));
      EXPECT_EQ(diff_update_v2(merged_v2, since), base64(diff.at("mergedDiffV2").as_string()));
    }
  }
}

TEST_F(YjsInterop, FormattedTextAndXmlReadAsYjsRendersThem) {
  const json::object rich = yjs("rich", "");
  const Bytes state = base64(rich.at("state").as_string());
  Doc doc(1);
  doc.apply_update_v1(state);
  EXPECT_EQ(doc.get("prosemirror", TypeKind::xml_fragment).to_string(),
            std::string(rich.at("xml").as_string()));
  Type& text = doc.get("rich", TypeKind::text);
  EXPECT_EQ(text.to_string(), std::string(rich.at("text").as_string()));
  Any::Array delta;
  for (const DeltaOp& op : text.to_delta()) {
    Any::Object item{{"insert", op.insert}};
    if (!op.attributes.empty()) item.emplace_back("attributes", Any(op.attributes));
    delta.push_back(Any(std::move(item)));
  }
  EXPECT_EQ(to_json(Any(delta)), to_json(value_of(rich.at("delta"))));
  EXPECT_EQ(doc.encode_state_as_update_v1(), state);
}

// Formatting: a Yjs peer's random inserts (with and without attributes), embeds, formats (object
// values and null among them) and deletes, replayed through Cairn's API, make the same update
// bytes, operation for operation — format items and their clean-up included.
TEST_F(YjsInterop, FormattingEditsMakeTheUpdatesYjsMakes) {
  for (int seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const json::object out = yjs("formatting", std::to_string(seed));
    Doc doc(99);
    std::vector<Bytes> updates;
    doc.on_update([&](std::span<const std::uint8_t> update, const void*) {
      updates.emplace_back(update.begin(), update.end());
    });
    Type& text = doc.get("text", TypeKind::text);
    std::size_t i = 0;
    for (const auto& op_value : out.at("ops").as_array()) {
      updates.clear();
      const json::object& op = op_value.as_object();
      const std::string kind(op.at("op").as_string());
      const auto index = op.at("index").to_number<std::uint64_t>();
      std::optional<Any::Object> attributes;
      if (op.contains("attributes")) {
        attributes = std::get<Any::Object>(value_of(op.at("attributes")).value);
      }
      if (kind == "insert") {
        doc.text_insert(text, index, std::string(op.at("text").as_string()), attributes);
      } else if (kind == "embed") {
        doc.text_insert_embed(text, index, value_of(op.at("embed")),
                              attributes.value_or(Any::Object{}));
      } else if (kind == "format") {
        doc.text_format(text, index, op.at("length").to_number<std::uint64_t>(), *attributes);
      } else {
        doc.text_delete(text, index, op.at("length").to_number<std::uint64_t>());
      }
      const json::array& expected = op.at("updates").as_array();
      ASSERT_EQ(updates.size(), expected.size()) << "operation " << i << " " << op_value;
      for (std::size_t u = 0; u < updates.size(); ++u) {
        ASSERT_EQ(updates[u], base64(expected[u].as_string()))
            << "operation " << i << " " << op_value;
      }
      ++i;
    }
    Any::Array delta;
    for (const DeltaOp& op : text.to_delta()) {
      Any::Object item{{"insert", op.insert}};
      if (!op.attributes.empty()) item.emplace_back("attributes", Any(op.attributes));
      delta.push_back(Any(std::move(item)));
    }
    EXPECT_EQ(json::parse(to_json(Any(delta))), out.at("delta"));
    EXPECT_EQ(doc.encode_state_as_update_v1(), base64(out.at("state").as_string()));
  }
}

TEST_F(YjsInterop, CairnsLocalEditsEncodeAsYjsEncodesThemAndYjsLoadsThem) {
  test::TempDir dir;
  for (int seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const json::object local = yjs("local", std::to_string(seed));
    Doc doc(local.at("client").to_number<std::uint64_t>());
    std::vector<Bytes> updates;  // each operation's update event
    doc.on_update([&](std::span<const std::uint8_t> update, const void*) {
      updates.emplace_back(update.begin(), update.end());
    });
    Type& text = doc.get("text", TypeKind::text);
    Type& array = doc.get("array", TypeKind::array);
    Type& map = doc.get("map", TypeKind::map);
    for (const auto& op_value : local.at("ops").as_array()) {
      const json::object& op = op_value.as_object();
      const std::string kind(op.at("op").as_string());
      if (kind == "text-insert") {
        doc.text_insert(text, op.at("index").to_number<std::uint64_t>(),
                        std::string(op.at("text").as_string()));
      } else if (kind == "text-delete") {
        doc.text_delete(text, op.at("index").to_number<std::uint64_t>(),
                        op.at("length").to_number<std::uint64_t>());
      } else if (kind == "array-insert") {
        std::vector<Any> values;
        for (const auto& v : op.at("values").as_array())
          values.push_back(value_of(v));
        doc.array_insert(array, op.at("index").to_number<std::uint64_t>(), std::move(values));
      } else if (kind == "array-delete") {
        doc.array_delete(array, op.at("index").to_number<std::uint64_t>(),
                         op.at("length").to_number<std::uint64_t>());
      } else if (kind == "map-set") {
        doc.map_set(map, std::string(op.at("key").as_string()), value_of(op.at("value")));
      } else {
        doc.map_delete(map, std::string(op.at("key").as_string()));
      }
    }
    EXPECT_EQ(content_json(doc), content_json(local));
    const json::array& expected_updates = local.at("updates").as_array();
    ASSERT_EQ(updates.size(), expected_updates.size());
    for (std::size_t i = 0; i < updates.size(); ++i)
      EXPECT_EQ(updates[i], base64(expected_updates[i].as_string())) << "operation " << i;
    const Bytes state = doc.encode_state_as_update_v1();
    EXPECT_EQ(state, base64(local.at("state").as_string()));
    // Yjs loads Cairn's bytes to the same content.
    const auto file = dir.path() / ("state-" + std::to_string(seed) + ".bin");
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char*>(state.data()),
               static_cast<std::streamsize>(state.size()));
    EXPECT_EQ(content_json(yjs("load", file.string())), content_json(local));
  }
}

// Comments in the documented layout: Cairn's, read by plain Yjs after it edited around and
// inside them, resolve to the same ranges on both sides; Yjs's own comment reads in Cairn.
TEST_F(YjsInterop, CommentsAreReadAndWrittenWithPlainYjs) {
  test::TempDir dir;
  Doc doc(7);
  Type& text = doc.get("t", TypeKind::text);
  doc.text_insert(text, 0, "The quick brown fox jumps over the lazy dog");
  const std::string quick = add_comment(doc, "t", 4, 9, "fast?", "ada", 1.7e12);    // "quick"
  const std::string lazy = add_comment(doc, "t", 35, 39, "unkind", "ada", 1.7e12);  // "lazy"
  const Bytes state = doc.encode_state_as_update_v1();
  const auto file = dir.path() / "comments.bin";
  std::ofstream(file, std::ios::binary)
      .write(reinterpret_cast<const char*>(state.data()),
             static_cast<std::streamsize>(state.size()));
  const json::object yjs_side = yjs("comments", file.string());
  doc.apply_update_v1(base64(yjs_side.at("state").as_string()));
  EXPECT_EQ(text.to_string(), yjs_side.at("text").as_string());
  std::map<std::string, Comment> by_id;
  for (Comment& comment : comments(doc))
    by_id[comment.id] = comment;
  ASSERT_EQ(by_id.size(), 3u);
  const json::object& ranges = yjs_side.at("ranges").as_object();
  for (const auto& [id, comment] : by_id) {
    const json::array& range = ranges.at(id).as_array();
    EXPECT_EQ(comment.start, range.at(0).to_number<std::uint64_t>()) << id;
    EXPECT_EQ(comment.end, range.at(1).to_number<std::uint64_t>()) << id;
  }
  // "quick" grew by what Yjs typed inside it; "lazy" was deleted; Yjs's comment reads in full.
  const std::string now = text.to_string();
  EXPECT_EQ(now.substr(by_id.at(quick).start, by_id.at(quick).end - by_id.at(quick).start),
            "qu--ick");
  EXPECT_TRUE(by_id.at(lazy).detached);
  EXPECT_FALSE(by_id.at(quick).detached);
  const Comment& theirs = by_id.at("yjs-1");
  EXPECT_EQ(now.substr(theirs.start, theirs.end - theirs.start), "brown");
  EXPECT_EQ(theirs.author, "yjs");
  EXPECT_EQ(theirs.body, "colour?");
}

// Relative positions: Cairn creates the bytes Yjs creates for every index of a Text, a nested
// Text and an Array, reads Yjs's, and resolves them after another peer's edits where Yjs does.
TEST_F(YjsInterop, RelativePositionsEncodeAndResolveAsInYjs) {
  const json::object out = yjs("positions", "");
  Doc doc(1, false);
  doc.apply_update_v1(base64(out.at("state").as_string()));
  const auto type_of = [&](const std::string& where) -> Type& {
    if (where == "note") {
      const Item* item = doc.get("meta", TypeKind::map).map.at("note");
      return *std::get<ContentType>(item->content).type;
    }
    return doc.get(where, where == "text" ? TypeKind::text : TypeKind::array);
  };
  std::vector<RelativePosition> decoded;
  for (const auto& place_value : out.at("places").as_array()) {
    const json::object& place = place_value.as_object();
    const std::string where(place.at("where").as_string());
    const auto index = place.at("index").to_number<std::uint64_t>();
    const auto assoc = place.at("assoc").to_number<std::int64_t>();
    SCOPED_TRACE(where + " " + std::to_string(index) + " " + std::to_string(assoc));
    const Bytes encoded = base64(place.at("encoded").as_string());
    const RelativePosition mine = relative_position(type_of(where), index, assoc);
    EXPECT_EQ(encode_relative_position(mine), encoded);
    decoded.push_back(decode_relative_position(encoded));
    EXPECT_EQ(encode_relative_position(decoded.back()), encoded);
    const auto now = absolute_position(doc, mine);
    ASSERT_TRUE(now.has_value());
    EXPECT_EQ(now->index, index);
    EXPECT_EQ(now->type, &type_of(where));
  }
  doc.apply_update_v1(base64(out.at("edits").as_string()));
  std::size_t i = 0;
  for (const auto& place_value : out.at("places").as_array()) {
    const json::value& after = place_value.at("after");
    const auto now = absolute_position(doc, decoded.at(i++));
    if (after.is_null()) {
      EXPECT_FALSE(now.has_value());
    } else {
      ASSERT_TRUE(now.has_value());
      EXPECT_EQ(now->index, after.to_number<std::uint64_t>()) << place_value;
    }
  }
}

// Snapshots: Cairn's snapshot of a document is Yjs's byte for byte at every step, and a document
// restored from Yjs's snapshot holds what Yjs restored.
TEST_F(YjsInterop, SnapshotsEncodeAndRestoreAsInYjs) {
  const json::object out = yjs("snapshots", "");
  Doc doc(1, false);
  doc.apply_update_v1(base64(out.at("state").as_string()));
  for (const auto& taken_value : out.at("taken").as_array()) {
    const json::object& taken = taken_value.as_object();
    const Snapshot snapshot = decode_snapshot(base64(taken.at("snapshot").as_string()));
    EXPECT_EQ(encode_snapshot(snapshot), base64(taken.at("snapshot").as_string()));
    const std::unique_ptr<Doc> restored = doc.restore(snapshot, 2);
    EXPECT_EQ(restored->get("text", TypeKind::text).to_string(),
              std::string(taken.at("text").as_string()));
    EXPECT_EQ(to_json(restored->get("list", TypeKind::array).to_json()),
              to_json(value_of(taken.at("list"))));
  }
  // The last snapshot is of the whole state.
  EXPECT_EQ(encode_snapshot(doc.snapshot()),
            base64(out.at("taken").as_array().back().at("snapshot").as_string()));
}

// An event's keys as the Yjs side prints them: [[key, {"action", "oldValue"}], ...].
Any keys_json(const Event& event) {
  Any::Array keys;
  for (const auto& [key, change] : event.keys()) {
    const char* action = change.action == KeyChange::Action::add      ? "add"
                         : change.action == KeyChange::Action::update ? "update"
                                                                      : "delete";
    keys.push_back(Any(Any::Array{
        Any(key),
        Any(Any::Object{{"action", Any(action)},
                        {"oldValue", change.old_value ? *change.old_value : Any(nullptr)}})}));
  }
  return Any(std::move(keys));
}

// Observers: another peer's transactions, applied one by one, make Cairn's observers report what
// Yjs's report — Text deltas with attributes and embeds, Array deltas, Map key changes with old
// values, and deep observers' events with their paths, in Yjs's order.
TEST_F(YjsInterop, ObserversReportWhatYjsObserversReport) {
  const json::object out = yjs("events", "");
  Doc doc(1);
  Any::Array step;
  doc.get("text", TypeKind::text).observe([&](const Event& event, Transaction&) {
    step.push_back(Any(Any::Object{{"on", Any("text")}, {"delta", event.delta_json()}}));
  });
  doc.get("list", TypeKind::array).observe([&](const Event& event, Transaction&) {
    step.push_back(Any(Any::Object{{"on", Any("list")}, {"delta", event.delta_json()}}));
  });
  doc.get("map", TypeKind::map).observe([&](const Event& event, Transaction&) {
    step.push_back(Any(Any::Object{{"on", Any("map")}, {"keys", keys_json(event)}}));
  });
  doc.get("root", TypeKind::map)
      .observe_deep([&](const std::vector<const Event*>& events, Transaction&) {
        Any::Array list;
        for (const Event* event : events) {
          Any::Array path;
          for (const PathStep& step : event->path()) {
            if (const auto* key = std::get_if<std::string>(&step)) {
              path.push_back(Any(*key));
            } else {
              path.push_back(Any(static_cast<double>(std::get<std::uint64_t>(step))));
            }
          }
          list.push_back(Any(Any::Object{{"path", Any(std::move(path))},
                                         {"delta", event->delta_json()},
                                         {"keys", keys_json(*event)}}));
        }
        step.push_back(Any(Any::Object{{"on", Any("root")}, {"events", Any(std::move(list))}}));
      });
  const json::array& updates = out.at("updates").as_array();
  const json::array& reports = out.at("reports").as_array();
  ASSERT_EQ(updates.size(), reports.size());
  for (std::size_t i = 0; i < updates.size(); ++i) {
    step.clear();
    doc.apply_update_v1(base64(updates[i].as_string()));
    EXPECT_EQ(json::parse(to_json(Any(step))), reports[i]) << "update " << i;
  }
}

// The undo manager: the same local edits in the same steps, another peer's edits (not tracked,
// not undone, and a map value of theirs kept over an undo), undos and redos — after each, Cairn's
// document holds what Yjs's holds and encodes the same bytes (redone items included).
TEST_F(YjsInterop, UndoAndRedoMakeWhatYjsMakes) {
  const json::object out = yjs("undo", "");
  Doc doc(out.at("client").to_number<std::uint64_t>());
  Type& text = doc.get("text", TypeKind::text);
  Type& list = doc.get("list", TypeKind::array);
  Type& map = doc.get("map", TypeKind::map);
  std::int64_t now = 0;  // Yjs's capture timeout is 1e9 ms there: steps end at "stop" only
  UndoManager undo(doc, {&text, &list, &map},
                   {.capture_timeout = std::chrono::milliseconds(1'000'000'000),
                    .tracked_origins = {nullptr},
                    .ignore_remote_map_changes = false,
                    .delete_filter = {},
                    .capture_transaction = {},
                    .now = [&] { return now; }});
  const int remote = 0;  // the origin of the other peer's updates
  std::size_t index = 0;
  for (const auto& step_value : out.at("steps").as_array()) {
    const json::object& step = step_value.as_object();
    const std::string op(step.at("op").as_string());
    SCOPED_TRACE("step " + std::to_string(index++) + ": " + op);
    now += 10;
    if (op == "text-insert") {
      doc.text_insert(text, step.at("index").to_number<std::uint64_t>(),
                      std::string(step.at("text").as_string()));
    } else if (op == "text-delete") {
      doc.text_delete(text, step.at("index").to_number<std::uint64_t>(),
                      step.at("length").to_number<std::uint64_t>());
    } else if (op == "array-insert") {
      std::vector<Any> values;
      for (const auto& v : step.at("values").as_array())
        values.push_back(value_of(v));
      doc.array_insert(list, step.at("index").to_number<std::uint64_t>(), std::move(values));
    } else if (op == "array-delete") {
      doc.array_delete(list, step.at("index").to_number<std::uint64_t>(),
                       step.at("length").to_number<std::uint64_t>());
    } else if (op == "map-set") {
      doc.map_set(map, std::string(step.at("key").as_string()), value_of(step.at("value")));
    } else if (op == "map-delete") {
      doc.map_delete(map, std::string(step.at("key").as_string()));
    } else if (op == "stop") {
      undo.stop_capturing();
    } else if (op == "undo") {
      EXPECT_EQ(undo.undo(), step.at("result").as_bool());
    } else if (op == "redo") {
      EXPECT_EQ(undo.redo(), step.at("result").as_bool());
    } else if (op == "remote") {
      doc.apply_update_v1(base64(step.at("update").as_string()), &remote);
    }
    const json::object& after = step.at("after").as_object();
    EXPECT_EQ(text.to_string(), std::string(after.at("text").as_string()));
    EXPECT_EQ(json::parse(to_json(list.to_json())), after.at("list"));
    EXPECT_EQ(json::parse(to_json(map.to_json())), after.at("map"));
    ASSERT_EQ(doc.encode_state_as_update_v1(), base64(step.at("state").as_string()));
  }
}

// --- Mixed sessions: Yjs peers (in Node, driven line by line) and Cairn peers edit together ---

// The Yjs side of a mixed session (yjs_peer.cjs driver).
class YjsDriver {
 public:
  YjsDriver()
      : node_({"/usr/bin/node", CAIRN_TEST_JS_DIR "/yjs_peer.cjs", "driver"}, false, true) {}
  json::object call(const json::object& command) {
    node_.write(json::serialize(command) + "\n");
    const auto line = node_.read_line(std::chrono::seconds(30));
    if (!line) throw std::runtime_error("the Yjs driver did not answer");
    return json::parse(*line).as_object();
  }

 private:
  test::Process node_;
};

// An index moved off the middle of a surrogate pair (as the driver's snap(): a split there makes
// U+FFFD on the splitting peer, which Yjs accepts).
std::uint64_t snap(const Type& text, std::uint64_t index) {
  std::string plain;  // the units indexes count: embeds as one
  for (const DeltaOp& op : text.to_delta()) {
    const auto* run = std::get_if<std::string>(&op.insert.value);
    plain += run != nullptr ? *run : std::string("*");
  }
  const std::u16string units = utf16(plain);
  const auto high = [](char16_t c) { return c >= 0xD800 && c <= 0xDBFF; };
  const auto low = [](char16_t c) { return c >= 0xDC00 && c <= 0xDFFF; };
  return index > 0 && index < units.size() && high(units[index - 1]) && low(units[index])
             ? index - 1
             : index;
}

// A random edit of the same kinds the driver makes, through Cairn's API.
void cairn_edit(Doc& doc, std::mt19937_64& random) {
  const auto int_ = [&](std::uint64_t n) { return n == 0 ? 0 : random() % n; };
  const std::vector<std::string> words = {"a", "bc", "hello ", "é", "中文", "😀", "\n", "xyz"};
  const auto word = [&] { return words[int_(words.size())]; };
  const auto attributes = [&] {
    Any::Object out;
    for (auto i = 1 + int_(2); i > 0; --i) {
      const char* keys[] = {"bold", "italic", "link"};
      const std::string key = keys[int_(3)];
      Any value = int_(2) == 0    ? Any(nullptr)
                  : key == "link" ? Any(Any::Object{{"href", Any("https://c.example")}})
                                  : Any(true);
      auto same =
          std::find_if(out.begin(), out.end(), [&](const auto& m) { return m.first == key; });
      if (same != out.end()) {
        same->second = std::move(value);
      } else {
        out.emplace_back(key, std::move(value));
      }
    }
    return out;
  };
  Type& text = doc.get("text", TypeKind::text);
  Type& list = doc.get("list", TypeKind::array);
  Type& map = doc.get("map", TypeKind::map);
  Type& xml = doc.get("xml", TypeKind::xml_fragment);
  const auto child = [&](std::uint64_t index) -> Type& {
    for (Item* n = xml.start; n != nullptr; n = n->right) {
      if (n->deleted || !n->countable()) continue;
      if (index == 0) return *std::get<ContentType>(n->content).type;
      --index;
    }
    throw std::logic_error("no such child");
  };
  const auto kind = int_(14);
  const auto range = [&](std::uint64_t max) {
    const auto index = snap(text, int_(text.length));
    const auto end = snap(text, index + 1 + int_(std::min(max, text.length - index - 1)));
    return std::pair{index, end > index ? end - index : 0};
  };
  if (kind <= 2 || (kind == 3 && text.length == 0)) {
    const auto index = snap(text, int_(text.length + 1));
    std::optional<Any::Object> given;
    if (int_(3) == 0) given = attributes();
    doc.text_insert(text, index, word(), given);
  } else if (kind == 3) {
    const auto [index, length] = range(3);
    doc.text_delete(text, index, length);
  } else if (kind == 4 && text.length > 0) {
    const auto [index, length] = range(4);
    doc.text_format(text, index, length, attributes());
  } else if (kind == 5) {
    doc.text_insert_embed(text, snap(text, int_(text.length + 1)),
                          Any(Any::Object{{"image", Any("c")}}));
  } else if (kind == 6 || (kind == 7 && list.length == 0)) {
    doc.array_insert(list, int_(list.length + 1),
                     {Any(static_cast<double>(int_(100))), Any(word())});
  } else if (kind == 7) {
    doc.array_delete(list, int_(list.length), 1);
  } else if (kind == 8) {
    const char* keys[] = {"a", "b", "c"};
    doc.map_set(map, keys[int_(3)], int_(2) == 0 ? Any(word()) : Any(static_cast<double>(int_(9))));
  } else if (kind == 9) {
    doc.transact([&](Transaction&) {
      Type& inner = doc.map_set_type(map, int_(2) == 0 ? "m" : "n", TypeKind::map);
      doc.map_set(inner, int_(2) == 0 ? "x" : "y", Any(static_cast<double>(int_(9))));
    });
  } else if (kind == 10 || xml.length == 0) {
    const char* names[] = {"p", "h1", ""};
    const std::string name = names[int_(3)];
    doc.array_insert_type(xml, int_(xml.length + 1),
                          name.empty() ? TypeKind::xml_text : TypeKind::xml_element, name);
  } else if (kind == 11) {
    doc.array_delete(xml, int_(xml.length), 1);
  } else {
    Type& node = child(int_(xml.length));
    if (node.kind == TypeKind::xml_text) {
      std::optional<Any::Object> given;
      if (int_(2) == 0) given = attributes();
      doc.text_insert(node, snap(node, int_(node.length + 1)), word(), given);
    } else {
      doc.map_set(node, int_(2) == 0 ? "class" : "id", Any(int_(2) == 0 ? "c" : "d"));
    }
  }
}

// What the driver prints of a peer, from a Cairn peer.
json::value cairn_content(Doc& doc) {
  Type& text = doc.get("text", TypeKind::text);
  Any::Array delta;
  for (const DeltaOp& op : text.to_delta()) {
    Any::Object item{{"insert", op.insert}};
    if (!op.attributes.empty()) item.emplace_back("attributes", Any(op.attributes));
    delta.push_back(Any(std::move(item)));
  }
  return json::parse(
      to_json(Any(Any::Object{{"text", Any(text.to_string())},
                              {"delta", Any(std::move(delta))},
                              {"list", doc.get("list", TypeKind::array).to_json()},
                              {"map", doc.get("map", TypeKind::map).to_json()},
                              {"xml", Any(doc.get("xml", TypeKind::xml_fragment).to_string())}})));
}

// Seeded sessions: three Yjs peers and three Cairn peers edit Text (with formats and embeds), an
// Array, a Map (with nested maps) and an XmlFragment (elements with attributes, formatted
// XmlText) concurrently; every update goes to every other peer in a random order, some twice and
// some late. All six converge: the same content (text, delta, JSON, XML), the same snapshot (state
// vector and delete set, byte for byte), and each side's encoded state loads on the other to that
// content. (The encoded states themselves may differ between peers, Yjs's among themselves too:
// whether two adjacent structs were merged depends on the order they came in. Bytes for the same
// history are compared by the sessions above.)
TEST_F(YjsInterop, MixedSessionsOfYjsAndCairnPeersConverge) {
  constexpr int kYjsPeers = 3, kCairnPeers = 3, kSteps = 200;
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 random(seed);
    YjsDriver yjs;
    std::vector<std::unique_ptr<Doc>> cairn;
    std::vector<std::vector<Bytes>> outbox(kYjsPeers + kCairnPeers);  // made, not yet sent
    for (int p = 0; p < kYjsPeers; ++p)
      yjs.call({{"cmd", "new"}, {"peer", p}, {"client", 100 + p}});
    for (int p = 0; p < kCairnPeers; ++p) {
      cairn.push_back(std::make_unique<Doc>(200 + p));
      const int peer = kYjsPeers + p;
      cairn.back()->on_update(
          [&outbox, peer](std::span<const std::uint8_t> update, const void* origin) {
            if (origin == nullptr) outbox[peer].emplace_back(update.begin(), update.end());
          });
    }
    const int remote = 0;  // the origin of what a Cairn peer is given
    // Delivers an update to a peer; what a Yjs peer makes in answer (format clean-ups) is its own.
    const auto deliver = [&](int peer, const Bytes& update) {
      if (peer < kYjsPeers) {
        const json::object out =
            yjs.call({{"cmd", "apply"}, {"peer", peer}, {"update", to_base64(update)}});
        for (const auto& u : out.at("updates").as_array())
          outbox[peer].push_back(base64(u.as_string()));
      } else {
        cairn[peer - kYjsPeers]->apply_update_v1(update, &remote);
      }
    };
    std::vector<std::pair<int, Bytes>> in_flight;  // (from, update): sent, delivered later
    const auto flush = [&](int from) {
      for (Bytes& update : outbox[from])
        in_flight.emplace_back(from, std::move(update));
      outbox[from].clear();
    };
    const auto deliver_some = [&](bool all) {
      std::shuffle(in_flight.begin(), in_flight.end(), random);
      std::vector<std::pair<int, Bytes>> later;
      for (auto& [from, update] : in_flight) {
        if (!all && random() % 3 == 0) {  // delayed
          later.emplace_back(from, std::move(update));
          continue;
        }
        for (int to = 0; to < kYjsPeers + kCairnPeers; ++to) {
          if (to == from) continue;
          deliver(to, update);
          if (random() % 8 == 0) deliver(to, update);  // duplicated
        }
      }
      in_flight = std::move(later);
    };
    for (int step = 0; step < kSteps; ++step) {
      const int peer = static_cast<int>(random() % (kYjsPeers + kCairnPeers));
      if (peer < kYjsPeers) {
        const json::object out =
            yjs.call({{"cmd", "edit"}, {"peer", peer}, {"seed", random() % 1'000'000}});
        for (const auto& u : out.at("updates").as_array())
          outbox[peer].push_back(base64(u.as_string()));
      } else {
        cairn_edit(*cairn[peer - kYjsPeers], random);
      }
      flush(peer);
      if (random() % 4 == 0) deliver_some(false);
    }
    // Until nothing is in flight (clean-ups answer updates).
    for (int round = 0; round < 20; ++round) {
      for (int p = 0; p < kYjsPeers + kCairnPeers; ++p)
        flush(p);
      if (in_flight.empty()) break;
      deliver_some(true);
    }
    ASSERT_TRUE(in_flight.empty());
    const json::object first = yjs.call({{"cmd", "state"}, {"peer", 0}});
    for (int p = 1; p < kYjsPeers; ++p) {
      const json::object state = yjs.call({{"cmd", "state"}, {"peer", p}});
      EXPECT_EQ(state.at("content"), first.at("content")) << "Yjs peer " << p;
      EXPECT_EQ(state.at("snapshot"), first.at("snapshot")) << "Yjs peer " << p;
    }
    const Bytes snapshot = base64(first.at("snapshot").as_string());
    for (int p = 0; p < kCairnPeers; ++p) {
      Doc& peer = *cairn[p];
      EXPECT_FALSE(peer.has_pending()) << "Cairn peer " << p;
      EXPECT_EQ(cairn_content(peer), first.at("content")) << "Cairn peer " << p;
      EXPECT_EQ(encode_snapshot(peer.snapshot()), snapshot) << "Cairn peer " << p;
      const std::string state = to_base64(peer.encode_state_as_update_v1());
      EXPECT_EQ(yjs.call({{"cmd", "load"}, {"update", state}}).at("content"), first.at("content"))
          << "Cairn peer " << p << " loaded in Yjs";
    }
    Doc loaded(300);
    loaded.apply_update_v1(base64(first.at("state").as_string()));
    EXPECT_EQ(cairn_content(loaded), first.at("content")) << "a Yjs peer's state loaded in Cairn";
  }
}

}  // namespace
}  // namespace cairn::crdt
