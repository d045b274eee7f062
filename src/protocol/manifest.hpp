// Manifest-first hydration (docs/sync.md, "Large stores: manifests"; docs/protocol.md,
// "Manifests"). cairnd publishes each store as a manifest of content-addressed chunks: the store's
// entries in key order, cut after every key whose hash is 0 modulo the chunk span (so an edit
// changes its own chunk only, and an insert or delete at most that chunk and where it is cut). A
// device fetches the manifest with its ETag and then only the chunks it lacks, each checked against
// its hash before use. The server encodes manifests and chunks, the sync client decodes them.
//
// Decoders of the server's answers throw Error(invalid_value) naming what is wrong; the decoder
// of the chunk request (from a client) throws Refusal(invalid_request). Fuzzed by
// fuzz/manifest_fuzzer.cpp.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/sync_response.hpp"

namespace cairn::protocol {

// Chunks hold about `span` entries on average (1: each entry is its own chunk), at most
// kMaxChunkSpan (ManifestHydration::kMaxChunkEntries, which this layer does not see).
constexpr std::uint32_t kMaxChunkSpan = 4096;
// A requested span; Refusal(invalid_request) unless 1 to kMaxChunkSpan.
std::uint32_t chunk_span(std::uint64_t span);
// Chunks asked for in one request, at most.
constexpr std::size_t kMaxChunksPerRequest = 1000;

// A chunk's name: the first 16 bytes of the SHA-256 of its bytes, base64url (22 characters).
std::string chunk_hash(std::string_view bytes);
// Whether a chunk of `span` ends after the entry at `key`.
bool ends_chunk(std::string_view key, std::uint32_t span);
// A chunk's bytes: its entries, as feed items in key order, in a JSON array.
std::string encode_chunk(const std::vector<FeedItem>& items);
std::vector<FeedItem> decode_chunk(std::string_view bytes, ReplicaInterner& replicas);
// A manifest's ETag: a hash of its span and its chunks' names, whatever their order.
std::string manifest_etag(std::uint32_t span, std::vector<std::string> chunks);

// GET /api/manifest/<dataset>/<store>?span=N. In full, or, when the request's If-None-Match
// named a manifest the server still has (`base`), as the chunks added to and removed from it.
struct ManifestMessage {
  std::string store;
  std::uint32_t span = 1;
  std::string etag;
  std::uint64_t entries = 0;  // in the store, tombstones included
  std::uint64_t bytes = 0;    // of all its chunks
  std::optional<std::string> base;
  std::vector<std::string> chunks;   // full: every chunk, in key order; delta: those added
  std::vector<std::string> removed;  // delta: the base's chunks that are gone
};
std::string encode_manifest(const ManifestMessage& manifest);
ManifestMessage decode_manifest(std::string_view body);

// POST /api/manifest/<dataset>/<store>/chunks: {"span": N, "chunks": [name, ...]}.
struct ChunkRequest {
  std::uint32_t span = 1;
  std::vector<std::string> chunks;
};
std::string encode_chunk_request(const ChunkRequest& request);
ChunkRequest decode_chunk_request(const boost::json::object& body);

// The answer: each chunk the server has as "<name> <length>\n" and its bytes, one after another
// (application/octet-stream), so that the client hashes exactly the bytes it received.
void append_chunk(std::string& out, std::string_view name, std::string_view bytes);
// The chunks of an answer, as (name, bytes) views into `body`; Error(invalid_value) when it is
// malformed or a chunk's bytes do not hash to its name.
std::vector<std::pair<std::string_view, std::string_view>> split_chunks(std::string_view body);

}  // namespace cairn::protocol
