// libFuzzer target: cairnd's decoding of untrusted request bodies (protocol/sync_request, and the
// account routes' bodies in protocol/datasets), and of the change feed's ?versions= parameter.
// Any input must end in a decoded request or a protocol::Refusal, never a crash, hang or other
// exception; whatever decodes must encode again.
//
//   build/fuzz/fuzz/sync_request_fuzzer fuzz/corpus/sync_request -max_total_time=60
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>

#include "protocol/datasets.hpp"
#include "protocol/errors.hpp"
#include "protocol/sync_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace json = boost::json;
  namespace protocol = cairn::protocol;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)protocol::versions_from_query(text);
  } catch (const protocol::Refusal&) {
  }
  json::parse_options options;
  options.max_depth = 64;
  std::error_code error;
  const json::value value = json::parse(text, error, {}, options);
  if (error || !value.is_object()) return 0;
  cairn::Limits limits;
  (void)protocol::request_writes(value.get_object());
  try {
    (void)protocol::request_dataset(value.get_object());
  } catch (const protocol::Refusal&) {
  }
  for (int form = 0; form < 2; ++form) {
    try {
      protocol::ReplicaInterner replicas;
      json::object body = value.get_object();  // decoding takes the values out of it
      const protocol::SyncRequest request =
          form == 0 ? protocol::decode_full_request(body, limits, replicas, "anon")
                    : protocol::decode_patch_request(body, limits, replicas, "anon");
      for (const auto& change : request.changes)
        (void)protocol::change_to_json(change);
    } catch (const protocol::Refusal&) {
    }
  }
  try {
    (void)protocol::decode_member_request(value.get_object());
    (void)protocol::decode_dataset_name(value.get_object());
    (void)protocol::decode_id_token(value.get_object());
  } catch (const protocol::Refusal&) {
  }
  return 0;
}
