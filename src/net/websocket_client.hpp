// WebSocketClient — a blocking WebSocket (RFC 6455) client over one TCP connection: the live
// channel's client side for the sync engine's thread, `cairn watch`, and the tests and benchmarks.
//
// A read is always pending underneath, so that pings are answered and the server's messages are
// taken in whenever the client runs (in send() or receive()); receive() hands them over in order.
// Between calls nothing is read: the server's frames wait in the socket.
// Not thread-safe: one thread uses a client at a time (abort() and interrupt() excepted).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "net/http_client.hpp"  // TlsOptions

namespace cairn::net {

// The connection ended: closed by the server (`code` and `reason` from its close frame) or failed
// (`code` 0, `reason` says why).
class WebSocketClosed : public std::runtime_error {
 public:
  WebSocketClosed(std::uint16_t code, const std::string& reason)
      : std::runtime_error(reason.empty() ? "the connection closed" : reason), code_(code) {}
  std::uint16_t code() const noexcept { return code_; }

 private:
  std::uint16_t code_;
};

// The handshake failed. With `status` non-zero, the server refused the upgrade with that HTTP
// status and `body`; otherwise it could not be reached (what() says why).
class WebSocketRefused : public std::runtime_error {
 public:
  WebSocketRefused(int status, std::string body, const std::string& what)
      : std::runtime_error(what), status_(status), body_(std::move(body)) {}
  int status() const noexcept { return status_; }
  const std::string& body() const noexcept { return body_; }

 private:
  int status_;
  std::string body_;
};

class WebSocketClient {
 public:
  // Connects to host:port and upgrades `target` (path and query) with extra request `headers`;
  // with `tls.enabled`, over TLS (wss://), the server's certificate verified. Throws
  // WebSocketRefused (a certificate that does not verify included: what() says why). `timeout`
  // bounds the handshake and each send.
  WebSocketClient(const std::string& host, std::uint16_t port, const std::string& target,
                  const std::map<std::string, std::string>& headers = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(10),
                  const TlsOptions& tls = {});
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Sends one text message (or, for tests of the server's defences, a binary one). Throws
  // WebSocketClosed once the connection has ended.
  void send(const std::string& text);
  void send_binary(const std::string& bytes);
  void ping();
  // The next message, waiting at most `timeout`; nullopt when none came. Throws WebSocketClosed
  // once every message that came before the end has been received.
  std::optional<std::string> receive(std::chrono::milliseconds timeout);
  // Sends a close frame (normal closure) and waits briefly for the server's; never throws.
  void close();
  // From another thread: drops the connection; the call in progress returns or throws at once.
  void abort();
  // From another thread: a receive() in progress (or the next one) returns at once, with what has
  // arrived or nullopt.
  void interrupt();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::net
