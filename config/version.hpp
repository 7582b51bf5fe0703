#pragma once

#include <string_view>

namespace caa {

/// The service's version, as reported by `/health`.
std::string_view version() noexcept;

}  // namespace caa
