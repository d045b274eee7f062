#include "protocol/errors.hpp"

#include <array>
#include <boost/json.hpp>
#include <utility>

#include "foundation/json_text.hpp"

namespace cairn::protocol {
namespace json = boost::json;

namespace {

constexpr std::array<std::pair<Code, std::string_view>, 28> kNames{{
    {Code::invalid_request, "invalid_request"},
    {Code::malformed_json, "malformed_json"},
    {Code::json_too_deep, "json_too_deep"},
    {Code::malformed_http, "malformed_http"},
    {Code::unauthorized, "unauthorized"},
    {Code::invalid_id_token, "invalid_id_token"},
    {Code::forbidden, "forbidden"},
    {Code::not_found, "not_found"},
    {Code::method_not_allowed, "method_not_allowed"},
    {Code::sequence_gap, "sequence_gap"},
    {Code::sequence_reused, "sequence_reused"},
    {Code::account_exists, "account_exists"},
    {Code::owner_required, "owner_required"},
    {Code::invalid_schema, "invalid_schema"},
    {Code::schema_conflict, "schema_conflict"},
    {Code::cursor_expired, "cursor_expired"},
    {Code::cursor_compacted, "cursor_compacted"},
    {Code::payload_too_large, "payload_too_large"},
    {Code::invalid_key, "invalid_key"},
    {Code::value_too_large, "value_too_large"},
    {Code::invalid_store, "invalid_store"},
    {Code::clock_skew, "clock_skew"},
    {Code::rate_limited, "rate_limited"},
    {Code::headers_too_large, "headers_too_large"},
    {Code::internal, "internal"},
    {Code::not_configured, "not_configured"},
    {Code::unavailable, "unavailable"},
    {Code::upgrade_required, "upgrade_required"},
}};

}  // namespace

std::string_view code_name(Code code) noexcept {
  for (const auto& [known, name] : kNames) {
    if (known == code) return name;
  }
  return "internal";
}

std::optional<Code> code_from_name(std::string_view name) noexcept {
  for (const auto& [code, known] : kNames) {
    if (known == name) return code;
  }
  return std::nullopt;
}

std::string error_body(Code code, std::string_view message, const json::object& details) {
  json::object error{{"code", code_name(code)}, {"message", message}};
  for (const auto& [name, value] : details)
    error[name] = value;
  return json_text(json::object{{"error", std::move(error)}});
}

std::string error_body(const Refusal& refusal) {
  return error_body(refusal.code(), refusal.what(), refusal.details());
}

std::optional<ErrorBody> decode_error_body(std::string_view body) {
  std::error_code error;
  const json::value value = json::parse(body, error);
  const json::object* root = error ? nullptr : value.if_object();
  const json::value* member = root ? root->if_contains("error") : nullptr;
  const json::object* object = member ? member->if_object() : nullptr;
  if (object == nullptr) return std::nullopt;
  const json::value* code = object->if_contains("code");
  const json::value* message = object->if_contains("message");
  if (code == nullptr || !code->is_string() || message == nullptr || !message->is_string()) {
    return std::nullopt;
  }
  ErrorBody decoded{std::string(code->get_string()), std::string(message->get_string()), {}};
  for (const auto& [name, value] : *object) {
    if (name != "code" && name != "message") decoded.details[name] = value;
  }
  return decoded;
}

}  // namespace cairn::protocol
