// HTTPS and WSS sessions (see http_session.hpp).
#include "server/http_session.hpp"

namespace cairn::server {

void serve_tls(tcp::socket socket, HttpServer::Impl& server, ssl::context& tls) {
  serve<TlsStream>(std::move(socket), server, tls);
}

}  // namespace cairn::server
