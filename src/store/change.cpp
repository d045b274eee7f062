#include <cairn/change.hpp>

namespace cairn {

std::string_view origin_name(Origin origin) noexcept {
  switch (origin) {
    case Origin::local:
      return "local";
    case Origin::remote:
      return "remote";
    case Origin::migration:
      return "migration";
  }
  return "unknown";
}

}  // namespace cairn
