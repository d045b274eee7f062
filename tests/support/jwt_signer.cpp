#include "support/jwt_signer.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <stdexcept>

#include "foundation/base64.hpp"
#include "server/auth/tokens.hpp"

namespace cairn::test {
namespace json = boost::json;
using cairn::base64url_encode;

struct JwtSigner::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

JwtSigner::JwtSigner(std::string kid) : key_(std::make_unique<Key>()), kid_(std::move(kid)) {
  key_->pkey = EVP_RSA_gen(2048);
  if (key_->pkey == nullptr) throw std::runtime_error("RSA key generation failed");
}

JwtSigner::~JwtSigner() = default;

json::value JwtSigner::jwks() const {
  const auto component = [&](const char* name) {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(key_->pkey, name, &bn);
    std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
    BN_free(bn);
    return base64url_encode(bytes);
  };
  return json::object{{"keys", json::array{json::object{{"kty", "RSA"},
                                                        {"kid", kid_},
                                                        {"alg", "RS256"},
                                                        {"use", "sig"},
                                                        {"n", component(OSSL_PKEY_PARAM_RSA_N)},
                                                        {"e", component(OSSL_PKEY_PARAM_RSA_E)}}}}};
}

std::string JwtSigner::public_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key_->pkey);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

std::string JwtSigner::sign(const json::object& claims, const std::string& kid) const {
  const std::string input =
      base64url_encode(json::serialize(
          json::object{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid.empty() ? kid_ : kid}})) +
      "." + base64url_encode(json::serialize(claims));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t length = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_->pkey);
  EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string signature(length, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  signature.resize(length);
  return input + "." + base64url_encode(signature);
}

std::string JwtSigner::sign_hs256(const json::object& claims, const std::string& secret) const {
  const std::string input = base64url_encode(json::serialize(
                                json::object{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", kid_}})) +
                            "." + base64url_encode(json::serialize(claims));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), length));
}

std::string JwtSigner::unsigned_token(const json::object& claims) const {
  return base64url_encode(
             json::serialize(json::object{{"alg", "none"}, {"typ", "JWT"}, {"kid", kid_}})) +
         "." + base64url_encode(json::serialize(claims)) + ".";
}

}  // namespace cairn::test
