// libFuzzer target: manifest-first hydration's decoders (protocol/manifest). The sync client reads
// manifests and chunk answers from its server; the server reads chunk requests from clients. Any
// input must end in a decoded message or a cairn::Error (a Refusal, for the request), never a
// crash, hang or other exception; whatever decodes must encode again.
//
//   build/clang/fuzz/manifest_fuzzer fuzz/corpus/manifest -max_total_time=60
#include <boost/json.hpp>
#include <cairn/error.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/errors.hpp"
#include "protocol/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace protocol = cairn::protocol;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    (void)protocol::encode_manifest(protocol::decode_manifest(body));
  } catch (const cairn::Error&) {
  }
  try {
    for (const auto& [name, bytes] : protocol::split_chunks(body)) {
      protocol::ReplicaInterner replicas;
      (void)protocol::encode_chunk(protocol::decode_chunk(bytes, replicas));
    }
  } catch (const cairn::Error&) {
  }
  try {
    protocol::ReplicaInterner replicas;
    (void)protocol::encode_chunk(protocol::decode_chunk(body, replicas));
  } catch (const cairn::Error&) {
  }
  std::error_code error;
  const boost::json::value json = boost::json::parse(body, error);
  if (!error && json.is_object()) {
    try {
      (void)protocol::encode_chunk_request(protocol::decode_chunk_request(json.get_object()));
    } catch (const protocol::Refusal&) {
    }
  }
  return 0;
}
