// Server — cairnd: routes requests to handlers over an HttpServer, and owns its data directory.
//
// Today it serves GET /healthz and GET /metrics; the sync API arrives with the sync-server issue.
// Every error is answered as {"error": {"code": "...", "message": "..."}} with a fitting status.
#pragma once

#include <filesystem>
#include <memory>

#include "server/http_server.hpp"
#include "server/metrics.hpp"

namespace cairn::server {

struct ServerOptions {
  HttpServerOptions http;
  std::filesystem::path data_dir = "var";
};

class Server {
 public:
  // Creates the data directory and binds the listening socket; throws on failure.
  explicit Server(ServerOptions options);
  ~Server();

  std::uint16_t port() const { return http_->port(); }
  void run() { http_->run(); }
  void stop() { http_->stop(); }

 private:
  HttpResponse handle(const HttpRequest& request);

  ServerOptions options_;
  Metrics metrics_;
  std::unique_ptr<HttpServer> http_;
};

// {"error": {"code": code, "message": message}} with `status`.
HttpResponse error_response(int status, std::string_view code, std::string_view message);

}  // namespace cairn::server
