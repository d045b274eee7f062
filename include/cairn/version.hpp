// cairn/version.hpp — the library's version.
#pragma once

#include <string_view>

namespace cairn {

inline constexpr std::string_view kVersion = "0.1.0";

}  // namespace cairn
