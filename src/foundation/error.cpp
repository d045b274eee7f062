#include <cairn/error.hpp>

namespace cairn {

std::string_view error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_argument:
      return "invalid_argument";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::invalid_key:
      return "invalid_key";
    case ErrorCode::invalid_value:
      return "invalid_value";
    case ErrorCode::value_too_large:
      return "value_too_large";
    case ErrorCode::quota_exceeded:
      return "quota_exceeded";
    case ErrorCode::unknown_store:
      return "unknown_store";
    case ErrorCode::read_only:
      return "read_only";
    case ErrorCode::schema_too_new:
      return "schema_too_new";
    case ErrorCode::migration_required:
      return "migration_required";
    case ErrorCode::migration_failed:
      return "migration_failed";
    case ErrorCode::not_a_cairn_database:
      return "not_a_cairn_database";
    case ErrorCode::corrupt:
      return "corrupt";
    case ErrorCode::format_too_new:
      return "format_too_new";
    case ErrorCode::database_locked:
      return "database_locked";
    case ErrorCode::io_error:
      return "io_error";
    case ErrorCode::transaction_closed:
      return "transaction_closed";
    case ErrorCode::unavailable:
      return "unavailable";
    case ErrorCode::unauthorized:
      return "unauthorized";
    case ErrorCode::forbidden:
      return "forbidden";
    case ErrorCode::refused:
      return "refused";
  }
  return "unknown";
}

}  // namespace cairn
