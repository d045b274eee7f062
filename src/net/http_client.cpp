// The only translation unit of libcairn that includes Boost.Beast.
#include "net/http_client.hpp"

#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace cairn::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
  std::string host;
  std::uint16_t port;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::atomic<int> fd{-1};  // the connected socket, for abort() from another thread

  void drop() {
    fd = -1;
    stream.reset();
    buffer.clear();
  }

  // Runs one asynchronous operation to completion within the timeout. (Beast's stream timeouts
  // apply to asynchronous operations only, so blocking calls are built from them.)
  template <class Start>
  beast::error_code run(Start start) {
    beast::error_code result = asio::error::would_block;
    start([&](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run_for(timeout + std::chrono::seconds(1));  // the stream's own expiry fires first
    if (result == asio::error::would_block) {
      if (stream) stream->cancel();
      ioc.restart();
      ioc.run();
      if (result == asio::error::would_block) result = beast::error::timeout;
    }
    return result;
  }

  bool connect(std::string& error) {
    if (stream) return true;
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) {
      error = "cannot resolve " + host + ": " + ec.message();
      return false;
    }
    stream.emplace(ioc);
    stream->expires_after(timeout);
    ec = run([&](auto handler) { stream->async_connect(endpoints, std::move(handler)); });
    if (ec) {
      error = "cannot connect to " + host + ":" + std::to_string(port) + ": " + ec.message();
      drop();
      return false;
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    fd = stream->socket().native_handle();
    return true;
  }

  HttpResult read_response() {
    HttpResult result;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    stream->expires_after(timeout);
    const beast::error_code ec =
        run([&](auto handler) { http::async_read(*stream, buffer, parser, std::move(handler)); });
    if (ec) {
      result.error = ec == beast::error::timeout ? "the server did not answer in time"
                                                 : "the connection failed: " + ec.message();
      drop();
      return result;
    }
    auto& message = parser.get();
    result.status = static_cast<int>(message.result_int());
    result.body = std::move(message.body());
    for (const auto& field : message) {
      std::string name(field.name_string());
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      result.headers[name] = std::string(field.value());
    }
    if (!message.keep_alive()) drop();
    return result;
  }
};

HttpClient::HttpClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

void HttpClient::disconnect() {
  impl_->drop();
}

void HttpClient::abort() {
  // shutdown(2) may be called while another thread is blocked reading the socket: the read then
  // ends at once. The descriptor stays open (and owned by the other thread) until it drops it.
  const int fd = impl_->fd.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  HttpResult failure;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool fresh = !impl_->stream;
    if (!impl_->connect(failure.error)) return failure;
    http::request<http::string_body> message(http::string_to_verb(method), target, 11);
    message.set(http::field::host, impl_->host);
    if (!body.empty()) message.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : headers)
      message.set(name, value);
    message.body() = body;
    message.prepare_payload();
    impl_->stream->expires_after(impl_->timeout);
    const beast::error_code ec = impl_->run(
        [&](auto handler) { http::async_write(*impl_->stream, message, std::move(handler)); });
    if (ec) {
      impl_->drop();
      failure.error = "the connection failed: " + ec.message();
      if (fresh) return failure;
      continue;  // the server closed a kept-alive connection: reconnect once
    }
    return impl_->read_response();
  }
  return failure;
}

HttpResult HttpClient::send_raw(const std::string& bytes) {
  HttpResult failure;
  if (!impl_->connect(failure.error)) return failure;
  impl_->stream->expires_after(impl_->timeout);
  const beast::error_code ec = impl_->run([&](auto handler) {
    asio::async_write(*impl_->stream, asio::buffer(bytes), std::move(handler));
  });
  if (ec) {
    impl_->drop();
    failure.error = ec.message();
    return failure;
  }
  return impl_->read_response();
}

}  // namespace cairn::net
