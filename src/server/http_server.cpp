// The only translation unit of the server that includes Boost.Beast (it is slow to compile).
#include "server/http_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cairn/version.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "server/http_status.hpp"

namespace cairn::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;

}  // namespace

class Session;

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler, HttpObserver observer)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        observer_(std::move(observer)),
        acceptor_(ioc_),
        signals_(ioc_, SIGINT, SIGTERM),
        drain_timer_(ioc_) {
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
                    request.target, e.what());
      return refusal_response(protocol::Code::internal, "internal server error");
    }
  }

  void stop();
  void add(const std::shared_ptr<Session>& session);
  void remove(Session* session);

  ~Impl() { destroyed_ = true; }

  HttpServerOptions options_;
  HttpHandler handler_;
  HttpObserver observer_;
  std::atomic<bool> stopping_{false};

 private:
  friend class Session;
  void accept();

  // Declared before ioc_ so that they outlive it: sessions still queued in ioc_ unregister
  // themselves while it is destroyed.
  std::atomic<bool> destroyed_{false};
  std::mutex sessions_mutex_;
  std::map<Session*, std::weak_ptr<Session>> sessions_;
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

// One connection. Its handlers run on its own strand, so a session's state needs no lock.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    const auto peer = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = peer.address().to_string();
  }

  ~Session() { server_.remove(this); }

  void start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::read, shared_from_this()));
  }

  // Closes the connection when it is between requests; a request in flight finishes first.
  void shutdown_if_idle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
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
    stream_.expires_after(server_.options_.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
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
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) {
      std::string name(field.name_string());
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[std::move(name)] = std::string(field.value());
    }
    request.body = std::move(message.body());
    request.remote = remote_;

    // The handler may block on storage: it runs on the handler pool. The handler thread then
    // starts writing the answer itself (the write's completion, and the next read, run on this
    // connection's I/O thread again): waking the I/O thread first would put a second thread
    // hand-off on every request's critical path. This is safe because nothing else touches the
    // stream meanwhile: no read is pending, and shutdown_if_idle leaves a busy session alone.
    const bool keep_alive = message.keep_alive();
    net::post(*server_.handlers_,
              [self = shared_from_this(), request = std::move(request), keep_alive]() mutable {
                self->send(self->server_.answer(request), keep_alive && !self->server_.stopping_);
              });
  }

  void send_error(protocol::Code code, std::string_view message) {
    busy_ = true;
    send(refusal_response(code, message), false);
  }

  void send(HttpResponse response, bool keep_alive) {
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), 11);
    message->set(http::field::server, "cairnd/" + std::string(kVersion));
    message->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers)
      message->set(name, value);
    message->keep_alive(keep_alive);
    message->body() = std::move(response.body);
    message->prepare_payload();
    stream_.expires_after(server_.options_.idle_timeout);
    http::async_write(stream_, *message,
                      [self = shared_from_this(), message](beast::error_code ec, std::size_t) {
                        self->busy_ = false;
                        if (ec || message->need_eof()) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl& server_;
  std::string remote_;
  bool busy_ = false;  // a request has been read and its response is not yet written
};

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
      auto session = std::make_shared<Session>(std::move(socket), *this);
      add(session);
      session->start();
    }
    accept();
  });
}

void HttpServer::Impl::add(const std::shared_ptr<Session>& session) {
  {
    std::lock_guard lock(sessions_mutex_);
    sessions_[session.get()] = session;
  }
  if (observer_.connections) observer_.connections(+1);
}

void HttpServer::Impl::remove(Session* session) {
  bool drained = false;
  {
    std::lock_guard lock(sessions_mutex_);
    sessions_.erase(session);
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
    std::vector<std::shared_ptr<Session>> open;
    {
      std::lock_guard lock(sessions_mutex_);
      for (auto& [raw, weak] : sessions_) {
        if (auto session = weak.lock()) open.push_back(std::move(session));
      }
      if (sessions_.empty()) return;  // nothing to drain: run() returns once idle
    }
    for (auto& session : open)
      session->shutdown_if_idle();
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

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler, HttpObserver observer)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(observer))) {}

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
