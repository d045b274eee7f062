#include "protocol/manifest.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cairn/error.hpp>
#include <charconv>
#include <cstring>

#include "foundation/base64.hpp"
#include "foundation/json_text.hpp"
#include "protocol/answer.hpp"
#include "protocol/errors.hpp"

namespace cairn::protocol {
namespace json = boost::json;

namespace {

constexpr std::size_t kHashBytes = 16;
constexpr std::size_t kNameLength = 22;  // 16 bytes in base64url

std::string sha256(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorCode::io_error, "SHA-256 failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

bool is_chunk_name(std::string_view name) {
  return name.size() == kNameLength && std::all_of(name.begin(), name.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
         });
}

std::vector<std::string> names_member(const json::object& object, std::string_view name) {
  const json::array* items = required_member(object, name, "a manifest").if_array();
  if (items == nullptr) invalid_answer(fmt::format("a manifest's \"{}\" must be an array", name));
  std::vector<std::string> names;
  names.reserve(items->size());
  for (const auto& item : *items) {
    if (!item.is_string() || !is_chunk_name(item.get_string())) {
      invalid_answer(fmt::format("a manifest's \"{}\" holds something not a chunk name", name));
    }
    names.emplace_back(item.get_string());
  }
  return names;
}

json::array names_to_json(const std::vector<std::string>& names) {
  json::array array;
  array.reserve(names.size());
  for (const auto& name : names)
    array.emplace_back(name);
  return array;
}

}  // namespace

std::uint32_t chunk_span(std::uint64_t span) {
  if (span < 1 || span > kMaxChunkSpan) {
    throw Refusal(Code::invalid_request,
                  fmt::format("\"span\" must be an integer from 1 to {}", kMaxChunkSpan));
  }
  return static_cast<std::uint32_t>(span);
}

std::string chunk_hash(std::string_view bytes) {
  return base64url_encode(sha256(bytes).substr(0, kHashBytes));
}

bool ends_chunk(std::string_view key, std::uint32_t span) {
  if (span <= 1) return true;
  const std::string digest = sha256(key);
  std::uint32_t word = 0;
  std::memcpy(&word, digest.data(), sizeof word);
  return word % span == 0;
}

std::string encode_chunk(const std::vector<FeedItem>& items) {
  json::array array;
  array.reserve(items.size());
  for (const FeedItem& item : items)
    array.push_back(feed_item_to_json(item));
  return json_text(array);
}

std::vector<FeedItem> decode_chunk(std::string_view bytes, ReplicaInterner& replicas) {
  std::error_code error;
  const json::value value = json::parse(bytes, error);
  if (error || !value.is_array()) invalid_answer("a chunk must be a JSON array of feed items");
  std::vector<FeedItem> items;
  items.reserve(value.get_array().size());
  for (const auto& item : value.get_array())
    items.push_back(feed_item_from_json(item, replicas));
  return items;
}

std::string manifest_etag(std::uint32_t span, std::vector<std::string> chunks) {
  std::sort(chunks.begin(), chunks.end());
  std::string text = std::to_string(span);
  for (const auto& chunk : chunks) {
    text += '\n';
    text += chunk;
  }
  return chunk_hash(text);
}

std::string encode_manifest(const ManifestMessage& manifest) {
  json::object object{{"store", manifest.store},
                      {"span", manifest.span},
                      {"etag", manifest.etag},
                      {"entries", manifest.entries},
                      {"bytes", manifest.bytes}};
  if (manifest.base) {
    object["base"] = *manifest.base;
    object["added"] = names_to_json(manifest.chunks);
    object["removed"] = names_to_json(manifest.removed);
  } else {
    object["chunks"] = names_to_json(manifest.chunks);
  }
  return json_text(object);
}

ManifestMessage decode_manifest(std::string_view body) {
  const json::object object = parse_answer(body, "a manifest");
  ManifestMessage manifest;
  manifest.store = required_text(object, "store", "a manifest");
  const auto span = exact_integer<std::uint32_t>(required_member(object, "span", "a manifest"));
  if (!span || *span < 1 || *span > kMaxChunkSpan) invalid_answer("a manifest's span is invalid");
  manifest.span = *span;
  manifest.etag = required_text(object, "etag", "a manifest");
  const auto entries =
      exact_integer<std::uint64_t>(required_member(object, "entries", "a manifest"));
  const auto bytes = exact_integer<std::uint64_t>(required_member(object, "bytes", "a manifest"));
  if (!entries || !bytes) invalid_answer("a manifest's \"entries\" and \"bytes\" must be counts");
  manifest.entries = *entries;
  manifest.bytes = *bytes;
  if (object.contains("base")) {
    manifest.base = required_text(object, "base", "a manifest");
    manifest.chunks = names_member(object, "added");
    manifest.removed = names_member(object, "removed");
  } else {
    manifest.chunks = names_member(object, "chunks");
  }
  return manifest;
}

std::string encode_chunk_request(const ChunkRequest& request) {
  return json_text(json::object{{"span", request.span}, {"chunks", names_to_json(request.chunks)}});
}

ChunkRequest decode_chunk_request(const json::object& body) {
  ChunkRequest request;
  const json::value* span = body.if_contains("span");
  const json::value* chunks = body.if_contains("chunks");
  if (span == nullptr || chunks == nullptr || !chunks->is_array()) {
    throw Refusal(Code::invalid_request, "expected {\"span\": N, \"chunks\": [name, ...]}");
  }
  const auto number = exact_integer<std::uint64_t>(*span);
  request.span = chunk_span(number.value_or(0));
  if (chunks->get_array().size() > kMaxChunksPerRequest) {
    throw Refusal(Code::invalid_request,
                  fmt::format("at most {} chunks per request", kMaxChunksPerRequest));
  }
  for (const auto& chunk : chunks->get_array()) {
    if (!chunk.is_string() || !is_chunk_name(chunk.get_string())) {
      throw Refusal(Code::invalid_request, "each chunk is named by 22 characters of base64url");
    }
    request.chunks.emplace_back(chunk.get_string());
  }
  return request;
}

void append_chunk(std::string& out, std::string_view name, std::string_view bytes) {
  out += fmt::format("{} {}\n", name, bytes.size());
  out += bytes;
}

std::vector<std::pair<std::string_view, std::string_view>> split_chunks(std::string_view body) {
  std::vector<std::pair<std::string_view, std::string_view>> chunks;
  while (!body.empty()) {
    const std::size_t line_end = body.find('\n');
    if (line_end == std::string_view::npos || line_end <= kNameLength + 1 ||
        body[kNameLength] != ' ') {
      invalid_answer("the chunks' answer is malformed");
    }
    const std::string_view name = body.substr(0, kNameLength);
    const std::string_view digits = body.substr(kNameLength + 1, line_end - kNameLength - 1);
    std::size_t length = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (error != std::errc() || end != digits.data() + digits.size() || !is_chunk_name(name) ||
        length > body.size() - line_end - 1) {
      invalid_answer("the chunks' answer is malformed");
    }
    const std::string_view bytes = body.substr(line_end + 1, length);
    if (chunk_hash(bytes) != name) {
      invalid_answer(fmt::format("chunk {} does not match its hash", name));
    }
    chunks.emplace_back(name, bytes);
    body.remove_prefix(line_end + 1 + length);
  }
  return chunks;
}

}  // namespace cairn::protocol
