#include "server/auth/google_id_token.hpp"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "foundation/base64.hpp"
#include "protocol/errors.hpp"
#include "server/auth/tokens.hpp"

namespace cairn::server {
namespace json = boost::json;
using protocol::Code;
using protocol::Refusal;

namespace {

[[noreturn]] void refuse(const std::string& why) {
  throw Refusal(Code::invalid_id_token, why);
}

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// An RSA public key from the JWK's base64url modulus and exponent.
Pkey rsa_key(std::string_view n64, std::string_view e64) {
  std::string n, e;
  if (!base64url_decode(n64, n) || !base64url_decode(e64, e) || n.empty() || e.empty()) {
    return nullptr;
  }
  BIGNUM* modulus = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                              static_cast<int>(n.size()), nullptr);
  BIGNUM* exponent = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                               static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* build = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  if (modulus && exponent && build && ctx &&
      OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_N, modulus) == 1 &&
      OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_E, exponent) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(build)) != nullptr && EVP_PKEY_fromdata_init(ctx) == 1) {
    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(build);
  BN_free(modulus);
  BN_free(exponent);
  return Pkey(key);
}

json::object decode_part(std::string_view part, std::string_view what) {
  std::string bytes;
  if (!base64url_decode(part, bytes)) refuse(fmt::format("the {} is not base64url", what));
  std::error_code error;
  json::value value = json::parse(bytes, error);
  if (error || !value.is_object()) refuse(fmt::format("the {} is not a JSON object", what));
  return std::move(value.get_object());
}

std::int64_t time_claim(const json::object& claims, std::string_view name, bool required) {
  const json::value* value = claims.if_contains(name);
  if (value == nullptr) {
    if (required) refuse(fmt::format("the token has no \"{}\"", name));
    return 0;
  }
  if (!value->is_number()) refuse(fmt::format("\"{}\" is not a number", name));
  std::error_code error;
  const auto seconds = value->to_number<std::int64_t>(error);
  if (error) refuse(fmt::format("\"{}\" is not a time", name));
  return seconds;
}

}  // namespace

struct GoogleIdTokenVerifier::Keys {
  std::map<std::string, Pkey, std::less<>> by_kid;
};

GoogleIdTokenVerifier::GoogleIdTokenVerifier(const json::value& jwks, std::string client_id,
                                             std::chrono::seconds leeway)
    : keys_(std::make_unique<Keys>()), client_id_(std::move(client_id)), leeway_(leeway) {
  const json::object* root = jwks.if_object();
  const json::value* keys = root ? root->if_contains("keys") : nullptr;
  if (keys == nullptr || !keys->is_array()) {
    throw std::runtime_error("a JWKS is {\"keys\": [...]}");
  }
  for (const auto& item : keys->get_array()) {
    const json::object* key = item.if_object();
    if (key == nullptr) continue;
    const auto text = [&](std::string_view name) -> std::string_view {
      const json::value* v = key->if_contains(name);
      return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
    };
    if (text("kty") != "RSA" || text("kid").empty()) continue;
    if (!text("alg").empty() && text("alg") != "RS256") continue;
    if (Pkey pkey = rsa_key(text("n"), text("e"))) {
      keys_->by_kid.emplace(std::string(text("kid")), std::move(pkey));
    }
  }
  if (keys_->by_kid.empty()) throw std::runtime_error("the JWKS holds no usable RS256 key");
  if (client_id_.empty()) throw std::runtime_error("a Google client id is required");
}

GoogleIdTokenVerifier GoogleIdTokenVerifier::from_file(const std::filesystem::path& jwks_file,
                                                       std::string client_id) {
  std::ifstream in(jwks_file);
  if (!in) throw std::runtime_error("cannot read JWKS file '" + jwks_file.string() + "'");
  std::stringstream text;
  text << in.rdbuf();
  std::error_code error;
  json::value jwks = json::parse(text.str(), error);
  if (error) throw std::runtime_error("JWKS file '" + jwks_file.string() + "' is not JSON");
  return GoogleIdTokenVerifier(jwks, std::move(client_id));
}

GoogleIdTokenVerifier::~GoogleIdTokenVerifier() = default;
GoogleIdTokenVerifier::GoogleIdTokenVerifier(GoogleIdTokenVerifier&&) noexcept = default;

GoogleIdentity GoogleIdTokenVerifier::verify(std::string_view token,
                                             std::int64_t now_seconds) const {
  if (token.size() > 16 * 1024) refuse("the token is too long");
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    refuse("a JWT has three dot-separated parts");
  }
  const json::object header = decode_part(token.substr(0, first), "header");
  const json::object claims = decode_part(token.substr(first + 1, second - first - 1), "payload");
  std::string signature;
  if (!base64url_decode(token.substr(second + 1), signature) || signature.empty()) {
    refuse("the signature is missing or not base64url");
  }

  const json::value* alg = header.if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->get_string() != "RS256") {
    refuse("only RS256 tokens are accepted");
  }
  const json::value* kid = header.if_contains("kid");
  if (kid == nullptr || !kid->is_string()) refuse("the token names no key (kid)");
  auto key = keys_->by_kid.find(std::string_view(kid->get_string()));
  if (key == keys_->by_kid.end()) refuse("the token was signed with an unknown key");

  const std::string_view signed_part = token.substr(0, second);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool valid =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key->second.get()) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!valid) refuse("the signature does not verify");

  const json::value* iss = claims.if_contains("iss");
  if (iss == nullptr || !iss->is_string() ||
      (iss->get_string() != "accounts.google.com" &&
       iss->get_string() != "https://accounts.google.com")) {
    refuse("the issuer is not Google");
  }
  const json::value* aud = claims.if_contains("aud");
  if (aud == nullptr || !aud->is_string() || aud->get_string() != client_id_) {
    refuse("the token is for another audience");
  }
  const std::int64_t leeway = leeway_.count();
  if (time_claim(claims, "exp", true) < now_seconds - leeway) refuse("the token has expired");
  if (time_claim(claims, "iat", true) > now_seconds + leeway) refuse("the token is not valid yet");
  if (claims.contains("nbf") && time_claim(claims, "nbf", false) > now_seconds + leeway) {
    refuse("the token is not valid yet");
  }
  const json::value* sub = claims.if_contains("sub");
  if (sub == nullptr || !sub->is_string() || sub->get_string().empty()) {
    refuse("the token names no subject");
  }
  GoogleIdentity identity{std::string(sub->get_string()), {}};
  if (const json::value* email = claims.if_contains("email"); email && email->is_string()) {
    identity.email = email->get_string();
  }
  return identity;
}

}  // namespace cairn::server
