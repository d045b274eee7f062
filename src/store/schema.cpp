#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cairn/error.hpp>
#include <cairn/schema.hpp>

#include "foundation/limits.hpp"
#include "migration/chain.hpp"

namespace cairn {
namespace json = boost::json;

void validate_store_schema(StoreSchema& schema) {
  check_store_name(schema.name);
  if (schema.version < 1) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("store '{}' declares version 0; versions start at 1", schema.name));
  }
  validate_policy(schema.policy);
  validate_migrations(schema);
  if (const auto& manifest = schema.manifest) {
    if (schema.policy.kind == MergePolicy::Kind::text) {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("store '{}' holds documents, which are not hydrated by manifest",
                              schema.name));
    }
    if (manifest->ttl.count() < 0 || manifest->chunk_entries < 1 ||
        manifest->chunk_entries > ManifestHydration::kMaxChunkEntries) {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("store '{}': a manifest's ttl must be >= 0 and its chunk_entries "
                              "from 1 to {}",
                              schema.name, ManifestHydration::kMaxChunkEntries));
    }
  }
}

}  // namespace cairn
