#include "server/storage/storage_copy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cairn/error.hpp>

namespace cairn::server {

namespace {

constexpr std::size_t kChunk = 1000;

// The key columns of `row`, to read on after it.
StoredRow key_of(const StoredTable& table, const StoredRow& row) {
  StoredRow key;
  for (std::string_view column : table.key) {
    const auto at = std::find(table.columns.begin(), table.columns.end(), column);
    key.push_back(row[static_cast<std::size_t>(at - table.columns.begin())]);
  }
  return key;
}

// Calls `each` with the table's rows a chunk at a time, in key order.
template <class Each>
void for_each_chunk(StorageTransaction& tx, const StoredTable& table, Each&& each) {
  StoredRow after;
  for (;;) {
    const std::vector<StoredRow> rows = tx.table_rows(table, after, kChunk);
    if (rows.empty()) return;
    each(rows);
    if (rows.size() < kChunk) return;
    after = key_of(table, rows.back());
  }
}

}  // namespace

CopyReport copy_storage(Storage& from, Storage& to) {
  {
    auto check = to.begin(false);
    for (const StoredTable& table : stored_tables()) {
      if ((table.name == "users" || table.name == "datasets") &&
          !check->table_rows(table, {}, 1).empty()) {
        throw Error(ErrorCode::invalid_argument,
                    "the target database already holds cairnd data; copy into an empty one");
      }
    }
  }

  CopyReport report;
  {
    auto source = from.begin(false);
    auto target = to.begin(true);
    for (const StoredTable& table : stored_tables()) {
      std::uint64_t count = 0;
      for_each_chunk(*source, table, [&](const std::vector<StoredRow>& rows) {
        target->insert_rows(table, rows);
        count += rows.size();
      });
      report.rows.emplace_back(table.name, count);
    }
    target->save_clock(source->clock());
    target->commit();
  }

  // Both read again, in the same order, row by row.
  auto source = from.begin(false);
  auto target = to.begin(false);
  for (const StoredTable& table : stored_tables()) {
    StoredRow after;
    std::uint64_t compared = 0;
    for_each_chunk(*source, table, [&](const std::vector<StoredRow>& rows) {
      const std::vector<StoredRow> copied = target->table_rows(table, after, kChunk);
      if (copied != rows) {
        throw Error(ErrorCode::corrupt,
                    fmt::format("the copy of table {} differs from the original after row {}",
                                table.name, compared));
      }
      compared += rows.size();
      after = key_of(table, rows.back());
    });
    // Past the original's last row (or from the start, when it has none), the copy has nothing.
    if (!target->table_rows(table, after, 1).empty()) {
      throw Error(ErrorCode::corrupt,
                  fmt::format("the copy of table {} has rows the original does not", table.name));
    }
  }
  if (!(target->clock() == source->clock())) {
    throw Error(ErrorCode::corrupt, "the copy's clock differs from the original's");
  }
  return report;
}

}  // namespace cairn::server
