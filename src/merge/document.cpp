// Documents: the entries of text stores, each a Yjs document (src/crdt) kept as its whole state.
// A change is a Yjs update; the CRDT merges it, so that every replica converges whatever order
// updates arrive in (entry.hpp).
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "crdt/doc.hpp"
#include "foundation/base64.hpp"
#include "merge/entry.hpp"

namespace cairn::merge {
namespace json = boost::json;
using crdt::bytes_of;
using crdt::text_of;

namespace {

// A document decoded from its state. Its client id is the editor's (local edits) or any
// (reading, merging remote updates: they add no item of their own).
std::unique_ptr<crdt::Doc> load(std::string_view state, std::uint64_t client = 0) {
  auto doc = std::make_unique<crdt::Doc>(client);
  if (state.empty()) return doc;
  try {
    doc->apply_update_v1(bytes_of(state));
  } catch (const crdt::DecodeError& e) {
    throw Error(ErrorCode::corrupt,
                fmt::format("a document's state does not decode: {}", e.what()));
  }
  return doc;
}

json::value document_value(const crdt::Doc& doc) {
  return json::object{{"yjs", base64_encode(text_of(doc.encode_state_as_update_v1()))}};
}

}  // namespace

std::string document_state(const Entry& entry) {
  if (entry.deleted) return {};
  const json::object* object = entry.value.if_object();
  const json::value* yjs = object ? object->if_contains("yjs") : nullptr;
  std::optional<std::string> state =
      yjs && yjs->is_string() ? base64_decode(yjs->get_string()) : std::nullopt;
  if (!state) {
    throw Error(ErrorCode::corrupt,
                "a document entry's value is not {\"yjs\": \"<base64 of its state>\"}");
  }
  return std::move(*state);
}

Applied apply_update(Entry& entry, const Change& change) {
  std::unique_ptr<crdt::Doc> doc = load(document_state(entry));
  bool changed = false;
  try {
    changed = doc->would_change_v1(bytes_of(change.update));
    if (changed) doc->apply_update_v1(bytes_of(change.update));
  } catch (const crdt::DecodeError& e) {
    throw Error(ErrorCode::invalid_value, fmt::format("the update does not decode: {}", e.what()));
  }
  if (entry.stamp < change.stamp) entry.stamp = change.stamp;
  if (!changed) return {};
  entry.value = document_value(*doc);
  entry.deleted = false;
  entry.schema_version = std::max(entry.schema_version, change.schema_version);
  return {true, false, false};
}

std::optional<LocalWrite> plan_update(const Entry& current, std::string update, Stamp stamp,
                                      std::uint32_t schema_version) {
  LocalWrite write{current, {}};
  write.change.op = Change::Op::update;
  write.change.update = std::move(update);
  write.change.stamp = stamp;
  write.change.schema_version = schema_version;
  if (!apply_update(write.entry, write.change).changed) return std::nullopt;
  return write;
}

std::string text_edit(std::string_view state, std::uint64_t client, const std::string& root,
                      std::uint64_t index, std::uint64_t erase, std::string_view insert) {
  std::unique_ptr<crdt::Doc> doc = load(state, client);
  crdt::Bytes update;
  doc->on_update([&](std::span<const std::uint8_t> bytes, const void*) {
    update.assign(bytes.begin(), bytes.end());
  });
  try {
    crdt::Type& text = doc->get(root, crdt::TypeKind::text);
    doc->transact([&](crdt::Transaction&) {
      if (erase > 0) doc->text_delete(text, index, erase);
      if (!insert.empty()) doc->text_insert(text, index, insert);
    });
  } catch (const std::out_of_range& e) {
    throw Error(ErrorCode::invalid_argument, fmt::format("root text '{}': {}", root, e.what()));
  } catch (const std::invalid_argument& e) {
    throw Error(ErrorCode::invalid_argument, fmt::format("root '{}': {}", root, e.what()));
  }
  return std::string(text_of(update));
}

crdt::StateVector document_state_vector(std::string_view state) {
  if (state.empty()) return {};
  try {
    return crdt::Doc::decode_state_vector(
        crdt::encode_state_vector_from_update_v1(bytes_of(state)));
  } catch (const crdt::DecodeError& e) {
    throw Error(ErrorCode::corrupt,
                fmt::format("a document's state does not decode: {}", e.what()));
  }
}

std::string document_text(std::string_view state, const std::string& root) {
  std::unique_ptr<crdt::Doc> doc = load(state);
  if (!doc->roots().contains(root)) return {};
  try {
    return doc->get(root, crdt::TypeKind::text).to_string();
  } catch (const std::invalid_argument& e) {
    throw Error(ErrorCode::invalid_argument, fmt::format("root '{}': {}", root, e.what()));
  }
}

}  // namespace cairn::merge
