#include "config/version.hpp"

namespace caa {

std::string_view version() noexcept {
  return "0.1.0";
}

}  // namespace caa
