#include "crdt/comments.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "crdt/position.hpp"

namespace cairn::crdt {

namespace {

template <class T>
const T* member(const Any::Object& object, std::string_view key) {
  for (const auto& [name, value] : object) {
    if (name == key) return std::get_if<T>(&value.value);
  }
  return nullptr;
}

// Where an encoded anchor is now in `text`; nullopt when it cannot be resolved there.
std::optional<std::uint64_t> resolve(Doc& doc, const Type& text, const Bytes& anchor) {
  try {
    const std::optional<AbsolutePosition> at =
        absolute_position(doc, decode_relative_position(anchor));
    if (!at || at->type != &text) return std::nullopt;
    return at->index;
  } catch (const DecodeError&) {
    return std::nullopt;
  }
}

}  // namespace

std::string add_comment(Doc& doc, const std::string& text, std::uint64_t start, std::uint64_t end,
                        const std::string& body, const std::string& author, double created_ms) {
  Type& annotated = doc.get(text, TypeKind::text);
  if (start >= end || end > annotated.length) {
    throw std::out_of_range("a comment needs a range of at least one character inside the text");
  }
  const std::uint64_t clock =
      doc.state_vector().contains(doc.client_id()) ? doc.state_vector().at(doc.client_id()) : 0;
  const std::string id = std::to_string(doc.client_id()) + "-" + std::to_string(clock);
  doc.transact([&](Transaction&) {
    Type& comment = doc.map_set_type(doc.get(kCommentsRoot, TypeKind::map), id, TypeKind::map);
    doc.map_set(comment, "text", Any(text));
    doc.map_set(comment, "start",
                Any(encode_relative_position(relative_position(annotated, start, 0))));
    doc.map_set(comment, "end",
                Any(encode_relative_position(relative_position(annotated, end, -1))));
    doc.map_set(comment, "body", Any(body));
    doc.map_set(comment, "author", Any(author));
    doc.map_set(comment, "createdAt", Any(created_ms));
    doc.map_set(comment, "resolved", Any(false));
  });
  return id;
}

std::vector<Comment> comments(Doc& doc) {
  std::vector<Comment> found;
  const Any all = doc.get(kCommentsRoot, TypeKind::map).to_json();
  const auto* entries = std::get_if<Any::Object>(&all.value);
  if (entries == nullptr) return found;
  for (const auto& [id, value] : *entries) {
    const auto* fields = std::get_if<Any::Object>(&value.value);
    if (fields == nullptr) continue;
    const auto* text = member<std::string>(*fields, "text");
    const auto* start = member<Bytes>(*fields, "start");
    const auto* end = member<Bytes>(*fields, "end");
    if (text == nullptr || start == nullptr || end == nullptr) continue;
    Comment comment;
    comment.id = id;
    comment.text = *text;
    if (const auto* body = member<std::string>(*fields, "body")) comment.body = *body;
    if (const auto* author = member<std::string>(*fields, "author")) comment.author = *author;
    if (const auto* created = member<double>(*fields, "createdAt")) comment.created_ms = *created;
    if (const auto* resolved = member<bool>(*fields, "resolved")) comment.resolved = *resolved;
    const auto root = doc.roots().find(*text);
    const std::optional<std::uint64_t> from =
        root == doc.roots().end() ? std::nullopt : resolve(doc, *root->second, *start);
    // The end sticks to the last character: the range ends after it.
    const std::optional<std::uint64_t> to =
        root == doc.roots().end() ? std::nullopt : resolve(doc, *root->second, *end);
    if (from && to && *from < *to) {
      comment.start = *from;
      comment.end = *to;
    } else {
      comment.detached = true;
      comment.start = comment.end = from.value_or(to.value_or(0));
    }
    found.push_back(std::move(comment));
  }
  std::stable_sort(found.begin(), found.end(), [](const Comment& a, const Comment& b) {
    if (a.detached != b.detached) return !a.detached;
    return a.detached ? a.id < b.id : a.start < b.start;
  });
  return found;
}

void set_comment_resolved(Doc& doc, const std::string& id, bool resolved) {
  Type& all = doc.get(kCommentsRoot, TypeKind::map);
  const auto found = all.map.find(id);
  if (found == all.map.end() || found->second->deleted ||
      !std::holds_alternative<ContentType>(found->second->content)) {
    throw std::invalid_argument("no comment '" + id + "'");
  }
  doc.map_set(*std::get<ContentType>(found->second->content).type, "resolved", Any(resolved));
}

void delete_comment(Doc& doc, const std::string& id) {
  doc.map_delete(doc.get(kCommentsRoot, TypeKind::map), id);
}

}  // namespace cairn::crdt
