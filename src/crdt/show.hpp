// A document as JSON, for people and scripts: what `cairn ydoc show` prints (and what the server
// gives for a document next). Updates do not record a root type's kind, so it is inferred from
// what the root holds unless the caller names it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "crdt/doc.hpp"

namespace cairn::crdt {

// "text", "map", "array", "xml" (an XmlFragment); nullopt for anything else.
std::optional<TypeKind> root_kind_named(std::string_view name);

// The kind a root's content suggests: strings, embeds or formats make a Text; keyed entries a
// Map; only XML nodes an XmlFragment; anything else (or nothing) an Array.
TypeKind infer_root_kind(const Type& root);

struct ShowOptions {
  std::map<std::string, TypeKind> kinds;  // roots whose kind the caller names
  bool delta = false;                     // a Text as its delta (with attributes), not a string
};

// One object with a member per root, named by the root: a Text as its string (or its delta), a
// Map as an object, an Array as an array, an XmlFragment as its XML string as Yjs renders it.
// Fixes each root's kind in `doc` (inferred or as named). Throws std::invalid_argument when a
// named kind contradicts a kind the root already has.
Any show_document(Doc& doc, const ShowOptions& options = {});

}  // namespace cairn::crdt
