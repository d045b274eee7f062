// `cairn migrate`, `cairn backups` and `cairn restore`.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace cairn::cli {

// Migrates the stores a schema file declares. With `dry_run`, prints per store the plan (versions,
// steps) and a diff of `samples` entries, runs the chain over a copy of each store to find
// failures, and changes nothing. Returns the exit code (1 when a store cannot or would not
// migrate).
int migrate(const std::string& path, const std::string& schema_file, bool dry_run,
            std::size_t samples, bool as_json, std::ostream& out);
void list_backups(const std::string& path, bool as_json, std::ostream& out);
void restore(const std::string& path, const std::string& store, std::int64_t backup, bool as_json,
             std::ostream& out);

}  // namespace cairn::cli
