// Relative positions (Yjs: utils/RelativePosition.js): a place in a Text, an Array or an
// XmlFragment named by the item next to it rather than by an index, so that it stays where it was
// while others edit — a cursor, a selection, a comment's anchor. Encoded as Yjs encodes them, so
// that a browser's and Cairn's positions are interchangeable.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "crdt/doc.hpp"

namespace cairn::crdt {

struct RelativePosition {
  OptionalID type;                   // the nested type's item (when not a root)
  std::optional<std::string> tname;  // the root type's name (when a root and no item)
  OptionalID item;                   // the item whose unit the position is before (or after)
  // >= 0: before the item's unit, moving with it; < 0: after the previous unit (the position
  // stays with what is on its left).
  std::int64_t assoc = 0;
  friend bool operator==(const RelativePosition&, const RelativePosition&) = default;
};

// Where an absolute `index` (UTF-16 units in a Text) of `type` is, relative to its items (Yjs's
// createRelativePositionFromTypeIndex). `type` must belong to a document.
RelativePosition relative_position(const Type& type, std::uint64_t index, std::int64_t assoc = 0);

struct AbsolutePosition {
  Type* type = nullptr;
  std::uint64_t index = 0;
  std::int64_t assoc = 0;
};

// The index a relative position has in `doc` now (Yjs's
// createAbsolutePositionFromRelativePosition): nullopt when the document does not have its item or
// type yet, or has garbage-collected it. `follow_undone`: a position in content an undo deleted and
// a redo brought back follows it.
std::optional<AbsolutePosition> absolute_position(Doc& doc, const RelativePosition& position,
                                                  bool follow_undone = true);

// Yjs's encodeRelativePosition and decodeRelativePosition; DecodeError for anything else.
Bytes encode_relative_position(const RelativePosition& position);
RelativePosition decode_relative_position(std::span<const std::uint8_t> bytes);

}  // namespace cairn::crdt
