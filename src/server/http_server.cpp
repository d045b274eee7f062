// Accepting connections and shutting down; the sessions themselves are in http_session_*.cpp.
#include "server/http_server_impl.hpp"

namespace cairn::server {

void HttpServer::Impl::accept() {
  // New connections go to the workers in turn.
  net::io_context& worker = workers_[next_worker_++ % workers_.size()]->context;
  acceptor_.async_accept(worker, [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
    } else {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // answers go out whole, at once
      if (tls_) {
        serve_tls(std::move(socket), *this, *tls_);
      } else {
        serve_plain(std::move(socket), *this);
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
    boost::system::error_code ignored;
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
    drain_timer_.async_wait([this](boost::system::error_code ec) {
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
