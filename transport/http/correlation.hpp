#pragma once

#include <string>
#include <string_view>

namespace caa::http {

/// Whether `x` may be echoed as `X-Correlation-ID`: `[A-Za-z0-9._-]{1,64}`.
bool is_sane_correlation_id(std::string_view x) noexcept;

/// A new random correlation id: a UUID v4 from OpenSSL's CSPRNG.
std::string new_correlation_id();

/// `presented` if it is sane, else a new id.
std::string correlation_id_for(std::string_view presented);

}  // namespace caa::http
