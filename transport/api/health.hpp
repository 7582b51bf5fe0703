#pragma once

#include "actors/health_board.hpp"
#include "transport/http/router.hpp"

namespace caa::api {

/// Adds `GET /health` (liveness), `GET /health/ready` and `GET /api/v1/health` (readiness; the
/// latter for clients of the replaced service). All public; statuses and latencies only.
void add_health_routes(http::router& r, const health_board& board);

}  // namespace caa::api
