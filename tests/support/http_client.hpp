// The tests speak HTTP with libcairn's own client (src/net/http_client.hpp).
#pragma once

#include "net/http_client.hpp"

namespace cairn::test {

using net::HttpClient;
using net::HttpResult;

}  // namespace cairn::test
