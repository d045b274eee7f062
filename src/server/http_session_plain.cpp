// HTTP and WebSocket sessions over plain TCP (see http_session.hpp).
#include "server/http_session.hpp"

namespace cairn::server {

void serve_plain(tcp::socket socket, HttpServer::Impl& server) {
  serve<PlainStream>(std::move(socket), server);
}

}  // namespace cairn::server
