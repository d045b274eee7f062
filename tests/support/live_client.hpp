// LiveClient — one connection to cairnd's live channel (GET /api/live) as one user, speaking the
// channel's JSON messages over a real WebSocket.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <stdexcept>
#include <string>

#include "net/websocket_client.hpp"

namespace cairn::test {

class LiveClient {
 public:
  enum class TokenIn { header, query };

  // Throws net::WebSocketRefused when the upgrade is refused.
  LiveClient(std::uint16_t port, const std::string& token, TokenIn where = TokenIn::header)
      : socket_("127.0.0.1", port,
                where == TokenIn::query ? "/api/live?token=" + token : "/api/live",
                where == TokenIn::header
                    ? std::map<std::string, std::string>{{"Authorization", "Bearer " + token}}
                    : std::map<std::string, std::string>{}) {}

  void send(const boost::json::object& message) { socket_.send(boost::json::serialize(message)); }

  // The next message; throws std::runtime_error when none comes within `timeout`, and
  // net::WebSocketClosed when the server closed the connection.
  boost::json::object next(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const std::optional<std::string> text = socket_.receive(timeout);
    if (!text) throw std::runtime_error("no message from the live channel in time");
    return boost::json::parse(*text).as_object();
  }

  // The next message of `type`, passing over others (presence, say).
  boost::json::object next(std::string_view type,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    for (;;) {
      boost::json::object message = next(timeout);
      if (message.at("type").as_string() == type) return message;
    }
  }

  // Waits for the server to close the connection; its close code (0 when it failed otherwise).
  std::uint16_t close_code(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    try {
      while (std::chrono::steady_clock::now() < deadline) {
        socket_.receive(std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now()));
      }
    } catch (const net::WebSocketClosed& closed) {
      return closed.code();
    }
    throw std::runtime_error("the live channel was not closed in time");
  }

  net::WebSocketClient& socket() { return socket_; }

 private:
  net::WebSocketClient socket_;
};

}  // namespace cairn::test
