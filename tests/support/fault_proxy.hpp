// FaultProxy — a TCP proxy of our own between a client and a real cairnd, that injects the
// network's failures on demand or on a seeded schedule:
//
//   pass         forward both ways
//   refuse       close every new connection at once (the server seems down)
//   drop_before  when the client sends, close the connection: the request never reaches the server
//   drop_after   forward the request, but when the answer comes, close the connection instead: the
//                server has committed and the client never hears of it (a lost acknowledgement)
//   delay        forward after `delay`
//   stall        hold everything: the client waits until its own timeout
//
// With a schedule, every request (each chunk the client sends) draws its fate from the seeded
// generator with the given weights. Thread-safe; fault counters tell what happened.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace cairn::test {

class FaultProxy {
 public:
  enum class Mode { pass, refuse, drop_before, drop_after, delay, stall };

  struct Weights {
    int pass = 70, drop_before = 10, drop_after = 10, delay = 10, stall = 0;
  };

  explicit FaultProxy(std::uint16_t target_port);
  ~FaultProxy();

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void set_mode(Mode mode);
  // New connections go to another port (a server restarted elsewhere).
  void set_target(std::uint16_t port) { target_port_ = port; }
  void set_delay(std::chrono::milliseconds delay);
  void set_schedule(std::uint64_t seed, Weights weights);
  void clear_schedule();
  // Closes every open connection (a partition).
  void cut();

  std::uint64_t dropped_before() const { return dropped_before_; }
  std::uint64_t dropped_after() const { return dropped_after_; }

 private:
  void accept_loop();
  void serve(int client);
  Mode draw();

  std::uint16_t port_ = 0;
  std::atomic<std::uint16_t> target_port_;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<Mode> mode_{Mode::pass};
  std::atomic<std::int64_t> delay_ms_{50};
  std::mutex mutex_;
  bool scheduled_ = false;
  std::mt19937_64 random_;
  Weights weights_;
  std::vector<int> open_;  // client and server sockets of live connections
  std::vector<std::thread> threads_;
  std::thread acceptor_;
  std::atomic<std::uint64_t> dropped_before_{0}, dropped_after_{0};
};

}  // namespace cairn::test
