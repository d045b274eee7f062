// libFuzzer target: the sync client's decoding of what a server answers (protocol/sync_response,
// protocol/session, protocol/errors). A client must not trust its server's bytes either: any
// input must end in a decoded message or a cairn::Error, never a crash, hang or other exception;
// whatever decodes must encode again.
//
//   build/fuzz/fuzz/sync_response_fuzzer fuzz/corpus/sync_response -max_total_time=60
#include <cairn/error.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/errors.hpp"
#include "protocol/session.hpp"
#include "protocol/sync_response.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace protocol = cairn::protocol;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    const protocol::PatchResponse response = protocol::decode_patch_response(body);
    (void)protocol::encode_patch_response(response);
  } catch (const cairn::Error&) {
  }
  try {
    (void)protocol::encode_session(protocol::decode_session(body));
  } catch (const cairn::Error&) {
  }
  try {
    (void)protocol::encode_user(protocol::decode_user(body));
  } catch (const cairn::Error&) {
  }
  if (const auto error = protocol::decode_error_body(body)) {
    (void)protocol::error_body(protocol::Code::internal, error->message, error->details);
  }
  return 0;
}
