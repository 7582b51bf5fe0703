#pragma once

#include "config/secret.hpp"
#include "transport/http/router.hpp"

#include <optional>

namespace caa::api {

/// The content type of the Prometheus text format 0.0.4.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Whether a caller presenting `bearer` may read the metrics: always without a `token`, else
/// only with exactly that token (compared in constant time).
bool metrics_allowed(const std::optional<secret>& token, const std::optional<secret>& bearer);

/// Adds `GET /metrics`: the service's metrics (config/metrics_catalog.hpp) in the Prometheus text
/// format. Public (no API key, so never rate-limited per key; rendering reads atomics only);
/// with `token` (METRICS_TOKEN) it needs `Authorization: Bearer <token>`, else 401.
void add_metrics_route(http::router& r, std::optional<secret> token);

}  // namespace caa::api
