// The HTTP and WebSocket sessions, as templates over the stream (plain TCP or TLS). Included only
// by http_session_plain.cpp and http_session_tls.cpp, which instantiate one stream type each.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cairn/version.hpp>
#include <deque>
#include <type_traits>

#include "protocol/live.hpp"
#include "server/http_server_impl.hpp"

namespace cairn::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
template <class Stream>
constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

inline constexpr std::size_t kHeaderLimit = 16 * 1024;

// The request as the application sees it.
inline HttpRequest to_request(const http::request<http::string_body>& message,
                              const std::string& remote) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers[std::move(name)] = std::string(field.value());
  }
  request.body = message.body();
  request.remote = remote;
  return request;
}

inline std::shared_ptr<http::response<http::string_body>> to_message(HttpResponse response,
                                                                     bool keep_alive) {
  auto message = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(response.status), 11);
  message->set(http::field::server, "cairnd/" + std::string(kVersion));
  message->set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers)
    message->set(name, value);
  message->keep_alive(keep_alive);
  message->body() = std::move(response.body);
  message->prepare_payload();
  return message;
}

// One HTTP connection, over plain TCP or TLS (`Stream`). Its handlers run on its worker's single
// thread, so a session's state needs no lock.
template <class Stream>
class HttpSession final : public Connection,
                          public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  template <class... TlsContext>
  HttpSession(tcp::socket&& socket, HttpServer::Impl& server, TlsContext&... tls)
      : stream_(std::move(socket), tls...), server_(server) {
    beast::error_code ec;
    const auto peer = lowest().socket().remote_endpoint(ec);
    if (!ec) remote_ = peer.address().to_string();
  }

  ~HttpSession() { server_.remove(this); }

  void start() {
    if constexpr (kTls<Stream>) {  // the TLS handshake first, bounded like a request
      lowest().expires_after(server_.options_.idle_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->close();
                                self->read();
                              });
    } else {
      net::dispatch(stream_.get_executor(),
                    beast::bind_front_handler(&HttpSession::read, this->shared_from_this()));
    }
  }

  // Closes the connection when it is between requests; a request in flight finishes first.
  void shutdown() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      const bool idle = !self->busy_ && (!self->parser_ || !self->parser_->got_some());
      if (idle) self->close();
    });
  }

 private:
  void read() {
    if (server_.stopping_) return close();
    parser_.emplace();
    parser_->body_limit(server_.options_.body_limit);
    parser_->header_limit(kHeaderLimit);
    lowest().expires_after(server_.options_.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted) {
      return close();
    }
    if (ec == http::error::body_limit) {
      return send_error(protocol::Code::payload_too_large,
                        "the request body is over the size limit");
    }
    if (ec == http::error::header_limit) {
      return send_error(protocol::Code::headers_too_large, "the request headers are over 16 KiB");
    }
    if (ec.category() == beast::error_code(http::error::bad_method).category() ||
        ec == http::error::partial_message) {
      return send_error(protocol::Code::malformed_http, "the request is not well-formed HTTP/1.1");
    }
    if (ec) return close();

    busy_ = true;
    auto& message = parser_->get();
    if (websocket::is_upgrade(message)) return upgrade();
    HttpRequest request = to_request(message, remote_);

    // The handler may block on storage: it runs on the handler pool. The handler thread then
    // starts writing the answer itself (the write's completion, and the next read, run on this
    // connection's I/O thread again): waking the I/O thread first would put a second thread
    // hand-off on every request's critical path. This is safe because nothing else touches the
    // stream meanwhile: no read is pending, and shutdown() leaves a busy session alone.
    const bool keep_alive = message.keep_alive();
    net::post(*server_.handlers_, [self = this->shared_from_this(), request = std::move(request),
                                   keep_alive]() mutable {
      self->send(self->server_.answer(request), keep_alive && !self->server_.stopping_);
    });
  }

  void send_error(protocol::Code code, std::string_view message) {
    busy_ = true;
    send(refusal_response(code, message), false);
  }

  // The connection becomes a WebSocket session (or is refused by the application).
  void upgrade();

  void send(HttpResponse response, bool keep_alive) {
    auto message = to_message(std::move(response), keep_alive);
    lowest().expires_after(server_.options_.idle_timeout);
    http::async_write(
        stream_, *message,
        [self = this->shared_from_this(), message](beast::error_code ec, std::size_t) {
          self->busy_ = false;
          if (ec || message->need_eof()) return self->close();
          self->read();
        });
  }

  void close() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest().socket().close(ignored);
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl& server_;
  std::string remote_;
  bool busy_ = false;  // a request has been read and its response is not yet written
};

