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
}

}  // namespace cairn
