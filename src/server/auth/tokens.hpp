// Bearer tokens: 256 random bits, handed to the client once and stored only as a SHA-256 hash.
#pragma once

#include <string>
#include <string_view>

namespace cairn::server {

// A fresh token: 32 random bytes (OpenSSL's RAND_bytes) in unpadded base64url (43 characters).
std::string new_token();
// The hex SHA-256 of a token, as the server stores and looks it up.
std::string token_hash(std::string_view token);
// n random bytes as hex, for identifiers (user and dataset ids).
std::string random_id(std::size_t bytes = 12);

}  // namespace cairn::server
