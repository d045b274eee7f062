// InProcessCairnd — the real cairnd Server on a free loopback port, run on a thread of the test,
// for tests that inject what a process cannot take from the outside: a manual clock, a change
// feed subscriber. Clients still talk to it over TCP.
#pragma once

#include <thread>

#include "server/server.hpp"
#include "support/postgres.hpp"

namespace cairn::test {

class InProcessCairnd {
 public:
  // `options.http.port` is set to 0 (a free port), the storage to the test run's backend
  // (support/postgres.hpp).
  explicit InProcessCairnd(server::ServerOptions options)
      : server_(with_free_port(std::move(options))), thread_([this] { server_.run(); }) {}
  ~InProcessCairnd() {
    server_.stop();
    thread_.join();
  }
  InProcessCairnd(const InProcessCairnd&) = delete;
  InProcessCairnd& operator=(const InProcessCairnd&) = delete;

  std::uint16_t port() const { return server_.port(); }
  server::Server& server() { return server_; }

 private:
  static server::ServerOptions with_free_port(server::ServerOptions options) {
    options.http.port = 0;
    use_test_backend(options.storage);
    return options;
  }

  server::Server server_;
  std::thread thread_;
};

}  // namespace cairn::test
