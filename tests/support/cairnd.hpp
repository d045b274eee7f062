// Cairnd — a real cairnd process on a free loopback port, for black-box tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "support/http_client.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace cairn::test {

class Cairnd {
 public:
  // Starts cairnd with --port 0 --data <dir>, the test run's backend (support/postgres.hpp) and
  // `extra` arguments; waits until it listens.
  explicit Cairnd(const std::filesystem::path& data_dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {CAIRND_PATH, "--port", "0", "--data", data_dir.string()};
    for (std::string& arg : test_backend_args(data_dir))
      argv.push_back(std::move(arg));
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<Process>(argv);
    while (auto line = process_->read_line(std::chrono::seconds(20))) {
      log_ += *line + "\n";
      // listening=http://127.0.0.1:PORT, or https://
      const auto at = line->find("://127.0.0.1:", line->find("listening="));
      if (line->find("listening=") != std::string::npos && at != std::string::npos) {
        port_ = static_cast<std::uint16_t>(std::stoi(line->substr(at + 13)));
        return;
      }
    }
    ADD_FAILURE() << "cairnd did not start:\n" << log_;
  }

  std::uint16_t port() const { return port_; }
  Process& process() { return *process_; }
  HttpClient client() const { return HttpClient("127.0.0.1", port_); }
  // Everything cairnd logged so far (reads what is waiting, for up to `wait`).
  const std::string& log(std::chrono::milliseconds wait = std::chrono::milliseconds(100)) {
    while (auto line = process_->read_line(wait))
      log_ += *line + "\n";
    return log_;
  }

 private:
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
  std::string log_;
};

}  // namespace cairn::test