// One WebSocket connection, from the upgrade request on. Network operations run on its worker's
// thread; send(), close() and when_drained() come from any thread and meet it under mutex_.
template <class Stream>
class WsSession final : public Connection,
                        public WebSocketPeer,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream&& stream, http::request<http::string_body> request, HttpServer::Impl& server)
      : ws_(std::move(stream)),
        executor_(ws_.get_executor()),
        request_(std::move(request)),
        server_(server),
        options_(server.options_.websocket),
        tokens_(options_.message_burst),
        refilled_(std::chrono::steady_clock::now()) {}

  ~WsSession() override {
    if (accepted_ && server_.observer_.websockets) server_.observer_.websockets(-1);
    server_.remove(this);
  }

  // Asks the application on the handler pool, then completes the handshake or refuses it.
  void start(HttpRequest request) {
    net::post(*server_.handlers_, [self = this->shared_from_this(), request = std::move(request)] {
      WebSocketUpgrade decision = self->server_.upgrade(request, self);
      net::post(self->executor_, [self, decision = std::move(decision)]() mutable {
        self->on_decision(std::move(decision));
      });
    });
  }

  void shutdown() override { close(shutdown_code_, "the server is shutting down; reconnect"); }

  bool send(OutgoingFrame frame) override {
    const std::size_t size = frame.payload->size();
    std::unique_lock lock(mutex_);
    if (closing_) return false;
    // One frame always fits, however large: the bound is on what waits behind it.
    if (!frame.paced && !queue_.empty() && queued_bytes_ + size > options_.send_queue_bytes) {
      lock.unlock();
      if (server_.observer_.slow_consumer) server_.observer_.slow_consumer();
      close(protocol::kCloseSlowConsumer,
            "too far behind: reconnect and subscribe again from your last cursor");
      return false;
    }
    queue_.push_back(std::move(frame));
    queued_bytes_ += size;
    const bool start = open_ && !writing_;
    if (start) writing_ = true;
    lock.unlock();
    if (start) net::post(executor_, [self = this->shared_from_this()] { self->write_next(); });
    return true;
  }

  void when_drained(std::function<void()> resume) override {
    std::unique_lock lock(mutex_);
    if (closing_) return;
    if (queued_bytes_ > options_.send_queue_bytes / 2) {
      drained_ = std::move(resume);
      return;
    }
    lock.unlock();
    resume();
  }

  std::size_t queued_bytes() const override {
    std::lock_guard lock(mutex_);
    return queued_bytes_;
  }

  void close(std::uint16_t code, std::string reason) override {
    {
      std::lock_guard lock(mutex_);
      if (closing_) return;
      closing_ = true;
      queue_.clear();  // the frame being written (if any) is held by its write
      queued_bytes_ = 0;
      drained_ = nullptr;
    }
    net::post(executor_, [self = this->shared_from_this(), code, reason = std::move(reason)] {
      self->send_close(code, reason);
    });
  }

 private:
  void on_decision(WebSocketUpgrade decision) {
    if (decision.handler && is_closing()) {  // the server began shutting down meanwhile
      handler_ = std::move(decision.handler);
      finish();  // the application hears that the connection is over
      return refuse(refusal_response(protocol::Code::unavailable, "the server is shutting down"));
    }
    if (!decision.handler) return refuse(std::move(decision.refusal));
    handler_ = std::move(decision.handler);
    binary_ = decision.binary;
    shutdown_code_ = decision.shutdown_code;
    if (decision.close_code != 0) {
      pending_close_.emplace(decision.close_code, std::move(decision.close_reason));
    }
    beast::get_lowest_layer(ws_).expires_never();  // the WebSocket's own timeouts take over
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = options_.handshake_timeout;
    timeouts.idle_timeout = 2 * options_.ping_interval;  // a ping goes out at half of it
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(http::field::server, "cairnd/" + std::string(kVersion));
    }));
    ws_.read_message_max(options_.max_message_bytes);
    ws_.auto_fragment(false);
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::ping && !take_token()) flood();
    });
    ws_.async_accept(
        request_, [self = this->shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  // Answers the upgrade request with `response` (an HTTP error) and closes.
  void refuse(HttpResponse response) {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    auto message = to_message(std::move(response), false);
    Stream& stream = ws_.next_layer();
    beast::get_lowest_layer(ws_).expires_after(server_.options_.idle_timeout);
    http::async_write(stream, *message,
                      [self = this->shared_from_this(), message](beast::error_code, std::size_t) {
                        beast::error_code ignored;
                        auto& socket = beast::get_lowest_layer(self->ws_).socket();
                        socket.shutdown(tcp::socket::shutdown_send, ignored);
                        socket.close(ignored);
                      });
  }

  void on_accept(beast::error_code ec) {
    request_ = {};
    if (ec) return finish();
    accepted_ = true;
    if (server_.observer_.websockets) server_.observer_.websockets(+1);
    {
      std::lock_guard lock(mutex_);
      open_ = true;
      if (!closing_ && !queue_.empty() && !writing_) {
        writing_ = true;
        net::post(executor_, [self = this->shared_from_this()] { self->write_next(); });
      }
    }
    if (pending_close_) send_close(pending_close_->first, pending_close_->second);
    read();
  }

  void read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) return finish();
    const bool binary = ws_.got_binary();
    std::string message = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > 64 * 1024) buffer_.shrink_to_fit();  // after a large message
    if (binary != binary_) {
      close(1003, binary_ ? "text frames are not accepted: send binary y-websocket messages"
                          : "binary frames are not accepted: send JSON text frames");
      return read();  // until the peer's close frame
    }
    if (!take_token()) {
      flood();
      return read();
    }
    if (is_closing()) return read();
    // The handler may block on storage: it runs on the handler pool, and the next frame is read
    // once it has returned, so that a connection's messages are handled one at a time, in order.
    net::post(*server_.handlers_,
              [self = this->shared_from_this(), message = std::move(message)]() mutable {
                try {
                  self->handler_->on_message(std::move(message));
                } catch (const std::exception& e) {
                  spdlog::error("websocket message unhandled error: {}", e.what());
                  self->close(1011, "internal server error");
                }
                net::post(self->executor_, [self] { self->read(); });
              });
  }

  // One frame received (a message or a ping) against the connection's budget.
  bool take_token() {
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - refilled_).count();
    refilled_ = now;
    tokens_ = std::min(options_.message_burst, tokens_ + elapsed * options_.messages_per_second);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

  void flood() {
    close(1008, fmt::format("more than {} frames a second", options_.messages_per_second));
  }

  bool is_closing() const {
    std::lock_guard lock(mutex_);
    return closing_;
  }

  void write_next() {
    OutgoingFrame frame;
    {
      std::lock_guard lock(mutex_);
      if (closing_ || queue_.empty()) {
        writing_ = false;
        return;
      }
      frame = queue_.front();
    }
    ws_.binary(binary_);
    ws_.async_write(net::buffer(*frame.payload),
                    [self = this->shared_from_this(), frame](beast::error_code ec, std::size_t) {
                      self->on_write(ec, frame);
                    });
  }

  void on_write(beast::error_code ec, const OutgoingFrame& frame) {
    if (ec) {
      std::lock_guard lock(mutex_);
      writing_ = false;
      return;  // the read fails too, and finishes the session
    }
    if (server_.observer_.frame_sent) server_.observer_.frame_sent(frame);
    std::function<void()> drained;
    {
      std::lock_guard lock(mutex_);
      if (closing_) {
        writing_ = false;
        return;
      }
      queued_bytes_ -= frame.payload->size();
      queue_.pop_front();
      if (drained_ && queued_bytes_ <= options_.send_queue_bytes / 2) {
        drained = std::exchange(drained_, nullptr);
      }
    }
    if (drained) drained();
    write_next();
  }

  void send_close(std::uint16_t code, const std::string& reason) {
    if (!accepted_) {
      if (!handler_) return;                 // refused, or failed before the handshake
      pending_close_.emplace(code, reason);  // sent once the handshake is done
      return;
    }
    if (close_sent_) return;
    close_sent_ = true;
    // A close frame's reason holds at most 123 bytes (RFC 6455 5.5): cut at a character.
    std::string_view fits = reason;
    if (fits.size() > 123) {
      std::size_t end = 123;
      while (end > 0 && (static_cast<unsigned char>(fits[end]) & 0xC0) == 0x80)
        --end;
      fits = fits.substr(0, end);
    }
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), fits),
                    [self = this->shared_from_this()](beast::error_code) {
                      // the pending read completes with the peer's answer (or the timeout)
                    });
  }

  // The connection is over: the application hears of it once, on the handler pool.
  void finish() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
      queue_.clear();
      queued_bytes_ = 0;
      drained_ = nullptr;
    }
    if (finished_ || !handler_) return;
    finished_ = true;
    net::post(*server_.handlers_,
              [self = this->shared_from_this()] { self->handler_->on_close(); });
  }

  websocket::stream<Stream> ws_;
  net::any_io_executor executor_;
  http::request<http::string_body> request_;  // the upgrade request, until the handshake
  HttpServer::Impl& server_;
  const WebSocketOptions& options_;
  std::shared_ptr<WebSocketHandler> handler_;
  bool binary_ = false;  // the kind of frame both ways, as the upgrade decided
  std::atomic<std::uint16_t> shutdown_code_{1001};
  beast::flat_buffer buffer_;
  // Frame budget (token bucket), on the network thread.
  double tokens_;
  std::chrono::steady_clock::time_point refilled_;
  bool accepted_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
  std::optional<std::pair<std::uint16_t, std::string>> pending_close_;

  mutable std::mutex mutex_;
  std::deque<OutgoingFrame> queue_;  // the front one is being written while writing_
  std::size_t queued_bytes_ = 0;
  bool open_ = false;     // the handshake is done
  bool writing_ = false;  // a write_next chain is running
  bool closing_ = false;  // no more frames are taken
  std::function<void()> drained_;
};

template <class Stream>
void HttpSession<Stream>::upgrade() {
  if (server_.stopping_) {
    return send(refusal_response(protocol::Code::unavailable, "the server is shutting down"),
                false);
  }
  HttpRequest request = to_request(parser_->get(), remote_);
  auto session =
      std::make_shared<WsSession<Stream>>(std::move(stream_), parser_->release(), server_);
  server_.add(session);
  session->start(std::move(request));
}

// Starts serving an accepted connection.
template <class Stream, class... TlsContext>
void serve(tcp::socket socket, HttpServer::Impl& server, TlsContext&... tls) {
  auto session = std::make_shared<HttpSession<Stream>>(std::move(socket), server, tls...);
  server.add(session);
  session->start();
}

}  // namespace cairn::server
