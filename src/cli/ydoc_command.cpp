// `cairn ydoc`: the crdt layer's documents and updates, from files or a database's documents.
#include "cli/ydoc_command.hpp"

#include <fmt/format.h>

#include <cairn/database.hpp>
#include <cairn/error.hpp>
#include <cairn/transaction.hpp>

#include "cli/command.hpp"
#include "crdt/lib0.hpp"
#include "crdt/show.hpp"

namespace cairn::cli {

namespace {

struct Update {
  std::string file;
  crdt::Bytes bytes;
};

std::vector<Update> read_updates(const YdocArguments& arguments) {
  std::vector<Update> updates;
  for (const std::string& file : arguments.updates) {
    const std::string text = read_input(file);
    updates.push_back({file, crdt::Bytes(text.begin(), text.end())});
  }
  return updates;
}

[[noreturn]] void not_an_update(const std::string& file, const crdt::DecodeError& e) {
  throw Error(
      ErrorCode::invalid_argument,
      fmt::format("'{}' is not a Yjs update in this format (--v2 switches to format v2): {}",
                  file == "-" ? "stdin" : file, e.what()));
}

// The crdt layer's functions for the format the arguments name.
struct Format {
  void (crdt::Doc::*apply)(std::span<const std::uint8_t>, const void*);
  crdt::Bytes (*state_vector)(std::span<const std::uint8_t>);
  crdt::Bytes (*merge)(const std::vector<std::span<const std::uint8_t>>&);
  crdt::Bytes (*diff)(std::span<const std::uint8_t>, const crdt::StateVector&);
};

Format format(const YdocArguments& arguments) {
  if (arguments.v2) {
    return {&crdt::Doc::apply_update_v2, &crdt::encode_state_vector_from_update_v2,
            &crdt::merge_updates_v2, &crdt::diff_update_v2};
  }
  return {&crdt::Doc::apply_update_v1, &crdt::encode_state_vector_from_update_v1,
          &crdt::merge_updates_v1, &crdt::diff_update_v1};
}

// Each update checked on its own first, so that an error names the file it is in.
crdt::Bytes merged(const YdocArguments& arguments, const std::vector<Update>& updates) {
  std::vector<std::span<const std::uint8_t>> spans;
  for (const Update& update : updates) {
    try {
      format(arguments).state_vector(update.bytes);
    } catch (const crdt::DecodeError& e) {
      not_an_update(update.file, e);
    }
    spans.emplace_back(update.bytes);
  }
  if (spans.size() == 1) return updates.front().bytes;
  return format(arguments).merge(spans);
}

void write_bytes(std::ostream& out, const crdt::Bytes& bytes) {
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

crdt::ShowOptions show_options(const YdocArguments& arguments) {
  crdt::ShowOptions options;
  options.delta = arguments.delta;
  for (const std::string& type : arguments.types) {
    const auto equals = type.rfind('=');
    const auto kind = equals == std::string::npos
                          ? std::nullopt
                          : crdt::root_kind_named(std::string_view(type).substr(equals + 1));
    if (!kind || equals == 0) {
      throw Error(
          ErrorCode::invalid_argument,
          fmt::format("--type '{}': expected NAME=text, NAME=map, NAME=array or NAME=xml", type));
    }
    options.kinds[type.substr(0, equals)] = *kind;
  }
  return options;
}

}  // namespace

void ydoc_show(const YdocArguments& arguments, std::ostream& out, std::ostream& err) {
  const crdt::ShowOptions options = show_options(arguments);
  crdt::Doc doc(0);
  for (const Update& update : read_updates(arguments)) {
    try {
      (doc.*format(arguments).apply)(update.bytes, nullptr);
    } catch (const crdt::DecodeError& e) {
      not_an_update(update.file, e);
    }
  }
  if (doc.has_pending()) {
    err << "cairn: warning: some changes depend on updates that were not given; they are not "
           "shown\n";
  }
  out << crdt::to_json(crdt::show_document(doc, options)) << '\n';
}

void ydoc_merge(const YdocArguments& arguments, std::ostream& out) {
  write_bytes(out, merged(arguments, read_updates(arguments)));
}

void ydoc_diff(const YdocArguments& arguments, std::ostream& out) {
  const std::vector<Update> updates = read_updates(arguments);
  const std::string text = read_input(arguments.state_vector);
  crdt::StateVector since;
  try {
    since = crdt::Doc::decode_state_vector(crdt::Bytes(text.begin(), text.end()));
  } catch (const crdt::DecodeError& e) {
    throw Error(ErrorCode::invalid_argument, fmt::format("'{}' is not a Yjs state vector: {}",
                                                         arguments.state_vector, e.what()));
  }
  write_bytes(out, format(arguments).diff(merged(arguments, updates), since));
}

void ydoc_state_vector(const YdocArguments& arguments, std::ostream& out) {
  write_bytes(out, format(arguments).state_vector(merged(arguments, read_updates(arguments))));
}

void ydoc_edit(const std::string& path, const YdocEdit& edit, std::ostream& out) {
  if (!edit.create && !database_exists(path)) {
    throw Error(ErrorCode::not_found,
                fmt::format("there is no Cairn database at '{}'; add --create to make one", path));
  }
  Database db = Database::open(
      path, edit.create ? creating_options(path, {edit.store, 1, MergePolicy::document()})
                        : writable_options());
  const std::uint64_t at =
      edit.at ? *edit.at : crdt::utf16(db.document_text(edit.store, edit.key, edit.root)).size();
  auto tx = db.transaction();
  tx.edit_text(edit.store, edit.key, at, edit.erase, edit.insert, edit.root);
  tx.commit();
  out << "edited " << edit.store << '/' << edit.key << " (" << db.pending_count()
      << " pending; `cairn sync " << path << "` sends them)\n";
}

void ydoc_extract(const std::filesystem::path& path, const std::string& store,
                  const std::string& key, std::ostream& out) {
  const Database db = Database::open(path, read_only_options());
  const std::string state = db.document(store, key);
  if (state.empty()) {
    throw Error(ErrorCode::not_found,
                fmt::format("store '{}' holds no document '{}' in {}", store, key, path.string()));
  }
  out.write(state.data(), static_cast<std::streamsize>(state.size()));
}

}  // namespace cairn::cli
