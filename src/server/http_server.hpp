// HttpServer — HTTP/1.1 over TCP on Boost.Beast and Asio.
//
// Keep-alive connections; one request at a time per connection. Two kinds of threads: network
// I/O threads (`threads`) read and write sockets and never block; the handler runs on a separate
// pool (`handler_threads`), where storage work may block without stalling other connections, and
// the handler thread starts writing its answer (the rest of the write runs on the I/O thread).
// Bounds: request bodies over body_limit get 413, headers over 16 KiB get 431, and a client that
// sends nothing for idle_timeout is disconnected.
//
// A request to upgrade to a WebSocket (RFC 6455) goes to the UpgradeHandler, on the handler pool;
// an accepted connection then carries text frames both ways (see WebSocketPeer and
// WebSocketHandler in http.hpp), within WebSocketOptions: binary frames are closed with 1003,
// invalid UTF-8 with 1007, frames over max_message_bytes with 1009, more frames (pings included)
// than messages_per_second allows with 1008, a send queue over send_queue_bytes with
// protocol::kCloseSlowConsumer; a peer that answers no ping for twice ping_interval is dropped.
//
// Shutdown (stop(), or SIGTERM/SIGINT while run() is running) is graceful: the listener closes,
// idle connections close, requests in flight are answered (with "Connection: close"), WebSockets
// get close 1001, and run() returns once every connection is gone or drain_timeout has passed.
//
// All Beast code of the server stays in http_server.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "server/http.hpp"

namespace cairn::server {

struct WebSocketOptions {
  std::size_t max_message_bytes = 8 * 1024 * 1024;  // a frame or message; larger: close 1009
  std::size_t send_queue_bytes = 8 * 1024 * 1024;   // queued unsent; beyond: slow consumer
  double messages_per_second = 200;                 // frames received, pings included
  double message_burst = 400;
  std::chrono::milliseconds ping_interval{15'000};  // silent for twice this: dropped
  std::chrono::milliseconds handshake_timeout{10'000};
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8787;  // 0 picks a free port; see HttpServer::port()
  int threads = 0;            // network I/O; 0: one per hardware thread, at least 2
  int handler_threads = 0;    // requests; 0: one per hardware thread, at least 2
  std::size_t body_limit = 8 * 1024 * 1024;
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds drain_timeout{10'000};
  WebSocketOptions websocket;
  // HTTPS and WSS with this certificate chain and key (PEM files); plain HTTP when both are empty
  // (behind a proxy that terminates TLS).
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
};

// Hooks the server calls for its own metrics.
struct HttpObserver {
  std::function<void(int delta)> connections;            // +1 on accept, -1 on close
  std::function<void(int delta)> websockets;             // +1 on handshake, -1 on close
  std::function<void(const OutgoingFrame&)> frame_sent;  // a WebSocket frame written whole
  std::function<void()> slow_consumer;                   // a connection closed for its queue
};

class HttpServer {
 public:
  // Binds the listening socket (and loads the TLS certificate and key, when given); throws
  // std::runtime_error when it cannot.
  HttpServer(HttpServerOptions options, HttpHandler handler, UpgradeHandler upgrade = {},
             HttpObserver observer = {});
  ~HttpServer();

  std::uint16_t port() const;
  // Serves until stop() or SIGTERM/SIGINT; returns after the graceful shutdown.
  void run();
  // Starts the graceful shutdown; safe from any thread (and from a signal-free context).
  void stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::server
