// HttpServer's insides, shared by its translation units: http_server.cpp (accepting, shutdown)
// and one per kind of session (http_session_plain.cpp, http_session_tls.cpp), which are the only
// ones to include Boost.Beast: it is slow to compile, and the two stream types each instantiate
// every session template once. Private to src/server.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "server/http_server.hpp"
#include "server/http_status.hpp"

namespace cairn::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;
namespace ssl = net::ssl;

template <class Stream>
class HttpSession;
template <class Stream>
class WsSession;

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
      boost::system::error_code ec;
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
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
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
    WebSocketUpgrade refused;
    if (!upgrade_) {
      refused.refusal = refusal_response(
          protocol::Code::not_found, "no WebSocket route for " + loggable_target(request.target));
      return refused;
    }
    try {
      return upgrade_(request, std::move(peer));
    } catch (const std::exception& e) {
      spdlog::error("upgrade target={} unhandled error: {}", loggable_target(request.target),
                    e.what());
      refused.refusal = refusal_response(protocol::Code::internal, "internal server error");
      return refused;
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

// Serves one accepted connection, over plain TCP or over TLS (each in its own translation unit).
void serve_plain(tcp::socket socket, HttpServer::Impl& server);
void serve_tls(tcp::socket socket, HttpServer::Impl& server, ssl::context& tls);

}  // namespace cairn::server
