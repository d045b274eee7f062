// Translation between a store's schema versions: the one home for it (docs/migrations.md, "Old
// and new apps at once"). The server translates every change up to its entry's version before
// merging, and every entry it serves to the version the client runs; a database translates what
// it receives and what it migrates when it opens. Both sides use these functions, so every
// replica translates alike.
//
// A translation runs the chain's per-entry operations (up through every step, down through
// invertible ones: migrate_entry). What it adds to migrate_entry is the merge state:
//   - per-field stamps follow the fields: a renamed field keeps its stamp under its new name, a
//     field that moves inside another raises that one's stamp to its own, a field an operation
//     adds (a default) is stamped at the entry's floor or, without one, at the dawn of time, so
//     that any write of it wins over the default; a removed field's stamp goes with it; a custom
//     operation stamps every field with the entry's stamp.
//   - a change from an older (or newer) client is rewritten as the change it makes to the entry
//     at the entry's version: only the fields it touched, so that fields the client's version
//     does not know keep their values and stamps (a v1 device renaming an entry does not erase
//     v2's createdAt).
#pragma once

#include <cairn/schema.hpp>
#include <cstdint>
#include <string_view>

#include "merge/entry.hpp"

namespace cairn {

// Takes `entry` (value, per-field stamps, version) to version `to`. A tombstone only changes
// version. Throws MigrationError as migrate_entry does, leaving `entry` as it was.
void translate_entry(const StoreSchema& schema, merge::Entry& entry, std::uint32_t to,
                     std::string_view key = {});

// Rewrites `change` (written at change.schema_version) as the change it makes at version `to`
// to `current`, an entry held at `to` (or deleted, or never written). Deletes and document
// updates only change version. For a put or a patch: the value the client's write leaves at its
// own version (on `current` translated down to it, when that can be done), translated up (or
// down), compared field by field with `current` translated there and back: the fields that
// differ are what the change writes — as a patch, or for a put, `current`'s value with those
// fields written. A counter the change increments stays an increment. Throws MigrationError
// when the client's value cannot be translated to `to`.
merge::Change translate_change(const StoreSchema& schema, const merge::Entry& current,
                               merge::Change change, std::uint32_t to, std::string_view key = {});

}  // namespace cairn
