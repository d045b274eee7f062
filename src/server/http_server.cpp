// The only translation unit of the server that includes Boost.Beast (it is slow to compile).
#include "server/http_server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cairn/version.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "protocol/live.hpp"
#include "server/http_status.hpp"

namespace cairn::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
namespace ssl = net::ssl;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
template <class Stream>
constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;

// The request as the application sees it.
HttpRequest to_request(const http::request<http::string_body>& message, const std::string& remote) {
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

std::shared_ptr<http::response<http::string_body>> to_message(HttpResponse response,
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

}  // namespace

// A connection the server keeps track of, to close it at shutdown.
class Connection {
 public:
  virtual ~Connection() = default;
  // Graceful: an HTTP connection closes once idle, a WebSocket gets close 1001.
  virtual void shutdown() = 0;
};

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler, UpgradeHandler upgrade,
       HttpObserver observer)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        upgrade_(std::move(upgrade)),
        observer_(std::move(observer)),
        acceptor_(ioc_),
        signals_(ioc_, SIGINT, SIGTERM),
        drain_timer_(ioc_) {
    if (!options_.tls_cert.empty() || !options_.tls_key.empty()) {
      if (options_.tls_cert.empty() || options_.tls_key.empty()) {
        throw std::runtime_error("TLS needs both a certificate (--tls-cert) and a key (--tls-key)");
      }
      tls_.emplace(ssl::context::tls_server);
      tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      beast::error_code ec;
      tls_->use_certificate_chain_file(options_.tls_cert.string(), ec);
      if (ec) {
        throw std::runtime_error("cannot use the TLS certificate '" + options_.tls_cert.string() +
                                 "': " + ec.message());
      }
      tls_->use_private_key_file(options_.tls_key.string(), ssl::context::pem, ec);
      if (ec) {
        throw std::runtime_error("cannot use the TLS key '" + options_.tls_key.string() +
                                 "': " + ec.message());
      }
    }
    const auto address = net::ip::make_address(options_.address);
    const tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
    const int threads = options_.threads > 0
                            ? options_.threads
                            : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
    for (int i = 0; i < threads; ++i)
      workers_.push_back(std::make_unique<Worker>());
    // One per core by default: SQLite has one writer, and more threads than cores only queue on
    // its lock, preempting the one that holds it (server_bench's p99 doubled with four per core).
    const int handler_threads =
        options_.handler_threads > 0
            ? options_.handler_threads
            : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
    handlers_.emplace(static_cast<std::size_t>(handler_threads));
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void run() {
    signals_.async_wait([this](const beast::error_code& ec, int signal) {
      if (ec) return;
      spdlog::info("signal={} shutting down gracefully", signal);
      stop();
    });
    accept();
    // Each worker thread runs its own io_context and serves the connections given to it, so that
    // a connection's work never hops between threads. The calling thread runs the control
    // context: accepting, signals, shutdown.
    std::vector<std::thread> threads;
    for (auto& worker : workers_) {
      threads.emplace_back([&context = worker->context] { context.run(); });
    }
    ioc_.run();
    for (auto& worker : workers_)
      worker->guard.reset();  // let them finish what they hold
    for (auto& thread : threads)
      thread.join();
    handlers_->join();  // requests still running (after a drain timeout) finish
  }

  // Runs the handler; an exception becomes a 500.
  HttpResponse answer(const HttpRequest& request) {
    try {
      return handler_(request);
    } catch (const std::exception& e) {
      spdlog::error("request method={} target={} unhandled error: {}", request.method,
                    loggable_target(request.target), e.what());
      return refusal_response(protocol::Code::internal, "internal server error");
    }
  }

  // Asks the application about a WebSocket upgrade; an exception refuses it with a 500.
  WebSocketUpgrade upgrade(const HttpRequest& request, std::shared_ptr<WebSocketPeer> peer) {
    if (!upgrade_) {
      return {nullptr,
              refusal_response(protocol::Code::not_found,
                               "no WebSocket route for " + loggable_target(request.target))};
    }
    try {
      return upgrade_(request, std::move(peer));
    } catch (const std::exception& e) {
      spdlog::error("upgrade target={} unhandled error: {}", loggable_target(request.target),
                    e.what());
      return {nullptr, refusal_response(protocol::Code::internal, "internal server error")};
    }
  }

  void stop();
  void add(const std::shared_ptr<Connection>& connection);
  void remove(Connection* connection);

  ~Impl() { destroyed_ = true; }

  HttpServerOptions options_;
  HttpHandler handler_;
  UpgradeHandler upgrade_;
  HttpObserver observer_;
  std::atomic<bool> stopping_{false};
  std::optional<ssl::context> tls_;  // HTTPS and WSS when set

 private:
  template <class>
  friend class HttpSession;
  template <class>
  friend class WsSession;
  void accept();

  // Declared before ioc_ so that they outlive it: sessions still queued in ioc_ unregister
  // themselves while it is destroyed.
  std::atomic<bool> destroyed_{false};
  std::mutex sessions_mutex_;
  std::map<Connection*, std::weak_ptr<Connection>> sessions_;
  struct Worker {
    net::io_context context{1};
    std::optional<net::executor_work_guard<net::io_context::executor_type>> guard{
        context.get_executor()};
  };
  std::vector<std::unique_ptr<Worker>> workers_;
  std::size_t next_worker_ = 0;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::signal_set signals_;
  net::steady_timer drain_timer_;
  // Where requests run. Last member: destroyed (joined) first, while what its work touches lives.
  std::optional<net::thread_pool> handlers_;
};

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

  void shutdown() override { close(1001, "the server is shutting down; reconnect"); }

  bool send(OutgoingFrame frame) override {
    const std::size_t size = frame.text->size();
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
    const bool text = ws_.got_text();
    std::string message = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > 64 * 1024) buffer_.shrink_to_fit();  // after a large message
    if (!text) {
      close(1003, "binary frames are not accepted: send JSON text frames");
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
              [self = this->shared_from_this(), message = std::move(message)]() {
                try {
                  self->handler_->on_text(message);
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
    ws_.text(true);
    ws_.async_write(net::buffer(*frame.text),
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
      queued_bytes_ -= frame.text->size();
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
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason),
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

void HttpServer::Impl::accept() {
  // New connections go to the workers in turn.
  net::io_context& worker = workers_[next_worker_++ % workers_.size()]->context;
  acceptor_.async_accept(worker, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
    } else {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // answers go out whole, at once
      if (tls_) {
        auto session = std::make_shared<HttpSession<TlsStream>>(std::move(socket), *this, *tls_);
        add(session);
        session->start();
      } else {
        auto session = std::make_shared<HttpSession<PlainStream>>(std::move(socket), *this);
        add(session);
        session->start();
      }
    }
    accept();
  });
}

void HttpServer::Impl::add(const std::shared_ptr<Connection>& connection) {
  {
    std::lock_guard lock(sessions_mutex_);
    sessions_[connection.get()] = connection;
  }
  if (observer_.connections) observer_.connections(+1);
}

void HttpServer::Impl::remove(Connection* connection) {
  bool drained = false;
  {
    std::lock_guard lock(sessions_mutex_);
    sessions_.erase(connection);
    drained = stopping_ && sessions_.empty();
  }
  if (observer_.connections) observer_.connections(-1);
  if (drained && !destroyed_) net::post(ioc_, [this] { drain_timer_.cancel(); });
}

void HttpServer::Impl::stop() {
  if (stopping_.exchange(true)) return;
  net::post(ioc_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    signals_.cancel(ignored);
    std::vector<std::shared_ptr<Connection>> open;
    {
      std::lock_guard lock(sessions_mutex_);
      for (auto& [raw, weak] : sessions_) {
        if (auto session = weak.lock()) open.push_back(std::move(session));
      }
      if (sessions_.empty()) return;  // nothing to drain: run() returns once idle
    }
    for (auto& connection : open)
      connection->shutdown();
    drain_timer_.expires_after(options_.drain_timeout);
    drain_timer_.async_wait([this](beast::error_code ec) {
      if (ec) return;  // cancelled: every connection closed in time
      spdlog::warn("drain timeout: closing connections that are still open");
      for (auto& worker : workers_)
        worker->context.stop();
      ioc_.stop();
    });
  });
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler, UpgradeHandler upgrade,
                       HttpObserver observer)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(upgrade),
                                   std::move(observer))) {}

HttpServer::~HttpServer() = default;

std::uint16_t HttpServer::port() const {
  return impl_->port();
}
void HttpServer::run() {
  impl_->run();
}
void HttpServer::stop() {
  impl_->stop();
}

}  // namespace cairn::server
