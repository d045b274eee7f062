// HTTP/1.1 (and HTTPS) on Boost.Beast.
#include "net/http_client.hpp"

#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "net/tls.hpp"

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
  std::shared_ptr<asio::ssl::context> tls;  // HTTPS when set
  std::optional<beast::tcp_stream> stream;  // plain, or before the TLS handshake
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream;
  beast::flat_buffer buffer;
  std::atomic<int> fd{-1};            // the connected socket, for abort() from another thread
  bool certificate_rejected = false;  // by the last connect

  void drop() {
    fd = -1;
    stream.reset();
    tls_stream.reset();
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
      if (connected()) lowest().cancel();
      ioc.restart();
      ioc.run();
      if (result == asio::error::would_block) result = beast::error::timeout;
    }
    return result;
  }

  bool connected() const { return stream || tls_stream; }
  beast::tcp_stream& lowest() { return tls_stream ? tls_stream->next_layer() : *stream; }
  // Calls `f` with the stream requests go over.
  template <class F>
  beast::error_code on_stream(F f) {
    return tls_stream ? f(*tls_stream) : f(*stream);
  }

  bool connect(std::string& error) {
    if (connected()) return true;
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
    if (tls) {
      tls_stream.emplace(std::move(*stream), *tls);
      stream.reset();
      if (!expect_host(tls_stream->native_handle(), host)) {
        error = "cannot check a certificate for the host name '" + host + "'";
        drop();
        return false;
      }
      lowest().expires_after(timeout);
      ec = run([&](auto handler) {
        tls_stream->async_handshake(asio::ssl::stream_base::client, std::move(handler));
      });
      if (ec) {
        error = "cannot connect to " + host + ":" + std::to_string(port) + ": " +
                handshake_failure(ec, tls_stream->native_handle());
        certificate_rejected = SSL_get_verify_result(tls_stream->native_handle()) != X509_V_OK;
        drop();
        return false;
      }
    }
    return true;
  }

  HttpResult read_response() {
    HttpResult result;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    lowest().expires_after(timeout);
    const beast::error_code ec = on_stream([&](auto& s) {
      return run([&](auto handler) { http::async_read(s, buffer, parser, std::move(handler)); });
    });
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

HttpClient::HttpClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout,
                       TlsOptions tls)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
  if (tls.enabled) impl_->tls = client_tls_context(tls);
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
    const bool fresh = !impl_->connected();
    if (!impl_->connect(failure.error)) {
      failure.certificate_rejected = std::exchange(impl_->certificate_rejected, false);
      return failure;
    }
    http::request<http::string_body> message(http::string_to_verb(method), target, 11);
    message.set(http::field::host, impl_->host);
    if (!body.empty()) message.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : headers)
      message.set(name, value);
    message.body() = body;
    message.prepare_payload();
    impl_->lowest().expires_after(impl_->timeout);
    const beast::error_code ec = impl_->on_stream([&](auto& s) {
      return impl_->run([&](auto handler) { http::async_write(s, message, std::move(handler)); });
    });
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
  if (!impl_->connect(failure.error)) {
    failure.certificate_rejected = std::exchange(impl_->certificate_rejected, false);
    return failure;
  }
  impl_->lowest().expires_after(impl_->timeout);
  const beast::error_code ec = impl_->on_stream([&](auto& s) {
    return impl_->run(
        [&](auto handler) { asio::async_write(s, asio::buffer(bytes), std::move(handler)); });
  });
  if (ec) {
    impl_->drop();
    failure.error = ec.message();
    return failure;
  }
  return impl_->read_response();
}

}  // namespace cairn::net
