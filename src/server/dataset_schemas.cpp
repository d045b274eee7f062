#include "server/dataset_schemas.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "migration/chain.hpp"
#include "protocol/errors.hpp"

namespace cairn::server {
namespace json = boost::json;
using protocol::Code;
using protocol::Refusal;

const StoreSchema* DatasetSchema::store(std::string_view name) const {
  for (const StoreSchema& store : stores)
    if (store.name == name) return &store;
  return nullptr;
}

DatasetSchemas::DatasetSchemas(std::vector<StoreSchema> defaults)
    : defaults_(
          std::make_shared<const DatasetSchema>(DatasetSchema{0, std::move(defaults), {}, 0})) {}

std::shared_ptr<const DatasetSchema> DatasetSchemas::of(StorageTransaction& tx,
                                                        std::string_view dataset_id) {
  const std::optional<DatasetSchemaRow> row = tx.dataset_schema(dataset_id);
  if (!row) return defaults_;
  {
    MutexLock lock(mutex_);
    if (const auto it = parsed_.find(dataset_id);
        it != parsed_.end() && it->second->revision == row->revision) {
      return it->second;
    }
  }
  std::vector<StoreSchema> stores;
  try {
    stores = schema_from_json(json::parse(row->schema));
  } catch (const std::exception& e) {
    throw Error(ErrorCode::corrupt, fmt::format("dataset '{}' has a schema (revision {}) that "
                                                "does not load: {}",
                                                dataset_id, row->revision, e.what()));
  }
  auto schema = std::make_shared<const DatasetSchema>(
      DatasetSchema{row->revision, std::move(stores), row->user_id, row->server_ms});
  MutexLock lock(mutex_);
  parsed_.insert_or_assign(std::string(dataset_id), schema);
  return schema;
}

protocol::DatasetSchemaMessage DatasetSchemas::message(const DatasetRow& dataset,
                                                       const DatasetSchema& schema) {
  return {dataset.id, schema.revision, schema_to_json(schema.stores), schema.updated_by,
          schema.updated_ms};
}

protocol::DatasetSchemaMessage DatasetSchemas::describe(StorageTransaction& tx,
                                                        const DatasetRow& dataset) {
  return message(dataset, *of(tx, dataset.id));
}

protocol::DatasetSchemaMessage DatasetSchemas::publish(StorageTransaction& tx,
                                                       const DatasetRow& dataset,
                                                       const std::string& user_id,
                                                       const json::value& body,
                                                       std::int64_t now_ms) {
  std::vector<StoreSchema> next;
  try {
    next = schema_from_json(body);
  } catch (const Error& e) {
    throw Refusal(Code::invalid_schema, e.what());
  }
  const std::shared_ptr<const DatasetSchema> current = of(tx, dataset.id);
  const std::string text = json::serialize(schema_to_json(next));
  if (current->revision > 0 && text == json::serialize(schema_to_json(current->stores))) {
    return message(dataset, *current);  // the same schema again: nothing new
  }
  StoredVersions stored;
  for (const StoreVersionCount& count : tx.entry_versions(dataset.id))
    stored[count.store][count.version] = count.entries;
  if (const std::optional<SuccessionProblem> problem =
          check_succession(current->stores, next, stored)) {
    json::object details{{"store", problem->store}};
    if (problem->entries > 0) {
      details["version"] = problem->version;
      details["entries"] = problem->entries;
    }
    throw Refusal(Code::schema_conflict, problem->message, std::move(details));
  }
  const DatasetSchemaRow row{current->revision + 1, text, user_id, now_ms};
  tx.add_dataset_schema(dataset.id, row);
  return message(dataset, DatasetSchema{row.revision, std::move(next), user_id, now_ms});
}

}  // namespace cairn::server
