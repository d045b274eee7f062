// Plain HTTP request and response values, so that only http_server.cpp sees Boost.Beast.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cairn::server {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote;  // peer address

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Answers one request. Runs on one of the server's worker threads; may block briefly.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// A message on its way out, in the connection's kind of frame (text, or binary when the upgrade
// said so). The same payload may go to many connections (one push, fanned out).
struct OutgoingFrame {
  std::shared_ptr<const std::string> payload;
  // When the commit it pushes became durable, for the push-latency metric; empty for others.
  std::optional<std::chrono::steady_clock::time_point> committed;
  // Paced by its sender, which queues the next only once the queue has drained (when_drained):
  // held to no bound, however large (a page of a backlog).
  bool paced = false;
};

// The transport side of one WebSocket connection (RFC 6455). Thread-safe.
class WebSocketPeer {
 public:
  virtual ~WebSocketPeer() = default;
  // Queues a frame. Frames go out in the order queued. When the frames queued and not yet
  // written would exceed the connection's send-queue bound (paced frames aside), the frame is not
  // queued and the connection is closed instead (close code kCloseSlowConsumer); returns false
  // then, and once the connection is closing.
  virtual bool send(OutgoingFrame frame) = 0;
  // Runs `resume` once the send queue holds at most half its bound (at once if it does now), on
  // a network thread: it must not block. Not run if the connection closes first.
  virtual void when_drained(std::function<void()> resume) = 0;
  // Bytes queued and not yet written.
  virtual std::size_t queued_bytes() const = 0;
  // Sends a close frame with `code` and `reason` after the frames already queued; later sends are
  // dropped. A no-op once closing.
  virtual void close(std::uint16_t code, std::string reason) = 0;
};

// The application side of one WebSocket connection. Called on the handler pool, one call at a
// time: the next message is read only once on_message has returned.
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  // A message in the connection's kind of frame (a text frame's is valid UTF-8); a message in the
  // other kind closes the connection with 1003 instead.
  virtual void on_message(std::string message) = 0;
  // The connection is closed (by either side, or failed); no call follows.
  virtual void on_close() = 0;
};

// What the application decides about a WebSocket upgrade request: a handler to accept it, or the
// HTTP response that refuses it.
struct WebSocketUpgrade {
  std::shared_ptr<WebSocketHandler> handler;
  HttpResponse refusal;  // when there is no handler
  bool binary = false;   // the connection's messages are binary frames both ways (else text)
  // Accepted only to be closed at once with this code and reason (0: not): a refusal that
  // reaches a WebSocket client as a close code (browsers see no HTTP status).
  std::uint16_t close_code = 0;
  std::string close_reason;
  // The close code when the server shuts down: 1001 (going away), or what the application's
  // clients read as "come back" (y-websocket: anything outside 4400-4499, 1013 by convention).
  std::uint16_t shutdown_code = 1001;
};
// Decides on a request to upgrade to a WebSocket; `peer` is the connection it would become (frames
// sent before the handshake completes wait for it). Runs on the handler pool.
using UpgradeHandler =
    std::function<WebSocketUpgrade(const HttpRequest&, std::shared_ptr<WebSocketPeer> peer)>;

}  // namespace cairn::server
