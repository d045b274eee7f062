// GoogleIdTokenVerifier — checks a Google ID token (a JWT) without calling Google: the RS256
// signature against configured JWKS keys (matched by `kid`), then `iss`, `aud`, `exp`, `iat` and
// `nbf` with a small leeway. Only RS256 is accepted, so tokens with "alg": "none" or signed with
// HMAC using the public key as a secret are refused.
//
// Thread-safe after construction.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace cairn::server {

struct GoogleIdentity {
  std::string subject;  // `sub`: Google's stable id for the account
  std::string email;
};

class GoogleIdTokenVerifier {
 public:
  // `jwks` is {"keys": [{"kty": "RSA", "kid", "n", "e", ...}]}; throws std::runtime_error when it
  // holds no usable key.
  GoogleIdTokenVerifier(const boost::json::value& jwks, std::string client_id,
                        std::chrono::seconds leeway = std::chrono::seconds(60));
  static GoogleIdTokenVerifier from_file(const std::filesystem::path& jwks_file,
                                         std::string client_id);
  ~GoogleIdTokenVerifier();
  GoogleIdTokenVerifier(GoogleIdTokenVerifier&&) noexcept;

  // Throws protocol::Refusal(invalid_id_token) unless the token is valid at `now_seconds`.
  GoogleIdentity verify(std::string_view id_token, std::int64_t now_seconds) const;

 private:
  struct Keys;
  std::unique_ptr<Keys> keys_;
  std::string client_id_;
  std::chrono::seconds leeway_;
};

}  // namespace cairn::server
