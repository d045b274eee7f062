// copy_storage — moves a server's data from one Storage to another (cairnd --copy-to: SQLite's
// cairnd.db into PostgreSQL), then proves the copy by reading both again.
//
// Everything moves as it is: accounts, token hashes, datasets and members, entries with their
// feed positions, each client's exactly-once record, history, and the clock. Devices therefore go
// on syncing from their cursors against the copy, without a full sync.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "server/storage/storage.hpp"

namespace cairn::server {

struct CopyReport {
  std::vector<std::pair<std::string, std::uint64_t>> rows;  // per table, in stored_tables() order
};

// Reads `from` in one snapshot and writes `to` in one transaction, so a failure leaves `to` as it
// was. Error(invalid_argument) when `to` already holds users or datasets; Error(corrupt) when
// reading both back finds a difference.
CopyReport copy_storage(Storage& from, Storage& to);

}  // namespace cairn::server
