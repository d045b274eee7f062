#include "storage/file_lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cairn/error.hpp>
#include <cerrno>
#include <cstring>
#include <utility>

namespace cairn {

FileLock::FileLock(const std::filesystem::path& database) {
  const std::string lock_path = database.string() + "-lock";
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw Error(ErrorCode::io_error,
                fmt::format("cannot create lock file '{}': {}", lock_path, std::strerror(errno)));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd_);
    fd_ = -1;
    if (error == EWOULDBLOCK) {
      throw Error(ErrorCode::database_locked,
                  fmt::format("'{}' is open for writing by another Database (in this or another "
                              "process); open it read-only or close the other one",
                              database.string()));
    }
    throw Error(ErrorCode::io_error,
                fmt::format("cannot lock '{}': {}", lock_path, std::strerror(error)));
  }
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace cairn
