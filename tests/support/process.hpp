// Process — a child process started by a test: its stdout is a pipe the test reads line by line.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace cairn::test {

class Process {
 public:
  // Starts `argv[0]` with `argv`; stdout is captured, stderr goes to the test's stderr unless
  // `stderr_to_stdout`. With `with_stdin`, the child's stdin is a pipe write() feeds.
  explicit Process(std::vector<std::string> argv, bool stderr_to_stdout = false,
                   bool with_stdin = false);
  ~Process();  // kills (SIGKILL) and reaps the child if it is still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  int pid() const { return pid_; }
  // The next line of stdout without its newline; empty when the child closed stdout or the
  // timeout passed.
  std::optional<std::string> read_line(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void signal(int signo);
  // Writes all of `text` to the child's stdin (needs with_stdin).
  void write(const std::string& text);
  // Waits for the child to exit; returns its exit status (128 + signal when killed), or nothing
  // on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  int pid_ = -1;
  int stdout_fd_ = -1;
  int stdin_fd_ = -1;
  std::string buffer_;
  std::optional<int> status_;
};

// Runs a command to completion; returns exit status and everything it wrote to stdout and stderr.
struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};
RunResult run(const std::vector<std::string>& argv, const std::string& stdin_text = "");

}  // namespace cairn::test
