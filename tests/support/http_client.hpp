// HttpClient — a blocking HTTP/1.1 client over one keep-alive TCP connection, for black-box tests
// of cairnd. send_raw writes arbitrary bytes, for malformed-request tests.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace cairn::test {

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

class HttpClient {
 public:
  HttpClient(std::string host, std::uint16_t port);
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});
  // Sends `bytes` as they are and reads one response (status 0 when the server just closed).
  HttpResult send_raw(const std::string& bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::test
