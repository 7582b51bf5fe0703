#pragma once

// The edge's two log calls, kept behind this small seam so the HTTP code states only what it
// logs: allow-listed fields, never a key, an auth header, a query string or a body. Backed by
// config/logging.hpp (JSON lines).

#include "config/logging.hpp"

#include <optional>
#include <string_view>

namespace caa::http {

/// The one log record of a finished request (allow-listed fields only).
struct request_summary {
  std::string_view method;          ///< "GET", ...; "-" when the request line was unusable
  std::string_view route;           ///< the route template, or "-" when no route matched
  unsigned status = 0;              ///< the HTTP status sent (0: connection closed without one)
  double duration_ms = 0;           ///< from the first byte of the request to the last byte sent
  std::string_view correlation_id;  ///< the X-Correlation-ID sent
  std::string_view tenant_id;       ///< empty unless authenticated
  std::string_view client_ip;       ///< peer, or the right-most untrusted X-Forwarded-For hop
};

/// Logs the summary of one finished request as one JSON line (info).
inline void log_request(const request_summary& s) {
  caa::log::info("request",
                 {.component = "http",
                  .correlation_id = s.correlation_id,
                  .method = s.method,
                  .route = s.route,
                  .status = s.status,
                  .duration_ms = s.duration_ms,
                  .tenant_id = s.tenant_id.empty() ? std::nullopt
                                                   : std::optional<std::string_view>{s.tenant_id},
                  .client_ip = s.client_ip});
}

/// Logs an internal error (`what`: a fixed description or an internal error rendering).
inline void log_error(std::string_view what, std::string_view correlation_id) {
  caa::log::error("http error",
                  {.component = "http", .correlation_id = correlation_id, .detail = what});
}

}  // namespace caa::http
