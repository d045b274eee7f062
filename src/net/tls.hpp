// TLS for libcairn's clients (HttpClient, WebSocketClient): OpenSSL through Boost.Asio. The
// server's certificate is verified against the system's CA store (and a given CA file), for the
// host name or IP address the client connects to; nothing unverified is ever accepted.
//
// Included only by the clients' Beast translation units (Asio's SSL headers are heavy).
#pragma once

#include <boost/asio/ssl.hpp>
#include <boost/beast/core/error.hpp>
#include <memory>
#include <string>

#include "net/http_client.hpp"

namespace cairn::net {

// A client context for `tls`: TLS 1.2 or later, peers verified. Throws std::runtime_error when
// the CA file cannot be read.
std::shared_ptr<boost::asio::ssl::context> client_tls_context(const TlsOptions& tls);

// Before the handshake: asks for `host`'s certificate (SNI) and checks that the one presented is
// for it (its name, or its IP address). False when OpenSSL refuses the name.
bool expect_host(SSL* ssl, const std::string& host);

// Why a handshake failed, in words: for a certificate that does not verify, OpenSSL's reason
// ("self-signed certificate in certificate chain", "certificate has expired", ...).
std::string handshake_failure(const boost::beast::error_code& ec, SSL* ssl);

}  // namespace cairn::net
