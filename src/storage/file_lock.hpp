// FileLock — the one-writer-per-database rule, across threads and processes.
//
// A writable open takes an exclusive, non-blocking flock(2) on "<database>-lock" and holds it until
// the Database closes. A second writable open, from this process or another, fails at once with
// Error(database_locked) instead of corrupting the first writer's in-memory view. The lock is
// released by the kernel when the process dies, so a crash never leaves a stale lock behind.
#pragma once

#include <filesystem>

namespace cairn {

class FileLock {
 public:
  // Throws Error(database_locked) when another writer holds it, Error(io_error) when the lock
  // file cannot be created.
  explicit FileLock(const std::filesystem::path& database);
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  ~FileLock();

 private:
  int fd_ = -1;
};

}  // namespace cairn
