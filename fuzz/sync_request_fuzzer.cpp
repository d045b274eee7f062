// libFuzzer target: cairnd's decoding of untrusted request bodies. Any input must end in a decoded
// request or an ApiError, never a crash, hang or other exception.
//
//   build/fuzz/fuzz/sync_request_fuzzer fuzz/corpus/sync_request -max_total_time=60
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>

#include "server/api_error.hpp"
#include "server/sync_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace json = boost::json;
  json::parse_options options;
  options.max_depth = 64;
  std::error_code error;
  const json::value value =
      json::parse(std::string_view(reinterpret_cast<const char*>(data), size), error, {}, options);
  if (error || !value.is_object()) return 0;
  cairn::Limits limits;
  for (int form = 0; form < 2; ++form) {
    try {
      cairn::protocol::ReplicaInterner replicas;
      json::object body = value.get_object();  // decoding takes the values out of it
      const auto request =
          form == 0 ? cairn::server::decode_full_request(body, limits, replicas, "anon")
                    : cairn::server::decode_patch_request(body, limits, replicas, "anon");
      // Whatever decodes must encode again.
      for (const auto& change : request.changes)
        (void)cairn::protocol::change_to_json(change);
    } catch (const cairn::server::ApiError&) {
    }
  }
  return 0;
}
