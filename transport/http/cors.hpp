#pragma once

// CORS per `http_settings::cors_origins`: exact origin match only (scheme, host and port as the
// browser sends them in `Origin`); "*" in the list reflects "*". Disallowed origins get no CORS
// headers at all. No credentials mode: keys travel in headers, never in cookies.

#include "transport/http/types.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa::http {

/// Response headers as (name, value) pairs.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// The request headers a browser may send cross-origin.
inline constexpr std::string_view cors_allowed_headers =
    "X-API-Key, Authorization, Content-Type, Last-Event-ID, X-Correlation-ID";

/// The response headers a browser script may read.
inline constexpr std::string_view cors_exposed_headers = "X-Correlation-ID, Retry-After";

/// Decides CORS headers for requests and answers preflights.
class cors_policy {
 public:
  /// Allows exactly the origins in `origins` ("*": any origin).
  explicit cors_policy(std::vector<std::string> origins);

  /// Whether any origin is allowed at all.
  bool enabled() const noexcept { return any_ || !origins_.empty(); }

  /// The `Access-Control-Allow-Origin` value for `origin`, or nothing when refused.
  std::optional<std::string> allow_origin(std::string_view origin) const;

  /// Adds the CORS headers of an actual (non-preflight) response to `out`.
  void decorate(std::string_view origin, header_list& out) const;

  /// The 204 answer to `OPTIONS` on a known path whose methods are `allow` ("GET, POST").
  response preflight(std::string_view origin, std::string_view allow) const;

 private:
  std::vector<std::string> origins_;
  bool any_ = false;
};

}  // namespace caa::http
