// `cairn ydoc show|merge|diff|state-vector|extract|edit`: Yjs documents from the command line, for
// people debugging them. Files hold raw update bytes; "-" reads standard input.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace cairn::cli {

struct YdocArguments {
  std::vector<std::string> updates;  // files of updates ("-": standard input)
  std::string state_vector;          // diff: the file of an encoded state vector
  std::vector<std::string> types;    // show: "NAME=text|map|array|xml"
  bool delta = false;                // show: a Text as its delta
  bool v2 = false;                   // updates in (and out) in format v2
};

// The merged updates as one JSON object, a member per root type (crdt::show_document). Warns on
// `err` when some structs wait for updates that were not given.
void ydoc_show(const YdocArguments& arguments, std::ostream& out, std::ostream& err);
// The updates merged into one, written as raw bytes.
void ydoc_merge(const YdocArguments& arguments, std::ostream& out);
// What of the (first) update a replica at the state vector lacks, as raw bytes.
void ydoc_diff(const YdocArguments& arguments, std::ostream& out);
// The state vector the merged updates bring, as raw bytes.
void ydoc_state_vector(const YdocArguments& arguments, std::ostream& out);

// `cairn ydoc edit`: one edit of a root text of a database's document, committed (and queued for
// `cairn sync`) as libcairn's Transaction::edit_text makes it.
struct YdocEdit {
  std::string store;
  std::string key;
  std::string root = "content";
  std::optional<std::uint64_t> at;  // UTF-16 position; default: the end of the text
  std::uint64_t erase = 0;
  std::string insert;
  bool create = false;  // create the database, and declare the store as a document store
};
void ydoc_edit(const std::string& path, const YdocEdit& edit, std::ostream& out);

// Document `key` of store `store` of the database at `path` (opened read-only), as one update
// (raw bytes): `cairn ydoc extract app.db notes plan | cairn ydoc show -`. Error(not_found) when
// the key holds no document.
void ydoc_extract(const std::filesystem::path& path, const std::string& store,
                  const std::string& key, std::ostream& out);

}  // namespace cairn::cli
