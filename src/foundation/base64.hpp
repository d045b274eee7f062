// Base64 (RFC 4648): the standard alphabet, padded, as JavaScript's btoa writes it (documents'
// states and updates in JSON), and base64url without padding, as JWTs and tokens use it.
// Decoders take untrusted text and say whether it was well formed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cairn {

std::string base64_encode(std::string_view bytes);
// Padding is optional; whitespace and any other character is malformed.
std::optional<std::string> base64_decode(std::string_view text);

std::string base64url_encode(std::string_view bytes);
bool base64url_decode(std::string_view text, std::string& bytes);

}  // namespace cairn
