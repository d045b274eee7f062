#include "server/auth/tokens.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cairn/error.hpp>
#include <vector>

#include "foundation/base64.hpp"

namespace cairn::server {

namespace {

std::string random_bytes(std::size_t count) {
  std::string bytes(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1) {
    throw Error(ErrorCode::io_error, "cannot draw random bytes");
  }
  return bytes;
}

}  // namespace

std::string new_token() {
  return base64url_encode(random_bytes(32));
}

std::string token_hash(std::string_view token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(token.data(), token.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorCode::io_error, "SHA-256 failed");
  }
  std::string hex;
  for (unsigned int i = 0; i < length; ++i)
    hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string random_id(std::size_t bytes) {
  std::string hex;
  for (unsigned char b : random_bytes(bytes))
    hex += fmt::format("{:02x}", b);
  return hex;
}

}  // namespace cairn::server
