#include <fmt/format.h>

#include <cairn/clock.hpp>
#include <chrono>
#include <ctime>

namespace cairn {
namespace {

class SystemClock final : public Clock {
 public:
  std::uint64_t now_ms() override {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count());
  }
};

}  // namespace

std::shared_ptr<Clock> system_clock() {
  static const auto clock = std::make_shared<SystemClock>();
  return clock;
}

std::string Timestamp::to_string() const {
  const std::uint64_t ms = physical_ms();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::string text =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ms % 1000);
  if (logical() != 0) text += fmt::format("+{}", logical());
  return text;
}

}  // namespace cairn
