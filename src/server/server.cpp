#include "server/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <cairn/version.hpp>
#include <chrono>

namespace cairn::server {
namespace json = boost::json;

HttpResponse error_response(int status, std::string_view code, std::string_view message) {
  return {
      status,
      "application/json",
      json::serialize(json::object{{"error", json::object{{"code", code}, {"message", message}}}}),
      {}};
}

Server::Server(ServerOptions options) : options_(std::move(options)) {
  std::filesystem::create_directories(options_.data_dir);
  http_ = std::make_unique<HttpServer>(
      options_.http, [this](const HttpRequest& request) { return handle(request); },
      HttpObserver{[this](int delta) {
        delta > 0 ? metrics_.connection_opened() : metrics_.connection_closed();
      }});
}

Server::~Server() = default;

HttpResponse Server::handle(const HttpRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  const std::string path = request.target.substr(0, request.target.find('?'));
  std::string route = path;
  HttpResponse response;
  if (path == "/healthz" || path == "/metrics") {
    if (request.method != "GET" && request.method != "HEAD") {
      response = error_response(405, "method_not_allowed", "use GET for " + path);
      response.headers.emplace_back("Allow", "GET, HEAD");
    } else if (path == "/healthz") {
      response.body = json::serialize(json::object{{"status", "ok"}, {"version", kVersion}});
    } else {
      response.content_type = "text/plain; version=0.0.4";
      response.body = metrics_.render();
    }
  } else {
    route = "unknown";
    response = error_response(404, "not_found", "no route for " + path);
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  metrics_.record_request(route, response.status, elapsed);
  spdlog::debug("request method={} path={} status={} remote={} us={}", request.method, path,
                response.status, request.remote,
                std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  return response;
}

}  // namespace cairn::server
