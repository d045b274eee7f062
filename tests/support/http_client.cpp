#include "support/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace cairn::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpClient::Impl {
  std::string host;
  std::uint16_t port;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  // False when nobody listens (status 0 is then reported).
  bool connect() {
    if (stream) return true;
    stream.emplace(ioc);
    stream->expires_after(std::chrono::seconds(30));
    beast::error_code ec;
    stream->connect(tcp::endpoint(net::ip::make_address(host), port), ec);
    if (ec) stream.reset();
    return !ec;
  }

  HttpResult read_response() {
    HttpResult result;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    beast::error_code ec;
    stream->expires_after(std::chrono::seconds(30));
    http::read(*stream, buffer, parser, ec);
    if (ec) {
      stream.reset();
      buffer.clear();
      return result;
    }
    auto& message = parser.get();
    result.status = static_cast<int>(message.result_int());
    result.body = message.body();
    for (const auto& field : message) {
      std::string name(field.name_string());
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      result.headers[name] = std::string(field.value());
    }
    if (!message.keep_alive()) {
      stream.reset();
      buffer.clear();
    }
    return result;
  }
};

HttpClient::HttpClient(std::string host, std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->connect()) return {};
    http::request<http::string_body> message(http::string_to_verb(method), target, 11);
    message.set(http::field::host, impl_->host);
    if (!body.empty()) message.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : headers)
      message.set(name, value);
    message.body() = body;
    message.prepare_payload();
    beast::error_code ec;
    http::write(*impl_->stream, message, ec);
    if (ec) {  // the server closed a kept-alive connection: reconnect once
      impl_->stream.reset();
      continue;
    }
    return impl_->read_response();
  }
  return {};
}

HttpResult HttpClient::send_raw(const std::string& bytes) {
  if (!impl_->connect()) return {};

  beast::error_code ec;
  net::write(impl_->stream->socket(), net::buffer(bytes), ec);
  if (ec) return {};
  return impl_->read_response();
}

}  // namespace cairn::test
