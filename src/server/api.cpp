// The /api routes: decoding HTTP requests (JSON bodies with a depth bound, bearer tokens, query
// parameters), rate limiting, dispatch to Accounts and SyncService, and every failure turned into
// {"error": {"code", "message"}} with its status.
#include "server/api.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <cairn/error.hpp>
#include <charconv>

#include "foundation/json_text.hpp"
#include "foundation/limits.hpp"
#include "protocol/datasets.hpp"
#include "protocol/errors.hpp"
#include "protocol/session.hpp"
#include "protocol/sync_request.hpp"
#include "server/http_status.hpp"

namespace cairn::server {
namespace json = boost::json;
using protocol::Code;
using protocol::Refusal;

namespace {

HttpResponse json_response(int status, std::string body) {
  return {status, "application/json", std::move(body), {}};
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto end = path.find('/');
    parts.push_back(path.substr(0, end));
    path = end == std::string_view::npos ? std::string_view() : path.substr(end);
  }
  return parts;
}

[[noreturn]] void method_not_allowed(std::string_view allowed) {
  throw Refusal(Code::method_not_allowed, fmt::format("use {}", allowed));
}

std::size_t size_param(const std::map<std::string, std::string>& query, const std::string& name,
                       std::size_t fallback) {
  auto it = query.find(name);
  if (it == query.end()) return fallback;
  std::size_t value = 0;
  auto [end, error] =
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
  if (error != std::errc() || end != it->second.data() + it->second.size() || value == 0) {
    throw Refusal(Code::invalid_request, fmt::format("\"{}\" must be a positive integer", name));
  }
  return value;
}

std::string required_param(const std::map<std::string, std::string>& query,
                           const std::string& name) {
  auto it = query.find(name);
  if (it == query.end() || it->second.empty()) {
    throw Refusal(Code::invalid_request, fmt::format("the query needs \"{}\"", name));
  }
  return it->second;
}

HttpResponse session_response(int status, const Session& session) {
  return {status,
          "application/json",
          protocol::encode_session({session.user_id, session.token, session.expires_ms,
                                    session.dataset_id, session.upgraded}),
          {}};
}

}  // namespace

Api::Api(Accounts& accounts, SyncService& sync, Manifests& manifests, RateLimiter& limiter,
         std::size_t max_json_depth)
    : accounts_(accounts),
      sync_(sync),
      manifests_(manifests),
      limiter_(limiter),
      max_json_depth_(max_json_depth) {}

json::object Api::parse_body(const HttpRequest& request) const {
  if (request.body.empty()) return {};
  json::parse_options options;
  options.max_depth = max_json_depth_;
  std::error_code error;
  // One arena per request body: its values are parsed, merged and written within the request,
  // and freed together when the last of them goes.
  json::value value = json::parse(request.body, error,
                                  json::make_shared_resource<json::monotonic_resource>(), options);
  if (error == json::error::too_deep) {
    throw Refusal(Code::json_too_deep,
                  fmt::format("the body nests deeper than {} levels", max_json_depth_));
  }
  if (error) {
    throw Refusal(Code::malformed_json, fmt::format("the body is not JSON: {}", error.message()));
  }
  if (!value.is_object()) throw Refusal(Code::malformed_json, "the body must be a JSON object");
  return std::move(value.get_object());
}

HttpResponse Api::handle(const HttpRequest& request, std::string& route) {
  try {
    return dispatch(request, route);
  } catch (const Refusal& e) {
    return refusal_response(e);
  } catch (const Error& e) {
    const Refusal refusal = as_refusal(e);
    if (refusal.code() == Code::internal) {
      spdlog::error("request method={} target={} error={} {}", request.method,
                    loggable_target(request.target), error_code_name(e.code()), e.what());
    }
    return refusal_response(refusal);
  }
}

