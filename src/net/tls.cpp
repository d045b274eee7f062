#include "net/tls.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

namespace cairn::net {
namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> client_tls_context(const TlsOptions& tls) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  context->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  context->set_default_verify_paths(ec);  // the system's CA store
  if (!tls.ca_file.empty()) {
    context->load_verify_file(tls.ca_file, ec);
    if (ec) {
      throw std::runtime_error("cannot read the CA file '" + tls.ca_file + "': " + ec.message());
    }
  }
  return context;
}

bool expect_host(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  boost::system::error_code not_ip;
  boost::asio::ip::make_address(host, not_ip);
  if (!not_ip) return X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  return SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 &&
         X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1;
}

std::string handshake_failure(const boost::beast::error_code& ec, SSL* ssl) {
  const long verified = SSL_get_verify_result(ssl);
  if (verified != X509_V_OK) {
    return std::string("the server's certificate could not be verified: ") +
           X509_verify_cert_error_string(verified);
  }
  return "the TLS handshake failed: " + ec.message();
}

}  // namespace cairn::net
