// DatasetSchemas — each dataset's schema (docs/migrations.md, "Old and new apps at once"): the
// stores, versions, merge policies and migration chains of the application that uses it, as its
// owner published them with PUT /api/datasets/:id/schema; the server's default (cairnd --schema)
// for a dataset that has none.
//
// A published schema only moves forward (check_succession in src/migration/chain.hpp): each
// revision keeps every store at the same or a higher version with the same policy and the steps
// devices have run, and its chains take every stored entry to its store's version.
//
// Thread-safe: parsed schemas are kept per dataset and revision.
#pragma once

#include <boost/json/value.hpp>
#include <cairn/schema.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "foundation/mutex.hpp"
#include "protocol/datasets.hpp"
#include "server/storage/storage.hpp"

namespace cairn::server {

// One revision of a dataset's schema, parsed.
struct DatasetSchema {
  std::uint64_t revision = 0;  // 0: the server's default
  std::vector<StoreSchema> stores;
  std::string updated_by;
  std::int64_t updated_ms = 0;

  // The store's declaration, or null when the schema does not declare it.
  const StoreSchema* store(std::string_view name) const;
};

class DatasetSchemas {
 public:
  explicit DatasetSchemas(std::vector<StoreSchema> defaults);

  // The dataset's schema as `tx` sees it.
  std::shared_ptr<const DatasetSchema> of(StorageTransaction& tx, std::string_view dataset_id);
  // The server's default.
  const DatasetSchema& defaults() const { return *defaults_; }

  // GET /api/datasets/:id/schema.
  protocol::DatasetSchemaMessage describe(StorageTransaction& tx, const DatasetRow& dataset);
  // PUT: `body` is the schema in the form `cairn migrate --schema` reads. Keeps it as the next
  // revision in `tx` (a write transaction that has read the dataset, so that no write of its
  // entries runs meanwhile), unless it equals the current one. Refusal invalid_schema when it
  // does not parse or its chains are not valid, schema_conflict when it may not follow the
  // current schema (with "store", and "version" and "entries" when entries would be stranded).
  protocol::DatasetSchemaMessage publish(StorageTransaction& tx, const DatasetRow& dataset,
                                         const std::string& user_id, const boost::json::value& body,
                                         std::int64_t now_ms);

 private:
  protocol::DatasetSchemaMessage message(const DatasetRow& dataset, const DatasetSchema& schema);

  std::shared_ptr<const DatasetSchema> defaults_;
  Mutex mutex_;
  std::map<std::string, std::shared_ptr<const DatasetSchema>, std::less<>> parsed_
      GUARDED_BY(mutex_);
};

}  // namespace cairn::server
