// libFuzzer target: Google ID token verification on arbitrary input. Any input must end in an
// identity or a protocol::Refusal (invalid_id_token), never a crash, hang or other exception.
//
//   build/fuzz/fuzz/id_token_fuzzer fuzz/corpus/id_token -max_total_time=60
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>

#include "protocol/errors.hpp"
#include "server/auth/google_id_token.hpp"

namespace {

// A real 2048-bit RSA modulus is not needed to exercise the decoding; any well-formed key is.
const cairn::server::GoogleIdTokenVerifier& verifier() {
  static const cairn::server::GoogleIdTokenVerifier instance(
      boost::json::parse(R"({"keys": [{"kty": "RSA", "kid": "k", "alg": "RS256",
        "n": "sXchPoUrf2LGjXCRsSbXc5dHvQSmXaF3dK2zT4RycXGOrMyg0nEy6d0Pwm3qVYaEfQY4Sd6JbbnJ1yT8Gt3EXMyQ1b6U4pGyOAAkMSIhwhGvl0WUYGjpahkL8MyLR0mBG7AhcA_JTJWxCa2M7SOl4HxbHRsFQf7FRw5D4JNMFl8jBXLrxzMPc06LOHb0BXT44f7bwyWjMOQzv9Xe7JKYdJ3Odyq0AJ9bdAYQDM8zbrQqHN2SANW1v6aUjt6qmrhRgLyXFH-aa47YEEB1mOqOzf95b2g5wNpA9PjDNpkbk52VXmUYJbOK5LhUNYSBCeMkdSNaT-bfh6jtm5oXtC5qVGQ",
        "e": "AQAB"}]})"),
      "client");
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    verifier().verify(std::string_view(reinterpret_cast<const char*>(data), size), 1'700'000'000);
  } catch (const cairn::protocol::Refusal&) {
  }
  return 0;
}
