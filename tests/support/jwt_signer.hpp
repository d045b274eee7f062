// JwtSigner — a test's own Google: an RSA key pair made with OpenSSL, its JWKS, and ID tokens
// signed with it (or forged in the ways attackers try).
#pragma once

#include <boost/json.hpp>
#include <memory>
#include <string>

namespace cairn::test {

class JwtSigner {
 public:
  explicit JwtSigner(std::string kid = "test-key");
  ~JwtSigner();

  // {"keys": [{"kty": "RSA", "kid", "alg": "RS256", "use": "sig", "n", "e"}]}
  boost::json::value jwks() const;
  // The public key in PEM, as an attacker would use it for an HS256 secret.
  std::string public_pem() const;

  // header.payload.signature with RS256.
  std::string sign(const boost::json::object& claims, const std::string& kid = "") const;
  // HS256 over the same input with `secret` as the HMAC key.
  std::string sign_hs256(const boost::json::object& claims, const std::string& secret) const;
  // "alg": "none" with an empty signature.
  std::string unsigned_token(const boost::json::object& claims) const;

 private:
  struct Key;
  std::unique_ptr<Key> key_;
  std::string kid_;
};

}  // namespace cairn::test