HttpResponse Api::dispatch(const HttpRequest& request, std::string& route) {
  boost::system::result<boost::urls::url_view> url = boost::urls::parse_origin_form(request.target);
  if (!url) throw Refusal(Code::invalid_request, "the request target is not a valid URL path");
  const std::string path = url->path();
  std::map<std::string, std::string> query;
  for (const auto& param : url->params())
    query[param.key] = param.value;
  const std::vector<std::string_view> parts = split_path(path);
  const std::string& method = request.method;

  // Rate limiting: per token when there is one, per peer address otherwise.
  const std::string authorization = request.header("authorization");
  const std::string bucket = authorization.empty() ? "ip:" + request.remote : authorization;
  if (const int wait = limiter_.acquire(bucket); wait > 0) {
    route = "rate_limited";
    throw Refusal(Code::rate_limited, fmt::format("too many requests; retry in {} s", wait),
                  json::object{{"retryAfter", wait}});
  }

  const auto is = [&](std::initializer_list<std::string_view> expected) {
    return parts.size() == expected.size() &&
           std::equal(parts.begin(), parts.end(), expected.begin());
  };
  const auto authenticated = [&] { return accounts_.authenticate(authorization); };

  if (is({"api", "auth", "guest"})) {
    route = "/api/auth/guest";
    if (method != "POST") method_not_allowed("POST");
    return session_response(201, accounts_.create_guest());
  }
  if (is({"api", "auth", "google"})) {
    route = "/api/auth/google";
    if (method != "POST") method_not_allowed("POST");
    const json::object body = parse_body(request);
    std::optional<Caller> guest;
    if (!authorization.empty()) guest = authenticated();
    const Session session = accounts_.sign_in_with_google(protocol::decode_id_token(body), guest);
    return session_response(session.created ? 201 : 200, session);
  }
  if (is({"api", "auth", "logout"})) {
    route = "/api/auth/logout";
    if (method != "POST") method_not_allowed("POST");
    accounts_.logout(authenticated());
    return {204, "application/json", "", {}};
  }
  if (is({"api", "me"})) {
    route = "/api/me";
    if (method != "GET") method_not_allowed("GET");
    return json_response(200, protocol::encode_user(accounts_.describe(authenticated())));
  }
  if (is({"api", "datasets"})) {
    route = "/api/datasets";
    const Caller caller = authenticated();
    if (method == "GET") {
      return json_response(200, protocol::encode_dataset_list(accounts_.list_datasets(caller)));
    }
    if (method != "POST") method_not_allowed("GET, POST");
    const std::string name = protocol::decode_dataset_name(parse_body(request));
    return json_response(201, protocol::encode_dataset(accounts_.create_dataset(caller, name)));
  }
  if (parts.size() >= 4 && parts[0] == "api" && parts[1] == "datasets" && parts[3] == "members") {
    route = "/api/datasets/:id/members";
    const Caller caller = authenticated();
    const std::string dataset(parts[2]);
    if (parts.size() == 4 && method == "POST") {
      const protocol::MemberRequest member = protocol::decode_member_request(parse_body(request));
      const std::optional<Role> role = role_from_name(member.role);
      if (!role) {
        throw Refusal(Code::invalid_request, "\"role\" is one of owner, editor, viewer");
      }
      return json_response(200, protocol::encode_members(
                                    accounts_.set_member(caller, dataset, member.user_id, *role)));
    }
    if (parts.size() == 5 && method == "DELETE") {
      route = "/api/datasets/:id/members/:user";
      accounts_.remove_member(caller, dataset, parts[4]);
      return {204, "application/json", "", {}};
    }
    method_not_allowed(parts.size() == 4 ? "POST" : "DELETE");
  }
  if (parts.size() == 4 && parts[0] == "api" && parts[1] == "datasets" && parts[3] == "schema") {
    route = "/api/datasets/:id/schema";
    const Caller caller = authenticated();
    const std::string dataset(parts[2]);
    const auto authorizer = [&](Role needed) {
      return [&, needed](StorageTransaction& tx) {
        return accounts_.authorize(tx, caller, dataset, needed);
      };
    };
    if (method == "GET") {
      return json_response(
          200, protocol::encode_dataset_schema(sync_.dataset_schema(authorizer(Role::viewer))));
    }
    if (method != "PUT") method_not_allowed("GET, PUT");
    const json::value body = parse_body(request);
    return json_response(200, protocol::encode_dataset_schema(
                                  sync_.publish_schema(caller, authorizer(Role::owner), body)));
  }
  if (is({"api", "sync", "full"}) || is({"api", "sync", "patch"})) {
    const bool full = parts[2] == "full";
    route = full ? "/api/sync/full" : "/api/sync/patch";
    if (method != "POST") method_not_allowed("POST");
    const Caller caller = authenticated();
    json::object body = parse_body(request);
    const SyncService::Authorizer authorize = accounts_.sync_authorizer(caller, body);
    return json_response(
        200, full ? protocol::encode_full_response(sync_.full(caller, authorize, body))
                  : protocol::encode_patch_response(sync_.patch(caller, authorize, body)));
  }
  if (is({"api", "sync", "changes"})) {
    route = "/api/sync/changes";
    if (method != "GET") method_not_allowed("GET");
    const Caller caller = authenticated();
    const auto dataset_param = query.find("dataset");
    const DatasetRow dataset = accounts_.authorize(
        caller, dataset_param == query.end() ? "" : dataset_param->second, Role::viewer);
    const auto since = query.find("since");
    const auto versions = query.find("versions");
    return json_response(
        200, protocol::encode_changes_response(
                 sync_.changes(
                     dataset, since == query.end() ? 0 : protocol::parse_cursor(since->second),
                     size_param(query, "limit", sync_.settings().page_size),
                     versions == query.end() ? protocol::StoreVersions{}
                                             : protocol::versions_from_query(versions->second)),
                 sync_.now_ms()));
  }
  if ((parts.size() == 4 || (parts.size() == 5 && parts[4] == "chunks")) && parts[0] == "api" &&
      parts[1] == "manifest") {
    const bool chunks = parts.size() == 5;
    route = chunks ? "/api/manifest/:dataset/:store/chunks" : "/api/manifest/:dataset/:store";
    if (method != (chunks ? "POST" : "GET")) method_not_allowed(chunks ? "POST" : "GET");
    const Caller caller = authenticated();
    const std::string store(parts[3]);
    try {
      check_store_name(store);
    } catch (const Error& e) {
      throw Refusal(Code::invalid_store, e.what());
    }
    if (chunks) {
      const protocol::ChunkRequest wanted = protocol::decode_chunk_request(parse_body(request));
      const DatasetRow dataset = accounts_.authorize(caller, parts[2], Role::viewer);
      return {200, "application/octet-stream", manifests_.chunks(dataset.id, store, wanted), {}};
    }
    const std::uint32_t span = protocol::chunk_span(size_param(query, "span", 1));
    const DatasetRow dataset = accounts_.authorize(caller, parts[2], Role::viewer);
    Manifests::Answer answer =
        manifests_.manifest(dataset.id, store, span, request.header("if-none-match"));
    return {answer.status,
            "application/json",
            std::move(answer.body),
            {{"ETag", answer.etag}, {"Cache-Control", "no-cache"}}};
  }
  if (is({"api", "live"})) {
    route = "/api/live";
    throw Refusal(Code::upgrade_required,
                  "GET /api/live is a WebSocket: send the upgrade (see docs/protocol.md)");
  }
  if (is({"api", "history"})) {
    route = "/api/history";
    if (method != "GET") method_not_allowed("GET");
    const Caller caller = authenticated();
    const auto dataset_param = query.find("dataset");
    const DatasetRow dataset = accounts_.authorize(
        caller, dataset_param == query.end() ? "" : dataset_param->second, Role::viewer);
    const std::size_t limit = size_param(query, "limit", 1000);
    // A collaborative document's updates are kept under the empty store (no store has that name).
    if (const auto document = query.find("document"); document != query.end()) {
      return json_response(
          200, protocol::encode_history(sync_.history(dataset, "", document->second, limit)));
    }
    return json_response(
        200, protocol::encode_history(sync_.history(dataset, required_param(query, "store"),
                                                    required_param(query, "key"), limit)));
  }
  route = "unknown";
  throw Refusal(Code::not_found, fmt::format("no route for {} {}", method, path));
}

}  // namespace cairn::server
