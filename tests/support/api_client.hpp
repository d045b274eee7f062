// ApiClient — talks JSON to a running cairnd as one user: a keep-alive connection, the user's
// bearer token, and parsed responses.
#pragma once

#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/http_client.hpp"

namespace cairn::test {

struct ApiResult {
  int status = 0;
  boost::json::value body;  // null when the body is empty or not JSON
  std::map<std::string, std::string> headers;

  const boost::json::value& at(std::string_view name) const { return body.at(name); }
  std::string error_code() const {
    const auto* object = body.if_object();
    const auto* error = object ? object->if_contains("error") : nullptr;
    return error ? std::string(error->at("code").as_string()) : std::string();
  }
};

class ApiClient {
 public:
  ApiClient(std::uint16_t port, std::string token = {})
      : http_("127.0.0.1", port), token_(std::move(token)) {}

  // Creates a guest and keeps its token.
  static ApiClient guest(std::uint16_t port) {
    ApiClient client(port);
    const ApiResult session = client.post_text("/api/auth/guest", "");
    client.token_ = std::string(session.at("token").as_string());
    client.user_id_ = std::string(session.at("userId").as_string());
    client.dataset_id_ = std::string(session.at("datasetId").as_string());
    return client;
  }

  ApiResult post(const std::string& target, const boost::json::value& body) {
    return call("POST", target, boost::json::serialize(body));
  }
  ApiResult post_text(const std::string& target, const std::string& raw_body) {
    return call("POST", target, raw_body);
  }
  ApiResult get(const std::string& target) { return call("GET", target, ""); }
  ApiResult del(const std::string& target) { return call("DELETE", target, ""); }

  ApiResult call(const std::string& method, const std::string& target, const std::string& body) {
    std::map<std::string, std::string> headers;
    if (!token_.empty()) headers["Authorization"] = "Bearer " + token_;
    const HttpResult raw = http_.request(method, target, body, headers);
    capture(target, body, raw.body);
    ApiResult result{raw.status, nullptr, raw.headers};
    std::error_code error;
    if (!raw.body.empty()) {
      result.body = boost::json::parse(raw.body, error);
      if (error) result.body = nullptr;
    }
    return result;
  }

  const std::string& token() const { return token_; }
  void set_token(std::string token) { token_ = std::move(token); }
  const std::string& user_id() const { return user_id_; }
  const std::string& dataset_id() const { return dataset_id_; }

 private:
  // With CAIRN_CAPTURE_DIR set, every body exchanged is kept there (<dir>/request/,
  // <dir>/response/) to seed the fuzzers' corpora with the messages the tests really exchange
  // (fuzz/README.md).
  static void capture(const std::string& target, const std::string& request,
                      const std::string& response) {
    static const char* dir = std::getenv("CAIRN_CAPTURE_DIR");
    if (dir == nullptr || target.rfind("/api/", 0) != 0) return;
    static std::atomic<int> counter{0};
    const std::string name = std::to_string(::getpid()) + "-" + std::to_string(counter++);
    for (const auto& [kind, bytes] : {std::pair{"request", &request}, {"response", &response}}) {
      if (bytes->empty()) continue;
      std::filesystem::create_directories(std::filesystem::path(dir) / kind);
      std::ofstream(std::filesystem::path(dir) / kind / name, std::ios::binary) << *bytes;
    }
  }

  HttpClient http_;
  std::string token_;
  std::string user_id_;
  std::string dataset_id_;
};

}  // namespace cairn::test
