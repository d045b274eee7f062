// HttpClient — a blocking HTTP/1.1 client over one keep-alive TCP connection, for the sync
// engine's background thread (and the tests' and benchmarks' talks with cairnd).
//
// Every request is bounded by `timeout`: connecting, sending and receiving together. A failure to
// connect, a reset, or a timeout is reported as status 0 with `error` set, never thrown; the next
// request reconnects. Not thread-safe: one thread uses a client at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace cairn::net {

struct HttpResult {
  int status = 0;     // 0: no HTTP answer (see error)
  std::string error;  // why there was no answer
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  bool certificate_rejected = false;  // status 0 because the server's certificate did not verify
};

// TLS for a client: off (plain TCP), or on with the server's certificate verified against the
// system's CA store and, when given, the CAs of `ca_file` (PEM).
struct TlsOptions {
  bool enabled = false;
  std::string ca_file;
};

class HttpClient {
 public:
  // With `tls.enabled`, HTTPS: a certificate that does not verify fails the request (status 0,
  // `error` says why). Throws std::runtime_error when the CA file cannot be read.
  HttpClient(std::string host, std::uint16_t port,
             std::chrono::milliseconds timeout = std::chrono::seconds(30), TlsOptions tls = {});
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});
  // Sends `bytes` as they are and reads one response (for malformed-request tests).
  HttpResult send_raw(const std::string& bytes);
  // Drops the connection (the next request opens a new one).
  void disconnect();
  // From another thread: breaks off the request in flight, which then fails at once.
  void abort();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::net
