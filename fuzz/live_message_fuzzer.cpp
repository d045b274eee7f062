// libFuzzer target: the live channel's messages (protocol/live), both ways. Any frame must end in
// a decoded message or the documented error — protocol::Refusal for what a client sends,
// cairn::Error for what a server sends — never a crash, hang or other exception; whatever decodes
// must encode again.
//
//   build/fuzz/fuzz/live_message_fuzzer fuzz/corpus/live_message -max_total_time=60
#include <cairn/error.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/live.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace protocol = cairn::protocol;
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  try {
    (void)protocol::encode_client_message(protocol::decode_client_message(frame));
  } catch (const protocol::Refusal&) {
  }
  try {
    (void)protocol::encode_server_message(protocol::decode_server_message(frame));
  } catch (const cairn::Error&) {
  }
  return 0;
}
