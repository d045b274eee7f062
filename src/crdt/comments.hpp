// Comments anchored to text, kept inside the document so that every replica — a browser with
// plain Yjs included — reads and writes them (docs/collaboration.md, "Comments"). The layout:
//
//   root Map "comments": comment id -> Map {
//     "text":      the name of the root Text (or XmlText) the comment annotates   (string)
//     "start":     Yjs's encodeRelativePosition of the range's start, sticking to the first
//                  character of the range (assoc 0)                               (Uint8Array)
//     "end":       the same for its end, sticking to the last character (assoc -1) (Uint8Array)
//     "body", "author": strings; "createdAt": milliseconds since the epoch (number);
//     "resolved":  boolean
//   }
//
// Anchors are relative positions, so a comment keeps pointing at the same characters while
// others insert and delete around and inside them; once all of its characters are deleted it is
// `detached` (its range is empty, at the place the text was).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crdt/doc.hpp"

namespace cairn::crdt {

inline constexpr const char* kCommentsRoot = "comments";

struct Comment {
  std::string id;
  std::string text;         // the root it annotates
  std::uint64_t start = 0;  // its range now, in UTF-16 units of that text
  std::uint64_t end = 0;    // exclusive
  bool detached = false;    // every character it annotated was deleted (or its anchors are gone)
  std::string body;
  std::string author;
  double created_ms = 0;
  bool resolved = false;
};

// Adds a comment on [start, end) of the root Text `text` (which must be non-empty: start < end
// <= its length; std::out_of_range otherwise), in one transaction. Returns its id, unique in the
// document ("<client id>-<clock>").
std::string add_comment(Doc& doc, const std::string& text, std::uint64_t start, std::uint64_t end,
                        const std::string& body, const std::string& author, double created_ms);
// The document's comments with their ranges resolved now, in the order of their ranges (detached
// ones last, by id). Entries that do not follow the layout are passed over.
std::vector<Comment> comments(Doc& doc);
void set_comment_resolved(Doc& doc, const std::string& id, bool resolved);
void delete_comment(Doc& doc, const std::string& id);

}  // namespace cairn::crdt
