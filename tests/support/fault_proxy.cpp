#include "support/fault_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace cairn::test {

namespace {

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

FaultProxy::FaultProxy(std::uint16_t target_port) : target_port_(target_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener_, 128) != 0) {
    throw std::runtime_error("the proxy cannot listen");
  }
  socklen_t length = sizeof address;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  ::shutdown(listener_, SHUT_RDWR);
  ::close(listener_);
  acceptor_.join();
  cut();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (auto& thread : threads)
    thread.join();
}

void FaultProxy::set_mode(Mode mode) {
  mode_ = mode;
}

void FaultProxy::set_delay(std::chrono::milliseconds delay) {
  delay_ms_ = delay.count();
}

void FaultProxy::set_schedule(std::uint64_t seed, Weights weights) {
  std::lock_guard lock(mutex_);
  random_.seed(seed);
  weights_ = weights;
  scheduled_ = true;
}

void FaultProxy::clear_schedule() {
  std::lock_guard lock(mutex_);
  scheduled_ = false;
}

void FaultProxy::cut() {
  std::lock_guard lock(mutex_);
  for (int fd : open_)
    ::shutdown(fd, SHUT_RDWR);
}

FaultProxy::Mode FaultProxy::draw() {
  std::lock_guard lock(mutex_);
  if (!scheduled_) return mode_.load();
  const int total =
      weights_.pass + weights_.drop_before + weights_.drop_after + weights_.delay + weights_.stall;
  int pick = static_cast<int>(random_() % static_cast<std::uint64_t>(std::max(total, 1)));
  for (auto [mode, weight] :
       {std::pair{Mode::pass, weights_.pass}, std::pair{Mode::drop_before, weights_.drop_before},
        std::pair{Mode::drop_after, weights_.drop_after}, std::pair{Mode::delay, weights_.delay},
        std::pair{Mode::stall, weights_.stall}}) {
    if (pick < weight) return mode;
    pick -= weight;
  }
  return Mode::pass;
}

void FaultProxy::accept_loop() {
  while (!stopping_) {
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (stopping_) return;
      continue;
    }
    if (mode_ == Mode::refuse) {
      ::close(client);
      continue;
    }
    std::lock_guard lock(mutex_);
    threads_.emplace_back([this, client] { serve(client); });
  }
}

// Pumps one connection both ways, applying the fault drawn for each request the client sends.
void FaultProxy::serve(int client) {
  const int server = connect_to(target_port_);
  if (server < 0) {
    ::close(client);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    open_.push_back(client);
    open_.push_back(server);
  }
  Mode fate = Mode::pass;  // of the request in flight on this connection
  char buffer[64 * 1024];
  bool open = true;
  while (open && !stopping_) {
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    if (::poll(fds, 2, 100) <= 0) continue;
    for (int side = 0; side < 2 && open; ++side) {
      if (!(fds[side].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::recv(fds[side].fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        open = false;
        break;
      }
      if (side == 0) {  // the client sends: decide this request's fate
        fate = draw();
        if (fate == Mode::drop_before) {
          ++dropped_before_;
          open = false;
          break;
        }
        if (fate == Mode::stall) {
          // Hold the request: while the proxy is set to stall, or (on a schedule) for four times
          // the delay. A client that gives up meanwhile closes its side.
          const auto until =
              std::chrono::steady_clock::now() + 4 * std::chrono::milliseconds(delay_ms_.load());
          while (!stopping_) {
            if (mode_ != Mode::stall && std::chrono::steady_clock::now() >= until) break;
            pollfd check{client, POLLIN, 0};
            char probe;
            if (::poll(&check, 1, 20) > 0) {
              if (::recv(client, &probe, 1, MSG_PEEK) <= 0) {
                open = false;
                break;
              }
              std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
          }
        }
        if (!open) break;
        if (fate == Mode::delay) {
          std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
        }
        if (!send_all(server, buffer, static_cast<std::size_t>(n))) open = false;
      } else {  // the server answers
        if (fate == Mode::drop_after || mode_ == Mode::drop_after) {
          ++dropped_after_;
          open = false;
          break;
        }
        if (!send_all(client, buffer, static_cast<std::size_t>(n))) open = false;
      }
    }
  }
  {
    std::lock_guard lock(mutex_);
    std::erase(open_, client);
    std::erase(open_, server);
  }
  ::close(client);
  ::close(server);
}

}  // namespace cairn::test
