// The live channel's client on Boost.Beast (the second translation unit of libcairn with Beast).
#include "net/websocket_client.hpp"

#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cairn/version.hpp>
#include <deque>
#include <variant>

#include "net/tls.hpp"

namespace cairn::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct WebSocketClient::Impl {
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::shared_ptr<asio::ssl::context> tls;  // wss:// when set; outlives the stream
  std::variant<websocket::stream<beast::tcp_stream>,
               websocket::stream<beast::ssl_stream<beast::tcp_stream>>>
      socket{std::in_place_index<0>, ioc};
  beast::flat_buffer buffer;
  bool reading = false;
  std::deque<std::string> received;
  std::optional<WebSocketClosed> ended;  // once the read loop has failed
  std::atomic<int> fd{-1};
  std::atomic<bool> interrupted{false};

  // Runs the context until `done` or `limit` has passed; true when done.
  template <class Done>
  bool run_until(Done done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      const auto left = deadline - std::chrono::steady_clock::now();
      ioc.restart();
      if (left <= std::chrono::steady_clock::duration::zero()) {
        ioc.poll();  // what is ready now, even with no time to wait
        return done();
      }
      ioc.run_one_for(left);
    }
    return true;
  }

  // Starts an operation and runs it to completion within the timeout; nullopt when it did not
  // complete in time.
  template <class Start>
  std::optional<beast::error_code> complete(Start start) {
    bool done = false;
    beast::error_code result;
    start([&](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    run_until([&] { return done; }, timeout + std::chrono::seconds(1));
    if (!done) return std::nullopt;
    return result;
  }

  // Calls `f` with the WebSocket stream, plain or over TLS.
  template <class F>
  decltype(auto) on_ws(F f) {
    return std::visit(f, socket);
  }
  beast::tcp_stream& lowest() {
    return on_ws([](auto& ws) -> beast::tcp_stream& { return beast::get_lowest_layer(ws); });
  }

  void read() {
    if (reading || ended) return;
    reading = true;
    on_ws([&](auto& ws) {
      ws.async_read(buffer, [this, &ws](beast::error_code ec, std::size_t) { on_read(ws, ec); });
    });
  }

  template <class Ws>
  void on_read(Ws& ws, beast::error_code ec) {
    {
      reading = false;
      if (ec) {
        if (ec == websocket::error::closed) {
          ended.emplace(ws.reason().code,
                        std::string(ws.reason().reason.data(), ws.reason().reason.size()));
        } else {
          ended.emplace(0, ec.message());
        }
        return;
      }
      received.push_back(beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
      read();
    }
  }

  void write(const std::string& bytes, bool text) {
    if (ended) throw *ended;
    bool done = false;
    beast::error_code result;
    on_ws([&](auto& ws) {
      ws.text(text);
      ws.async_write(asio::buffer(bytes), [&](beast::error_code ec, std::size_t) {
        result = ec;
        done = true;
      });
    });
    if (!run_until([&] { return done; }, timeout)) {
      abort();
      run_until([&] { return done; }, std::chrono::seconds(1));
      throw WebSocketClosed(0, "sending timed out");
    }
    if (result) throw ended ? *ended : WebSocketClosed(0, result.message());
  }

  void abort() {
    const int descriptor = fd.exchange(-1);
    if (descriptor >= 0) ::shutdown(descriptor, SHUT_RDWR);
  }
};

WebSocketClient::WebSocketClient(const std::string& host, std::uint16_t port,
                                 const std::string& target,
                                 const std::map<std::string, std::string>& headers,
                                 std::chrono::milliseconds timeout, const TlsOptions& tls)
    : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  impl.timeout = timeout;
  if (tls.enabled) {
    try {
      impl.tls = client_tls_context(tls);
    } catch (const std::exception& e) {
      throw WebSocketRefused(0, "", e.what());
    }
    impl.socket.emplace<1>(impl.ioc, *impl.tls);
  }
  beast::error_code ec;
  tcp::resolver resolver(impl.ioc);
  const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) throw WebSocketRefused(0, "", "cannot resolve " + host + ": " + ec.message());
  beast::tcp_stream& stream = impl.lowest();
  stream.expires_after(timeout);
  const std::string where = host + ":" + std::to_string(port);
  const auto connected =
      impl.complete([&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
  if (!connected || *connected) {
    throw WebSocketRefused(
        0, "",
        "cannot connect to " + where + ": " + (connected ? connected->message() : "timed out"));
  }
  stream.socket().set_option(tcp::no_delay(true), ec);
  impl.fd = stream.socket().native_handle();
  if (auto* secure = std::get_if<1>(&impl.socket)) {
    SSL* ssl = secure->next_layer().native_handle();
    if (!expect_host(ssl, host)) {
      throw WebSocketRefused(0, "", "cannot check a certificate for the host name '" + host + "'");
    }
    const auto shaken = impl.complete([&](auto handler) {
      secure->next_layer().async_handshake(asio::ssl::stream_base::client, std::move(handler));
    });
    if (!shaken || *shaken) {
      throw WebSocketRefused(0, "",
                             "cannot connect to " + where + ": " +
                                 (shaken ? handshake_failure(*shaken, ssl) : "timed out"));
    }
  }
  websocket::response_type response;
  const auto upgraded = impl.complete([&](auto handler) {
    impl.on_ws([&](auto& ws) {
      ws.set_option(websocket::stream_base::decorator([&headers](websocket::request_type& req) {
        req.set(http::field::user_agent, "cairn/" + std::string(kVersion));
        for (const auto& [name, value] : headers)
          req.set(name, value);
      }));
      ws.read_message_max(256 * 1024 * 1024);
      ws.async_handshake(response, where, target, std::move(handler));
    });
  });
  const bool done = upgraded.has_value();
  ec = upgraded.value_or(beast::error_code());
  if (!done || ec) {
    const int status = static_cast<int>(response.result_int());
    throw WebSocketRefused(
        ec == websocket::error::upgrade_declined ? status : 0, response.body(),
        ec == websocket::error::upgrade_declined
            ? "the server refused the upgrade with HTTP " + std::to_string(status) + ": " +
                  response.body()
            : "the WebSocket handshake failed: " + (done ? ec.message() : "timed out"));
  }
  stream.expires_never();
  websocket::stream_base::timeout timeouts =
      websocket::stream_base::timeout::suggested(beast::role_type::client);
  impl.on_ws([&](auto& ws) { ws.set_option(timeouts); });
  impl.read();
}

WebSocketClient::~WebSocketClient() = default;

void WebSocketClient::send(const std::string& text) {
  impl_->write(text, true);
}

void WebSocketClient::send_binary(const std::string& bytes) {
  impl_->write(bytes, false);
}

void WebSocketClient::ping() {
  Impl& impl = *impl_;
  if (impl.ended) throw *impl.ended;
  bool done = false;
  impl.on_ws([&](auto& ws) { ws.async_ping({}, [&](beast::error_code) { done = true; }); });
  impl.run_until([&] { return done; }, impl.timeout);
}

std::optional<std::string> WebSocketClient::receive(std::chrono::milliseconds timeout) {
  Impl& impl = *impl_;
  impl.read();
  impl.run_until(
      [&] {
        return !impl.received.empty() || impl.ended.has_value() || impl.interrupted.exchange(false);
      },
      timeout);
  if (!impl.received.empty()) {
    std::string message = std::move(impl.received.front());
    impl.received.pop_front();
    return message;
  }
  if (impl.ended) throw *impl.ended;
  return std::nullopt;
}

void WebSocketClient::close() {
  Impl& impl = *impl_;
  if (impl.ended) return;
  bool done = false;
  impl.on_ws([&](auto& ws) {
    ws.async_close(websocket::close_code::normal, [&](beast::error_code) { done = true; });
  });
  impl.run_until([&] { return done && !impl.reading; }, std::chrono::seconds(2));
}

void WebSocketClient::abort() {
  impl_->abort();
}

void WebSocketClient::interrupt() {
  impl_->interrupted = true;
  asio::post(impl_->ioc, [] {});  // wakes run_one_for, which checks again
}

}  // namespace cairn::net
